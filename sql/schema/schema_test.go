package schema_test

import (
	"context"
	"database/sql"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/pgtest"
	"github.com/bulwarkdb/bulwark/sql/schema"
)

// catalogSnapshot describes everything the migrations create that matters
// for enforcement: functions with their settings and ACLs, triggers with
// their enabled state, constraints, table ACLs and the seeded data.
const catalogSnapshot = `
SELECT 'function ' || p.oid::regprocedure::text
       || ' definer=' || p.prosecdef
       || ' owner=' || pg_catalog.pg_get_userbyid(p.proowner)
       || ' config=' || coalesce(p.proconfig::text, '')
       || ' acl=' || coalesce(p.proacl::text, '')
FROM pg_catalog.pg_proc AS p
WHERE p.pronamespace::regnamespace::text IN ('bulwark', 'app')
UNION ALL
SELECT 'trigger ' || t.tgrelid::regclass::text || '.' || t.tgname || ' enabled=' || t.tgenabled::text
FROM pg_catalog.pg_trigger AS t
WHERE NOT t.tgisinternal AND t.tgrelid::regclass::text ~ '^(bulwark|app)\.'
UNION ALL
SELECT 'constraint ' || c.conrelid::regclass::text || '.' || c.conname || ' ' || pg_catalog.pg_get_constraintdef(c.oid)
FROM pg_catalog.pg_constraint AS c
WHERE c.connamespace::regnamespace::text IN ('bulwark', 'app')
UNION ALL
SELECT 'relation ' || c.oid::regclass::text || ' owner=' || pg_catalog.pg_get_userbyid(c.relowner) || ' acl=' || coalesce(c.relacl::text, '')
FROM pg_catalog.pg_class AS c
WHERE c.relnamespace::regnamespace::text IN ('bulwark', 'app') AND c.relkind IN ('r', 'v')
UNION ALL
SELECT 'capability ' || name || ': ' || description FROM bulwark.capabilities
UNION ALL
SELECT 'grant ' || role || ' ' || capability FROM bulwark.role_capabilities
UNION ALL
SELECT 'transition ' || machine || ' ' || name || ' ' || from_state || '>' || to_state FROM bulwark.transitions
UNION ALL
SELECT 'principal ' || name || ' ' || kind FROM bulwark.principals
UNION ALL
SELECT 'contract ' || relation::text || '.' || name || ' ' || kind || ' ' || definition FROM bulwark.contract_constraints
UNION ALL
SELECT 'checksum ' || line || ' ' || version || ' ' || path || ' ' || checksum FROM bulwark.migration_checksums
UNION ALL
SELECT 'relation ' || c.oid::regclass::text || ' owner=' || pg_catalog.pg_get_userbyid(c.relowner) || ' acl=' || coalesce(c.relacl::text, '')
FROM pg_catalog.pg_class AS c
WHERE c.relnamespace::regnamespace::text = 'river' AND c.relkind IN ('r', 'v')
UNION ALL
SELECT 'callable ' || function::text || ' ' || coalesce(capability, '') FROM bulwark.callable_functions
ORDER BY 1`

func snapshot(t *testing.T, ctx context.Context, url string) []string {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, catalogSnapshot)
	require.NoError(t, err)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return lines
}

