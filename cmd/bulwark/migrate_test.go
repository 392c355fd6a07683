package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
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

// appliedVersions returns the versions goose records as applied in the
// database of dbURL, newest first.
func appliedVersions(t *testing.T, dbURL string) []int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT version_id FROM public.goose_db_version WHERE is_applied AND version_id > 0 ORDER BY id DESC`)
	require.NoError(t, err)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	return versions
}

// rollBackOne rolls back the newest migration of the database of dbURL, as
// the migration role, so that `migrate up` has work to do.
func rollBackOne(t *testing.T, dbURL string) {
	t.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	require.NoError(t, err)
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	provider, err := schema.NewProvider(db)
	require.NoError(t, err)
	_, err = provider.Down(context.Background())
	require.NoError(t, err)
}

func TestMigrateCommand(t *testing.T) {
	t.Parallel()

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
				res := runCLI(t, "migrate", sub, "--database-url", app)
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
			{sub: "down", want: "not migrated: public.goose_db_version does not exist: nothing to roll back\n"},
			{sub: "redo", want: "not migrated: public.goose_db_version does not exist: nothing to redo\n"},
			{sub: "status", want: "not migrated: public.goose_db_version does not exist; `bulwark migrate up` applies:\n"},
		} {
			t.Run(tc.sub, func(t *testing.T) {
				res := runCLI(t, "migrate", tc.sub, "--database-url", url)
				require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
				require.Empty(t, res.stderr)
				require.Contains(t, res.stdout, tc.want)
				require.Zero(t, userRelations(t, url), "migrate %s wrote to a database never migrated", tc.sub)
			})
		}

		res := runCLI(t, "migrate", "status", "--database-url", url)
		require.Regexp(t, `(?m)^00001 +pending +- +00001_bulwark_core\.sql$`, res.stdout)
		require.NotRegexp(t, `(?m)^\d{5} +applied`, res.stdout)
	})

	t.Run("NothingAppliedDownExitsZero", func(t *testing.T) {
		t.Parallel()

		url := pgtest.NewDatabase(t)
		cfg, err := pgx.ParseConfig(url)
		require.NoError(t, err)
		db := stdlib.OpenDB(*cfg)
		t.Cleanup(func() { _ = db.Close() })
		provider, err := schema.NewProvider(db)
		require.NoError(t, err)
		_, err = provider.DownTo(context.Background(), 0)
		require.NoError(t, err)

		res := runCLI(t, "migrate", "down", "--database-url", url)
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
				res := runCLI(t, "migrate", sub, "--database-url", url)
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
		for _, tc := range []struct {
			args []string
			want string
		}{
			{args: []string{"migrate"}, want: "missing subcommand"},
			{args: []string{"migrate", "sideways", "--database-url", url}, want: `unknown subcommand "sideways"`},
			{args: []string{"migrate", "up", "--database-url", url, "--timeout", "0s"}, want: "--timeout must be positive"},
			{args: []string{"migrate", "up", "--database-url", url, "extra"}, want: `unexpected argument "extra"`},
			{args: []string{"verify", "--database-url", url, "--timeout", "-1s"}, want: "--timeout must be positive"},
		} {
			res := runCLI(t, tc.args...)
			require.Equal(t, exitUsage, res.code, "%v", tc.args)
			require.Contains(t, res.stderr, tc.want)
			require.NotContains(t, res.stderr, "failed to connect")
		}
	})
}
