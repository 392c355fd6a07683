package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/pgtest"
	"github.com/bulwarkdb/bulwark/sql/schema"
)

// emptyDatabase creates a database that was never migrated (a copy of
// template0) on the test server and returns its URL, which connects as the
// migration role. It is dropped in t's Cleanup.
func emptyDatabase(t *testing.T) string {
	t.Helper()
	ctx := context.Background()

	// A migrated database only to reach the server as the migration role.
	serverURL := pgtest.NewDatabase(t)
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := "bulwark_empty_" + hex.EncodeToString(b[:])

	execSQL(t, serverURL, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0")
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, serverURL)
		require.NoError(t, err)
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		require.NoError(t, err)
	})

	u, err := url.Parse(serverURL)
	require.NoError(t, err)
	u.Path, u.RawPath = "/"+name, ""
	return u.String()
}

// execSQL runs sql on a connection of its own to dbURL.
func execSQL(t *testing.T, dbURL, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	require.NoError(t, err)
}

// userRelations returns how many tables, views, sequences and the like the
// database of dbURL holds outside the system schemas.
func userRelations(t *testing.T, dbURL string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var n int
	require.NoError(t, conn.QueryRow(ctx, `
		SELECT count(*)
		FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')`,
	).Scan(&n))
	return n
}

// appliedVersions returns the migrations goose records as applied in the
// built-in lines of the database of dbURL, as "line version", newest
// first.
func appliedVersions(t *testing.T, dbURL string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var out []string
	for _, l := range slices.Backward(schema.Examples()) {
		var exists bool
		require.NoError(t, conn.QueryRow(ctx, `SELECT pg_catalog.to_regclass($1) IS NOT NULL`, l.VersionTable()).Scan(&exists))
		if !exists {
			continue
		}
		rows, err := conn.Query(ctx, `SELECT $1 || ' ' || version_id FROM `+l.VersionTable()+` WHERE is_applied AND version_id > 0 ORDER BY id DESC`, l.Name())
		require.NoError(t, err)
		versions, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		out = append(out, versions...)
	}
	return out
}

// rollBackOne rolls back the newest migration of the article line of the
// database of dbURL, as the migration role, so that `migrate up
// --with-examples` has work to do.
func rollBackOne(t *testing.T, dbURL string) {
	t.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	require.NoError(t, err)
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	_, err = schema.Down(context.Background(), db, schema.Articles())
	require.NoError(t, err)
}

// resetAll rolls every built-in line of the database of dbURL back to
// zero, leaving the version tables.
func resetAll(t *testing.T, dbURL string) {
	t.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	require.NoError(t, err)
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	_, err = schema.Reset(context.Background(), db, schema.Examples()...)
	require.NoError(t, err)
}

