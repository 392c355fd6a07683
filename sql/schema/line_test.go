package schema_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/drift"
	"github.com/bulwarkdb/bulwark/internal/pgtest"
	"github.com/bulwarkdb/bulwark/sql/schema"
	"github.com/bulwarkdb/bulwark/verify"
)

// billingDown undoes the README's second domain (secondDomainSQL), as its
// migration's Down would.
const billingDown = `
SET LOCAL ROLE bulwark_owner;
SELECT bulwark.unguard('billing.invoices');
DROP SCHEMA billing CASCADE;
SELECT bulwark.undeclare_machine('invoice');
-- +goose StatementBegin
DO $down$
BEGIN
    PERFORM bulwark.maintenance_begin('billing down: remove the invoice domain');
    DELETE FROM bulwark.principal_roles WHERE role = 'accountant';
    DELETE FROM bulwark.role_capabilities WHERE capability LIKE 'invoice.%';
    DELETE FROM bulwark.roles WHERE name = 'accountant';
    DELETE FROM bulwark.capabilities WHERE name LIKE 'invoice.%';
    PERFORM bulwark.maintenance_end();
END
$down$;
-- +goose StatementEnd
RESET ROLE;
`

// billingFS is a team's own line of one migration: the README's second
// domain, with a Down.
func billingFS(t *testing.T) fstest.MapFS {
	t.Helper()
	// The snippet's function bodies are dollar-quoted: one statement each.
	up := secondDomainSQL(t)
	var b strings.Builder
	b.WriteString("-- +goose Up\n")
	for _, stmt := range strings.SplitAfter(up, ";\n") {
		if strings.Contains(stmt, "$$") {
			b.WriteString("-- +goose StatementBegin\n" + strings.TrimLeft(stmt, "\n") + "-- +goose StatementEnd\n")
			continue
		}
		b.WriteString(stmt)
	}
	b.WriteString("\n-- +goose Down\n" + billingDown)
	return fstest.MapFS{"00001_billing.sql": {Data: []byte(b.String())}}
}

