package pgtest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/pgtest"
)

func TestDB(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("CommitsAreVisibleToOtherSessions", func(t *testing.T) {
		t.Parallel()

		pool := pgtest.DB(t)
		_, err := pool.Exec(ctx, "CREATE TABLE public.pgtest_probe (id integer)")
		require.NoError(t, err)
		_, err = pool.Exec(ctx, "INSERT INTO public.pgtest_probe VALUES (1)")
		require.NoError(t, err)

		conn, err := pgx.Connect(ctx, pool.Config().ConnConfig.ConnString())
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close(context.Background()) })
		var n int
		require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM public.pgtest_probe").Scan(&n))
		require.Equal(t, 1, n)
	})

	t.Run("EmptiesSearchPath", func(t *testing.T) {
		t.Parallel()

		pool := pgtest.DB(t)
		requireEmptySearchPath(ctx, t, pool)
	})

	t.Run("HasMigrations", func(t *testing.T) {
		t.Parallel()

		pool := pgtest.DB(t)
		requireMigrated(ctx, t, pool)
	})
}

func TestEmptyDatabase(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("HasNoMigrations", func(t *testing.T) {
		t.Parallel()

		conn := connect(ctx, t, pgtest.EmptyDatabase(t))
		var schema, versions *string
		require.NoError(t, conn.QueryRow(ctx, `
			SELECT pg_catalog.to_regnamespace('bulwark')::text,
			       pg_catalog.to_regclass('public.bulwark_core_version')::text`).Scan(&schema, &versions))
		require.Nil(t, schema)
		require.Nil(t, versions)

		var super bool
		require.NoError(t, conn.QueryRow(ctx,
			"SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user").Scan(&super))
		require.True(t, super, "EmptyDatabase connects as the migration role")
	})

	t.Run("DropsInCleanup", func(t *testing.T) {
		t.Parallel()

		var name string
		t.Run("Use", func(t *testing.T) {
			conn := connect(ctx, t, pgtest.EmptyDatabase(t))
			require.NoError(t, conn.QueryRow(ctx, "SELECT current_database()").Scan(&name))
		})

		conn := connect(ctx, t, pgtest.NewDatabase(t))
		var exists bool
		require.NoError(t, conn.QueryRow(ctx,
			"SELECT EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = $1)", name).Scan(&exists))
		require.False(t, exists, "database %s survived its test", name)
	})
}

func TestNewDatabase(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("ClonesTemplate", func(t *testing.T) {
		t.Parallel()

		conn := connect(ctx, t, pgtest.NewDatabase(t))
		requireMigrated(ctx, t, conn)

		var name string
		require.NoError(t, conn.QueryRow(ctx, "SELECT current_database()").Scan(&name))
		require.True(t, strings.HasPrefix(name, "bulwark_test_"), name)

		var super bool
		require.NoError(t, conn.QueryRow(ctx,
			"SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user").Scan(&super))
		require.True(t, super, "NewDatabase connects as the migration role")
	})

	t.Run("DropsInCleanup", func(t *testing.T) {
		t.Parallel()

		var name string
		t.Run("Use", func(t *testing.T) {
			conn := connect(ctx, t, pgtest.NewDatabase(t))
			require.NoError(t, conn.QueryRow(ctx, "SELECT current_database()").Scan(&name))
			// The session stays open: the drop must close it.
		})

		conn := connect(ctx, t, pgtest.NewDatabase(t))
		var exists bool
		require.NoError(t, conn.QueryRow(ctx,
			"SELECT EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = $1)", name).Scan(&exists))
		require.False(t, exists, "database %s survived its test", name)
	})

	t.Run("GivesEachTestItsOwn", func(t *testing.T) {
		t.Parallel()

		require.NotEqual(t, pgtest.NewDatabase(t), pgtest.NewDatabase(t))
	})
}

func TestTx(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("EmptiesSearchPath", func(t *testing.T) {
		t.Parallel()

		requireEmptySearchPath(ctx, t, pgtest.Tx(t))
	})

	t.Run("HasMigrations", func(t *testing.T) {
		t.Parallel()

		requireMigrated(ctx, t, pgtest.Tx(t))
	})

	t.Run("RollsBackInCleanup", func(t *testing.T) {
		t.Parallel()

		t.Run("Write", func(t *testing.T) {
			_, err := pgtest.Tx(t).Exec(ctx, "CREATE TABLE public.pgtest_rolled_back (id integer)")
			require.NoError(t, err)
		})

		var table *string
		require.NoError(t, pgtest.Tx(t).QueryRow(ctx,
			"SELECT pg_catalog.to_regclass('public.pgtest_rolled_back')::text").Scan(&table))
		require.Nil(t, table)
	})

	t.Run("ToleratesCommit", func(t *testing.T) {
		t.Parallel()

		tx := pgtest.Tx(t)
		_, err := tx.Exec(ctx, "SELECT 1")
		require.NoError(t, err)
		require.NoError(t, tx.Rollback(ctx))
	})
}

// querier is what pools, connections and transactions have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// connect opens a connection, closed in Cleanup.
func connect(ctx context.Context, t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()

	conn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// requireEmptySearchPath checks that unqualified names do not resolve.
func requireEmptySearchPath(ctx context.Context, t *testing.T, q querier) {
	t.Helper()

	var path string
	require.NoError(t, q.QueryRow(ctx, "SELECT current_setting('search_path')").Scan(&path))
	require.Empty(t, path)

	var schemas []string
	require.NoError(t, q.QueryRow(ctx, "SELECT pg_catalog.current_schemas(false)::text[]").Scan(&schemas))
	require.Empty(t, schemas)

	// A failed statement would abort a transaction: probe without one.
	var table *string
	require.NoError(t, q.QueryRow(ctx, "SELECT pg_catalog.to_regclass('bulwark_core_version')::text").Scan(&table))
	require.Nil(t, table, "unqualified name resolved")
	require.NoError(t, q.QueryRow(ctx, "SELECT pg_catalog.to_regclass('public.bulwark_core_version')::text").Scan(&table))
	require.NotNil(t, table)
}

// requireMigrated checks that the migrations ran.
func requireMigrated(ctx context.Context, t *testing.T, q querier) {
	t.Helper()

	var version int64
	require.NoError(t, q.QueryRow(ctx,
		"SELECT max(version_id) FROM public.bulwark_core_version WHERE is_applied").Scan(&version))
	require.Positive(t, version)

	var schema *string
	require.NoError(t, q.QueryRow(ctx, "SELECT pg_catalog.to_regnamespace('bulwark')::text").Scan(&schema))
	require.NotNil(t, schema, "schema bulwark missing")
}