// openSQLT opens dbURL with database/sql for a test, closed in its
// Cleanup.
func openSQLT(t *testing.T, dbURL string) *sql.DB {
	t.Helper()
	db, err := openSQL(dbURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// notesMigration is a team's own migration: a table of its own.
const notesMigration = `-- +goose Up
CREATE TABLE public.notes (id bigint PRIMARY KEY);
-- +goose Down
DROP TABLE public.notes;
`

func TestMigrateCommand(t *testing.T) {
	t.Parallel()

	// The core cannot go down under River and the articles: down without
	// their flags says which flag brings them, and changes nothing.
	t.Run("DownRefusesUnderExamples", func(t *testing.T) {
		t.Parallel()

		url := pgtest.NewDatabase(t)
		before := appliedVersions(t, url)
		for _, tc := range []struct {
			args []string
			want string
		}{
			{args: []string{"migrate", "down"}, want: "line river is applied and requires line core: roll it back first (pass --with-river to roll River back first)"},
			{args: []string{"migrate", "redo", "--with-river"}, want: "line articles is applied and requires line river: roll it back first (pass --with-examples to roll the article domain back first)"},
		} {
			res := runCLI(t, append(tc.args, "--database-url", url)...)
			require.Equal(t, exitUsage, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
			require.Contains(t, res.stderr, tc.want)
			require.Equal(t, before, appliedVersions(t, url))
		}
	})

	// A team's own migrations: a line of their own, in goose's default
	// version table unless named, listed, verified and rolled back with
	// --migrations DIR or $BULWARK_MIGRATIONS.
	t.Run("OwnMigrations", func(t *testing.T) {
		url := emptyDatabase(t)
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "00001_notes.sql"), []byte(notesMigration), 0o600))
		roles := roleFlags(t, url, nil)

		res := runCLI(t, append([]string{"migrate", "up", "--migrations", dir, "--database-url", url}, roles...)...)
		require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		require.Regexp(t, `(?m)^up +core +00001 00001_bulwark_core\.sql +ok`, res.stdout)
		require.Regexp(t, `(?m)^up +own +00001 00001_notes\.sql +ok`, res.stdout)
		require.Regexp(t, `(?m)^ok: all \d+ checks passed`, res.stdout)

		res = runCLI(t, "migrate", "status", "--migrations", dir, "--database-url", url)
		require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		require.Regexp(t, `(?m)^own +00001 +applied +\S+ \S+ +00001_notes\.sql$`, res.stdout)

		// A file changed after it was applied is drift, for verify.
		require.NoError(t, os.WriteFile(filepath.Join(dir, "00001_notes.sql"), []byte(notesMigration+"-- edited\n"), 0o600))
		res = runCLI(t, append([]string{"verify", "--migrations", dir, "--database-url", url}, roles...)...)
		require.Equal(t, exitDrift, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		require.Regexp(t, `(?m)^migrations +FAIL +own/00001_notes\.sql `, res.stdout)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "00001_notes.sql"), []byte(notesMigration), 0o600))

		// Down rolls back the last line first, then refuses the core
		// while the team's line is applied.
		res = runCLI(t, "migrate", "down", "--migrations", dir, "--database-url", url)
		require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		require.Regexp(t, `(?m)^down +own +00001 00001_notes\.sql +ok`, res.stdout)
		var notes *string
		require.NoError(t, openSQLT(t, url).QueryRow(`SELECT pg_catalog.to_regclass('public.notes')::text`).Scan(&notes))
		require.Nil(t, notes)

		res = runCLI(t, append([]string{"migrate", "up", "--migrations", dir, "--version-table", "public.team_version", "--line-name", "team", "--database-url", url}, roles...)...)
		require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		require.Regexp(t, `(?m)^up +team +00001 00001_notes\.sql +ok`, res.stdout)
		res = runCLI(t, "migrate", "down", "--database-url", url)
		require.Equal(t, exitUsage, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		require.Contains(t, res.stderr, "line team is applied and requires line core: roll it back first (pass that line's --migrations DIR to roll it back first)")
	})

	// A team's file that goose cannot parse is bad input, found before
	// connecting: up, redo and status exit 2 naming the line and the file,
	// and a database never migrated stays empty (up would otherwise apply
	// the core before it reached the team's line).
	t.Run("BadFileExitsTwoAndMigratesNothing", func(t *testing.T) {
		t.Parallel()

		url := emptyDatabase(t)
		for name, tc := range map[string]struct {
			file string
			sql  string
		}{
			"MissingUpAnnotation": {file: "00002_tags.sql", sql: "CREATE TABLE public.tags (id bigint PRIMARY KEY);\n"},
			"OpenStatementBegin":  {file: "00002_touch.sql", sql: "-- +goose Up\n-- +goose StatementBegin\nCREATE FUNCTION public.touch() RETURNS void LANGUAGE sql AS $$ SELECT 1 $$;\n"},
		} {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "00001_notes.sql"), []byte(notesMigration), 0o600))
			require.NoError(t, os.WriteFile(filepath.Join(dir, tc.file), []byte(tc.sql), 0o600))
			for _, sub := range []string{"up", "redo", "status"} {
				res := runCLI(t, "migrate", sub, "--with-examples", "--migrations", dir, "--line-name", "team", "--database-url", url)
				require.Equal(t, exitUsage, res.code, "%s %s\nstdout:\n%s\nstderr:\n%s", name, sub, res.stdout, res.stderr)
				require.Empty(t, res.stdout, "%s %s", name, sub)
				require.Contains(t, res.stderr, "bulwark migrate: schema: line team: migration "+tc.file+": ", "%s %s", name, sub)
				require.Contains(t, res.stderr, "(nothing was run: fix the file, then run again)", "%s %s", name, sub)
				require.Zero(t, userRelations(t, url), "%s: migrate %s wrote to the database", name, sub)
			}
		}
	})

	// status lists the lines it is given, and names every other line the
	// database has applied, with the flags that bring it in.
	t.Run("StatusNamesAppliedLinesNotGiven", func(t *testing.T) {
		t.Parallel()

		url := pgtest.NewDatabase(t)
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "00001_notes.sql"), []byte(notesMigration), 0o600))
		res := runCLI(t, "migrate", "up", "--with-examples", "--migrations", dir, "--line-name", "team", "--database-url", url, "--no-verify")
		require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)

		const (
			river    = "line river is applied in this database but not listed: pass --with-river to include it\n"
			articles = "line articles is applied in this database but not listed: pass --with-examples to include it\n"
			team     = "line team is applied in this database but not listed: pass --migrations DIR --line-name team (and its --version-table, unless public.goose_db_version) to include it\n"
		)
		for _, tc := range []struct {
			args []string
			want []string
		}{
			{args: nil, want: []string{articles, river, team}},
			{args: []string{"--with-river"}, want: []string{articles, team}},
			{args: []string{"--with-examples"}, want: []string{team}},
			{args: []string{"--with-examples", "--migrations", dir, "--line-name", "team"}, want: nil},
		} {
			res := runCLI(t, append([]string{"migrate", "status", "--database-url", url}, tc.args...)...)
			require.Equal(t, 0, res.code, "%v\nstdout:\n%s\nstderr:\n%s", tc.args, res.stdout, res.stderr)
			require.Regexp(t, `(?m)^core +00001 +applied `, res.stdout, "%v", tc.args)
			var got []string
			for _, line := range strings.SplitAfter(res.stdout, "\n") {
				if strings.HasPrefix(line, "line ") {
					got = append(got, line)
				}
			}
			require.Equal(t, tc.want, got, "%v", tc.args)
		}
	})

	// Each attempt must fail for want of permission and change nothing:
	// the same migrations stay applied.
	t.Run("AppLoginExitsTwo", func(t *testing.T) {
		t.Parallel()

		url := pgtest.NewDatabase(t)
		rollBackOne(t, url)
		before := appliedVersions(t, url)
		app := pgtest.LoginAs(t, url, "bulwark_app")
		for _, sub := range []string{"up", "down", "redo", "status"} {
			t.Run(sub, func(t *testing.T) {
				res := runCLI(t, "migrate", sub, "--with-examples", "--database-url", app)
				require.Equal(t, exitUsage, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
				require.Contains(t, res.stderr, "bulwark migrate: could not run (permission denied): ")
				require.Equal(t, before, appliedVersions(t, url))
			})
		}
	})

	t.Run("NeverMigratedWritesNothing", func(t *testing.T) {
		t.Parallel()

		url := emptyDatabase(t)
		require.Zero(t, userRelations(t, url))

		for _, tc := range []struct {
			sub  string
			want string
		}{
			{sub: "down", want: "not migrated: public.bulwark_core_version does not exist: nothing to roll back\n"},
			{sub: "redo", want: "not migrated: public.bulwark_core_version does not exist: nothing to redo\n"},
			{sub: "status", want: "not migrated: public.bulwark_core_version does not exist; `bulwark migrate up` applies:\n"},
		} {
			t.Run(tc.sub, func(t *testing.T) {
				res := runCLI(t, "migrate", tc.sub, "--with-examples", "--database-url", url)
				require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
				require.Empty(t, res.stderr)
				require.Contains(t, res.stdout, tc.want)
				require.Zero(t, userRelations(t, url), "migrate %s wrote to a database never migrated", tc.sub)
			})
		}

		res := runCLI(t, "migrate", "status", "--with-examples", "--database-url", url)
		require.Regexp(t, `(?m)^core +00001 +pending +- +00001_bulwark_core\.sql$`, res.stdout)
		require.Regexp(t, `(?m)^river +00001 +pending +- +\(Go\) go:river-schema-\d+-grants-\d+$`, res.stdout)
		require.Regexp(t, `(?m)^articles +00001 +pending +- +00001_article_workflow\.sql$`, res.stdout)
		require.NotRegexp(t, `(?m)^\w+ +\d{5} +applied`, res.stdout)
	})

	t.Run("NothingAppliedDownExitsZero", func(t *testing.T) {
		t.Parallel()

		url := pgtest.NewDatabase(t)
		resetAll(t, url)

		res := runCLI(t, "migrate", "down", "--with-examples", "--database-url", url)
		require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		require.Equal(t, "no migration is applied: nothing to roll back\n", res.stdout)
		require.Empty(t, appliedVersions(t, url))
	})

	// A database that refuses writes (a standby, or one set read-only as
	// here) cannot be migrated: exit 2, and the pending migration stays
	// pending.
	t.Run("ReadOnlyExitsTwo", func(t *testing.T) {
		t.Parallel()

		url := pgtest.NewDatabase(t)
		rollBackOne(t, url)
		before := appliedVersions(t, url)
		u, err := pgx.ParseConfig(url)
		require.NoError(t, err)
		execSQL(t, url, "ALTER DATABASE "+pgx.Identifier{u.Database}.Sanitize()+" SET default_transaction_read_only = on")

		for _, sub := range []string{"up", "down"} {
			t.Run(sub, func(t *testing.T) {
				res := runCLI(t, "migrate", sub, "--with-examples", "--database-url", url)
				require.Equal(t, exitUsage, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
				require.Contains(t, res.stderr, "bulwark migrate: could not run (the database is read-only): ")
				require.Equal(t, before, appliedVersions(t, url))
			})
		}
	})

	t.Run("UsageExitsTwoWithoutConnecting", func(t *testing.T) {
		t.Parallel()

		// Nothing listens on port 1: a connection attempt would say so.
		const url = "postgres://nobody@127.0.0.1:1/nothing?sslmode=disable"
		file := filepath.Join(t.TempDir(), "00001_not_a_directory.sql")
		require.NoError(t, os.WriteFile(file, nil, 0o600))
		for _, tc := range []struct {
			args []string
			want string
		}{
			{args: []string{"migrate"}, want: "missing subcommand"},
			{args: []string{"migrate", "sideways", "--database-url", url}, want: `unknown subcommand "sideways"`},
			{args: []string{"migrate", "up", "--database-url", url, "--timeout", "0s"}, want: "--timeout must be positive"},
			{args: []string{"migrate", "up", "--database-url", url, "extra"}, want: `unexpected argument "extra"`},
			{args: []string{"verify", "--database-url", url, "--timeout", "-1s"}, want: "--timeout must be positive"},
			{args: []string{"migrate", "up", "--database-url", url, "--version-table", "public.v"}, want: "pass the directory too"},
			{args: []string{"verify", "--database-url", url, "--migrations", "/nonexistent/migrations"}, want: "--migrations: "},
			{args: []string{"verify", "--database-url", url, "--migrations", file}, want: "is not a directory"},
			{args: []string{"migrate", "status", "--database-url", url, "--migrations", t.TempDir(), "--line-name", "core"}, want: "the name of a built-in line"},
			{args: []string{"migrate", "status", "--database-url", url, "--migrations", t.TempDir(), "--version-table", "versions"}, want: "is not schema.table"},
		} {
			res := runCLI(t, tc.args...)
			require.Equal(t, exitUsage, res.code, "%v", tc.args)
			require.Contains(t, res.stderr, tc.want)
			require.NotContains(t, res.stderr, "failed to connect")
		}
	})
}

// TestMigrationsEnvironment names the team's line by the environment, as
// a deployment would. Not parallel: it sets the process's environment.
func TestMigrationsEnvironment(t *testing.T) {
	url := emptyDatabase(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "00001_notes.sql"), []byte(notesMigration), 0o600))
	t.Setenv("DATABASE_URL", url)
	t.Setenv(envMigrations, dir)
	t.Setenv(envVersionTable, "public.team_version")
	t.Setenv(envLineName, "team")

	res := runCLI(t, append([]string{"migrate", "up"}, roleFlags(t, url, nil)...)...)
	require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	require.Regexp(t, `(?m)^up +team +00001 00001_notes\.sql +ok`, res.stdout)
	var exists bool
	require.NoError(t, openSQLT(t, url).QueryRow(`SELECT pg_catalog.to_regclass('public.team_version') IS NOT NULL`).Scan(&exists))
	require.True(t, exists)

	res = runCLI(t, append([]string{"verify"}, roleFlags(t, url, nil)...)...)
	require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	core, err := schema.Core().Checksums()
	require.NoError(t, err)
	require.Regexp(t, fmt.Sprintf(`(?m)^migrations +ok +%d migrations`, len(core)+1), res.stdout, "the core's and the team's")
}