func openDB(t *testing.T, url string) *sql.DB {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestMigrationsRoundTrip rolls each line back to zero, with the lines
// that require it, and up again, and requires the database to end exactly
// as it began.
func TestMigrationsRoundTrip(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	examples := schema.Examples()
	for i, line := range examples {
		t.Run(line.Name(), func(t *testing.T) {
			t.Parallel()

			url := pgtest.NewDatabase(t)
			before := snapshot(t, ctx, url)
			require.NotEmpty(t, before)
			db := openDB(t, url)

			// The line and those after it (which require it) go down.
			down := examples[i:]
			for range 2 {
				_, err := schema.Reset(ctx, db, down...)
				require.NoError(t, err)
				statuses, err := schema.Status(ctx, db, examples...)
				require.NoError(t, err)
				for _, s := range statuses {
					applied := s.State == goose.StateApplied
					require.Equal(t, !slices.Contains(down, lineOf(examples, s.Line)), applied, "%s %d", s.Line, s.Source.Version)
				}
				if line.Name() == schema.LineCore {
					var left int
					require.NoError(t, db.QueryRowContext(ctx,
						`SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname IN ('bulwark', 'app', 'river')`).Scan(&left))
					require.Zero(t, left, "down to zero leaves no schema of bulwark's")
				}

				// Up again, twice over (Down works after an Up that
				// followed a Down). Timestamps and OIDs differ; the
				// snapshot has neither.
				_, err = schema.Up(ctx, db, examples...)
				require.NoError(t, err)
				require.Equal(t, before, snapshot(t, ctx, url))
			}
		})
	}
}

// lineOf returns the line of lines named name.
func lineOf(lines []*schema.Line, name string) *schema.Line {
	for _, l := range lines {
		if l.Name() == name {
			return l
		}
	}
	return nil
}

// TestMigrationsSecurity checks the migrated catalog for the rules every
// SECURITY DEFINER function and guarded table must follow.
func TestMigrationsSecurity(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	conn := connect(t)

	t.Run("FunctionsPinSearchPathWithPgTempLast", func(t *testing.T) {
		rows, err := conn.Query(ctx, `
			SELECT p.oid::regprocedure::text, coalesce(p.proconfig::text, '')
			FROM pg_catalog.pg_proc AS p
			WHERE p.pronamespace::regnamespace::text IN ('bulwark', 'app')`)
		require.NoError(t, err)
		type fn struct{ Name, Config string }
		fns, err := pgx.CollectRows(rows, pgx.RowToStructByPos[fn])
		require.NoError(t, err)
		require.NotEmpty(t, fns)
		for _, f := range fns {
			require.Contains(t, f.Config, "search_path=pg_catalog, pg_temp", f.Name)
		}
	})

	t.Run("NoExecuteForPublic", func(t *testing.T) {
		var names []string
		rows, err := conn.Query(ctx, `
			SELECT p.oid::regprocedure::text
			FROM pg_catalog.pg_proc AS p
			WHERE p.pronamespace::regnamespace::text IN ('bulwark', 'app')
			  AND pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE')`)
		require.NoError(t, err)
		names, err = pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		require.Empty(t, names)
	})

	// bulwark_owner owns the typed API and the helpers; bulwark_engine owns
	// the code that writes guarded tables (generated engines, grant and
	// declaration functions). Nobody else owns a definer.
	t.Run("DefinerFunctionsOwnedByOwner", func(t *testing.T) {
		rows, err := conn.Query(ctx, `
			SELECT p.oid::regprocedure::text
			FROM pg_catalog.pg_proc AS p
			WHERE p.pronamespace::regnamespace::text IN ('bulwark', 'app')
			  AND (p.prosecdef AND pg_catalog.pg_get_userbyid(p.proowner) NOT IN ('bulwark_owner', 'bulwark_engine'))`)
		require.NoError(t, err)
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		require.Empty(t, names)
	})

	t.Run("AppRolesHoldNoDMLOnBoundaryTables", func(t *testing.T) {
		rows, err := conn.Query(ctx, `
			SELECT r.rolname || ' ' || p.priv || ' ' || c.oid::regclass::text
			FROM pg_catalog.pg_class AS c
			CROSS JOIN (VALUES ('bulwark_app'), ('bulwark_jobs')) AS r (rolname)
			CROSS JOIN (VALUES ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE')) AS p (priv)
			WHERE c.relnamespace::regnamespace::text IN ('bulwark', 'app') AND c.relkind = 'r'
			  AND pg_catalog.has_table_privilege(r.rolname, c.oid, p.priv)`)
		require.NoError(t, err)
		grants, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		require.Empty(t, grants)
	})

	t.Run("GuardedTablesRegistered", func(t *testing.T) {
		var relations []string
		rows, err := conn.Query(ctx, `SELECT relation::text FROM bulwark.guarded_tables ORDER BY 1`)
		require.NoError(t, err)
		relations, err = pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		require.Equal(t, []string{"app.article_schedules", "app.articles"}, relations)
	})

	t.Run("BootstrapIsAdmin", func(t *testing.T) {
		var caps []string
		rows, err := conn.Query(ctx, `
			SELECT capability FROM bulwark.principal_capabilities
			WHERE principal_id = bulwark.principal_id('bootstrap') ORDER BY 1`)
		require.NoError(t, err)
		caps, err = pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		require.Equal(t, []string{
			"article.archive", "article.create", "article.edit", "article.publish", "article.review",
			"article.schedule", "article.submit", "principal.create", "role.grant", "role.revoke",
		}, caps)
	})
}

const (
	plpgsqlCheckPackage = "postgresql-<major>-plpgsql-check"
	requirePlpgsqlCheck = "BULWARK_REQUIRE_PLPGSQL_CHECK"
)

// TestPlpgsqlCheck runs the plpgsql_check static analyzer over every
// PL/pgSQL function, trigger functions against each table they are attached
// to, and fails on any error or warning.
func TestPlpgsqlCheck(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	conn := connect(t)

	var available bool
	require.NoError(t, conn.QueryRow(ctx,
		`SELECT EXISTS (SELECT FROM pg_catalog.pg_available_extensions WHERE name = 'plpgsql_check')`).Scan(&available))
	if !available {
		// An optional analyzer, not the database: skipped where it is not
		// installed, unless the environment requires it (CI does).
		if os.Getenv(requirePlpgsqlCheck) != "" {
			t.Fatalf("plpgsql_check is not installed: apt-get install %s (%s is set)", plpgsqlCheckPackage, requirePlpgsqlCheck)
		}
		t.Skipf("plpgsql_check is not installed (apt-get install %s); set %s=1 to make this a failure", plpgsqlCheckPackage, requirePlpgsqlCheck)
	}
	_, err := conn.Exec(ctx, `CREATE EXTENSION plpgsql_check`)
	require.NoError(t, err)

	rows, err := conn.Query(ctx, `
		WITH targets AS (
			SELECT p.oid AS fn, coalesce(t.tgrelid, 0) AS rel
			FROM pg_catalog.pg_proc AS p
			JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang AND l.lanname = 'plpgsql'
			LEFT JOIN pg_catalog.pg_trigger AS t ON t.tgfoid = p.oid AND NOT t.tgisinternal
			WHERE p.pronamespace::regnamespace::text IN ('bulwark', 'app')
			  -- A trigger function attached nowhere cannot be checked alone.
			  AND (p.prorettype <> 'pg_catalog.trigger'::pg_catalog.regtype OR t.tgrelid IS NOT NULL)
		)
		SELECT DISTINCT targets.fn::regprocedure::text || ' on ' || targets.rel::regclass::text
		       || ': ' || c.level || ' ' || coalesce(c.sqlstate, '') || ' ' || c.message
		FROM targets
		CROSS JOIN LATERAL plpgsql_check_function_tb(targets.fn, targets.rel,
			fatal_errors => false, extra_warnings => true, security_warnings => true) AS c
		WHERE c.level IN ('error', 'warning', 'warning extra', 'security')`)
	require.NoError(t, err)
	findings, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Empty(t, findings, strings.Join(findings, "\n"))

	var checked int
	require.NoError(t, conn.QueryRow(ctx, `
		SELECT count(*) FROM pg_catalog.pg_proc AS p
		JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang AND l.lanname = 'plpgsql'
		WHERE p.pronamespace::regnamespace::text IN ('bulwark', 'app')`).Scan(&checked))
	require.Greater(t, checked, 20, "every PL/pgSQL function is in scope")
}