func TestLines(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	own := func(t *testing.T, fsys fstest.MapFS, opts *schema.OwnOpts) *schema.Line {
		t.Helper()
		l, err := schema.Own(fsys, opts)
		require.NoError(t, err)
		return l
	}
	notes := fstest.MapFS{"00001_notes.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 1;\n")}}

	t.Run("OwnRefusesBadInput", func(t *testing.T) {
		t.Parallel()

		for name, opts := range map[string]*schema.OwnOpts{
			"UpperCaseName":        {Name: "Billing"},
			"BuiltinName":          {Name: schema.LineCore},
			"UnqualifiedTable":     {VersionTable: "goose_db_version"},
			"QuotedTable":          {VersionTable: `public."Versions"`},
			"BuiltinVersionTable":  {VersionTable: schema.VersionTableArticles},
			"TooLongName":          {Name: strings.Repeat("a", 64)},
			"TableWithThreeDots":   {VersionTable: "a.b.c"},
			"EmptyTableComponents": {VersionTable: "."},
		} {
			_, err := schema.Own(notes, opts)
			var lineErr *schema.LineError
			require.ErrorAs(t, err, &lineErr, name)
		}
		_, err := schema.Own(nil, nil)
		var lineErr *schema.LineError
		require.ErrorAs(t, err, &lineErr, "no migrations at all")

		l := own(t, notes, nil)
		require.Equal(t, schema.DefaultOwnName, l.Name())
		require.Equal(t, schema.DefaultVersionTable, l.VersionTable())
		require.Equal(t, []string{schema.LineCore}, l.Requires())
		require.Equal(t, []string{schema.LineCore, schema.LineRiver}, own(t, notes, &schema.OwnOpts{RequiresRiver: true}).Requires())
	})

	t.Run("UpRefusesBadOrder", func(t *testing.T) {
		t.Parallel()

		// No database: Up refuses before it connects.
		db := openDB(t, "postgres://nobody@127.0.0.1:1/nothing?sslmode=disable&connect_timeout=1")
		for _, tc := range []struct {
			lines    []*schema.Line
			line     string
			requires string
		}{
			{[]*schema.Line{schema.Core(), schema.Articles()}, schema.LineArticles, schema.LineRiver},
			{[]*schema.Line{schema.River(), schema.Core()}, schema.LineRiver, schema.LineCore},
			{[]*schema.Line{own(t, notes, nil)}, schema.DefaultOwnName, schema.LineCore},
			{[]*schema.Line{schema.Core(), own(t, notes, &schema.OwnOpts{RequiresRiver: true})}, schema.DefaultOwnName, schema.LineRiver},
		} {
			_, err := schema.Up(ctx, db, tc.lines...)
			var reqErr *schema.RequirementError
			require.ErrorAs(t, err, &reqErr)
			require.Equal(t, &schema.RequirementError{Line: tc.line, Requires: tc.requires}, reqErr)
		}

		for name, lines := range map[string][]*schema.Line{
			"None":               nil,
			"Nil":                {schema.Core(), nil},
			"Twice":              {schema.Core(), schema.Core()},
			"SharedVersionTable": {schema.Core(), own(t, notes, nil), own(t, notes, &schema.OwnOpts{Name: "other"})},
			"SameName":           {schema.Core(), own(t, notes, nil), own(t, notes, &schema.OwnOpts{VersionTable: "public.other_version"})},
		} {
			_, err := schema.Up(ctx, db, lines...)
			var lineErr *schema.LineError
			require.ErrorAs(t, err, &lineErr, name)
		}
	})

	// The core cannot go down under River or the articles, nor River under
	// the articles: their version tables would claim tables that are gone.
	t.Run("DownRefusesUnderDependents", func(t *testing.T) {
		t.Parallel()

		url := pgtest.NewDatabase(t)
		db := openDB(t, url)
		before := snapshot(t, ctx, url)
		for _, tc := range []struct {
			line      *schema.Line
			dependent string
		}{
			{schema.Core(), schema.LineRiver},
			{schema.River(), schema.LineArticles},
		} {
			var depErr *schema.DependentError
			_, err := schema.Down(ctx, db, tc.line)
			require.ErrorAs(t, err, &depErr)
			require.Equal(t, &schema.DependentError{Line: tc.line.Name(), Dependent: tc.dependent}, depErr)
			_, err = schema.Redo(ctx, db, tc.line)
			require.ErrorAs(t, err, &depErr)
			_, err = schema.DownTo(ctx, db, tc.line, 0)
			require.ErrorAs(t, err, &depErr)
			_, err = schema.Reset(ctx, db, tc.line)
			require.ErrorAs(t, err, &depErr)
		}
		require.Equal(t, before, snapshot(t, ctx, url), "a refused down changes nothing")
	})

	t.Run("NeverMigratedWritesNothing", func(t *testing.T) {
		t.Parallel()

		url := pgtest.EmptyDatabase(t)
		db := openDB(t, url)
		lines := append(schema.Examples(), own(t, notes, nil))
		statuses, err := schema.Status(ctx, db, lines...)
		require.NoError(t, err)
		require.NotEmpty(t, statuses)
		for _, s := range statuses {
			require.Equal(t, goose.StatePending, s.State)
		}
		for _, l := range lines {
			_, err := schema.Down(ctx, db, l)
			require.ErrorIs(t, err, schema.ErrNothingApplied)
			_, err = schema.Redo(ctx, db, l)
			require.ErrorIs(t, err, schema.ErrNothingApplied)
		}
		_, err = schema.Reset(ctx, db, lines...)
		require.NoError(t, err)
		var relations int
		require.NoError(t, db.QueryRowContext(ctx, `
			SELECT count(*) FROM pg_catalog.pg_class AS c
			WHERE c.relnamespace::regnamespace::text NOT IN ('pg_catalog', 'information_schema', 'pg_toast')`).Scan(&relations))
		require.Zero(t, relations)
	})
}

// TestOwnLine runs a team's own line beside bulwark's: the README's second
// domain as a goose migration, recorded, verified and rolled back.
func TestOwnLine(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	type testBundle struct {
		conn *pgx.Conn
		line *schema.Line
		url  string
	}

	setup := func(t *testing.T) *testBundle {
		t.Helper()
		url := pgtest.NewDatabase(t)
		line, err := schema.Own(billingFS(t), &schema.OwnOpts{Name: "billing"})
		require.NoError(t, err)
		results, err := schema.Up(ctx, openDB(t, url), append(schema.Examples(), line)...)
		require.NoError(t, err)
		require.Len(t, results, 1, "the built-in lines were migrated")
		require.Equal(t, "billing", results[0].Line)
		conn, err := pgx.Connect(ctx, url)
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
		return &testBundle{conn: conn, line: line, url: url}
	}

	failures := func(t *testing.T, bundle *testBundle, lines ...*schema.Line) []string {
		t.Helper()
		report, err := verify.Run(ctx, bundle.conn, &verify.Opts{Lines: lines, MigrationRoles: drift.MigrationRoles(t, bundle.url, nil, "")})
		require.NoError(t, err)
		return report.Failures()
	}

	t.Run("RoundTrips", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		db := openDB(t, bundle.url)
		before := snapshot(t, ctx, bundle.url)
		require.Contains(t, before, "checksum billing 1 00001_billing.sql "+mustSum(t, bundle.line, 1))

		for range 2 {
			results, err := schema.DownTo(ctx, db, bundle.line, 0)
			require.NoError(t, err)
			require.Len(t, results, 1)
			var left int
			require.NoError(t, bundle.conn.QueryRow(ctx, `
				SELECT (SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname = 'billing')
				     + (SELECT count(*) FROM bulwark.migration_checksums WHERE line = 'billing')`).Scan(&left))
			require.Zero(t, left)
			require.Empty(t, failures(t, bundle, bundle.line))

			_, err = schema.Up(ctx, db, schema.Core(), bundle.line)
			require.NoError(t, err)
			require.Equal(t, before, snapshot(t, ctx, bundle.url))
			require.Empty(t, failures(t, bundle, bundle.line))
		}
	})

	// The team's line is found by its recorded checksums: the core stays
	// up while it is applied.
	t.Run("CoreStaysUnderIt", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		db := openDB(t, bundle.url)
		// River stays up under it too: the line could be using River's
		// tables, and only its checksums are recorded.
		_, err := schema.Reset(ctx, db, schema.River(), schema.Articles())
		var depErr *schema.DependentError
		require.ErrorAs(t, err, &depErr)
		require.Equal(t, &schema.DependentError{Line: schema.LineRiver, Dependent: "billing"}, depErr)
		_, err = schema.Reset(ctx, db, schema.River(), schema.Articles(), bundle.line)
		require.NoError(t, err)
		_, err = schema.Up(ctx, db, schema.Core(), bundle.line)
		require.NoError(t, err)
		_, err = schema.Down(ctx, db, schema.Core())
		require.ErrorAs(t, err, &depErr)
		require.Equal(t, &schema.DependentError{Line: schema.LineCore, Dependent: "billing"}, depErr)

		_, err = schema.Reset(ctx, db, schema.Core(), bundle.line)
		require.NoError(t, err)
		migrated, err := schema.Core().Migrated(ctx, db)
		require.NoError(t, err)
		require.True(t, migrated, "the version table stays")
		var left int
		require.NoError(t, bundle.conn.QueryRow(ctx,
			`SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname IN ('bulwark', 'billing')`).Scan(&left))
		require.Zero(t, left)
	})

	t.Run("VerifyComparesTheLine", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		require.Empty(t, failures(t, bundle, bundle.line))
		// Without the line, verify says it was not given a line the
		// database recorded: its files go unchecked.
		require.Equal(t, []string{"migrations line billing"}, failures(t, bundle))

		edited := billingFS(t)
		edited["00001_billing.sql"] = &fstest.MapFile{Data: append(edited["00001_billing.sql"].Data, "-- edited\n"...)}
		empty := fstest.MapFS{"00002_later.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n")}}
		for _, tc := range []struct {
			fsys fstest.MapFS
			opts *schema.OwnOpts
			want []string
		}{
			{edited, &schema.OwnOpts{Name: "billing"}, []string{"migrations billing/00001_billing.sql"}},
			{empty, &schema.OwnOpts{Name: "billing"}, []string{"migrations billing version 1"}},
			{billingFS(t), &schema.OwnOpts{Name: "other"}, []string{"migrations other/00001_billing.sql", "migrations line billing"}},
			{billingFS(t), &schema.OwnOpts{Name: "billing", VersionTable: "public.billing_version"}, []string{"migrations public.billing_version"}},
		} {
			line, err := schema.Own(tc.fsys, tc.opts)
			require.NoError(t, err)
			require.Equal(t, tc.want, failures(t, bundle, line))
		}
	})
}

// mustSum returns the checksum of version of line.
func mustSum(t *testing.T, line *schema.Line, version int64) string {
	t.Helper()
	sums, err := line.Checksums()
	require.NoError(t, err)
	for _, s := range sums {
		if s.Version == version {
			return s.Sum
		}
	}
	t.Fatalf("line %s has no version %d", line.Name(), version)
	return ""
}
