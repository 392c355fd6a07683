package bulwarktest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
)

func TestNewDatabase(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("HoldsTheKitAndTheTeamsMigrations", func(t *testing.T) {
		t.Parallel()

		pool := bulwarktest.Pool(t, bulwarktest.NewDatabase(t), nil)
		var core, own int64
		require.NoError(t, pool.QueryRow(ctx, `
			SELECT (SELECT max(version_id) FROM public.bulwark_core_version WHERE is_applied),
			       (SELECT max(version_id) FROM public.notes_version WHERE is_applied)`).Scan(&core, &own))
		require.Positive(t, core)
		require.Equal(t, int64(1), own)

		// Only the lines asked for: no River, no article domain.
		var river, articles *string
		require.NoError(t, pool.QueryRow(ctx,
			"SELECT pg_catalog.to_regnamespace('river')::text, pg_catalog.to_regnamespace('app')::text").Scan(&river, &articles))
		require.Nil(t, river)
		require.Nil(t, articles)

		// Recorded as bulwark migrate records them, for bulwark verify.
		var lines []string
		require.NoError(t, pool.QueryRow(ctx,
			"SELECT pg_catalog.array_agg(DISTINCT line ORDER BY line) FROM bulwark.migration_checksums").Scan(&lines))
		require.Equal(t, []string{"core", "notes"}, lines)

		var guarded bool
		require.NoError(t, pool.QueryRow(ctx,
			"SELECT EXISTS (SELECT FROM bulwark.guarded_tables WHERE relation = 'notes.notes'::regclass)").Scan(&guarded))
		require.True(t, guarded, "the team's table is behind the boundary")
	})

	t.Run("GivesEachTestItsOwn", func(t *testing.T) {
		t.Parallel()

		require.NotEqual(t, bulwarktest.NewDatabase(t), bulwarktest.NewDatabase(t))
	})
}

func TestEmptyDatabase(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, bulwarktest.EmptyDatabase(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })

	var core, notes *string
	require.NoError(t, conn.QueryRow(ctx,
		"SELECT pg_catalog.to_regnamespace('bulwark')::text, pg_catalog.to_regnamespace('notes')::text").Scan(&core, &notes))
	require.Nil(t, core)
	require.Nil(t, notes)
}

func TestDB(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	pool := bulwarktest.DB(t)
	requireEmptySearchPath(ctx, t, pool)
	var super bool
	require.NoError(t, pool.QueryRow(ctx,
		"SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user").Scan(&super))
	require.True(t, super, "DB connects as the migration role")
}

func TestTx(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("RollsBackInCleanup", func(t *testing.T) {
		t.Parallel()

		name := bulwarktest.UniqueName("tx_role")
		t.Run("Write", func(t *testing.T) {
			bulwarktest.Role(t, bulwarktest.Tx(t), name, "note.create")
		})

		var exists bool
		require.NoError(t, bulwarktest.Tx(t).QueryRow(ctx,
			"SELECT EXISTS (SELECT FROM bulwark.roles WHERE name = $1)", name).Scan(&exists))
		require.False(t, exists)
	})

	t.Run("HoldsTheTeamsMigrations", func(t *testing.T) {
		t.Parallel()

		tx := bulwarktest.Tx(t)
		requireEmptySearchPath(ctx, t, tx)
		var table *string
		require.NoError(t, tx.QueryRow(ctx, "SELECT pg_catalog.to_regclass('notes.notes')::text").Scan(&table))
		require.NotNil(t, table)
	})
}

func TestLoginAs(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	for _, group := range []string{bulwarktest.RoleApp, bulwarktest.RoleJobs, bulwarktest.RoleOwner} {
		t.Run(group, func(t *testing.T) {
			t.Parallel()

			pool := bulwarktest.Pool(t, bulwarktest.LoginAs(t, bulwarktest.NewDatabase(t), group), nil)
			var user string
			var member, super bool
			require.NoError(t, pool.QueryRow(ctx, `
				SELECT current_user,
				       pg_catalog.pg_has_role(current_user, $1, 'MEMBER'),
				       (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)`, group,
			).Scan(&user, &member, &super))
			require.Equal(t, group+"_login_test", user)
			require.True(t, member)
			require.False(t, super)
			requireEmptySearchPath(ctx, t, pool)
		})
	}
}

func TestPool(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("AppliesConfigFunc", func(t *testing.T) {
		t.Parallel()

		pool := bulwarktest.Pool(t, bulwarktest.NewDatabase(t), &bulwarktest.PoolOpts{
			ConfigFunc: func(cfg *pgxpool.Config) {
				cfg.MaxConns = 3
				cfg.ConnConfig.RuntimeParams["application_name"] = "bulwarktest_pool"
			},
		})
		require.Equal(t, int32(3), pool.Config().MaxConns)
		var name string
		require.NoError(t, pool.QueryRow(ctx, "SELECT current_setting('application_name')").Scan(&name))
		require.Equal(t, "bulwarktest_pool", name)
		requireEmptySearchPath(ctx, t, pool)
	})

	t.Run("FailsOnABadURL", func(t *testing.T) {
		t.Parallel()

		requireFails(t, "parse database URL", func(tb testing.TB) {
			bulwarktest.Pool(tb, "postgres://%zz", nil)
		})
	})
}

// requireEmptySearchPath checks that unqualified names do not resolve.
func requireEmptySearchPath(ctx context.Context, t *testing.T, q db.DBTX) {
	t.Helper()
	var path string
	require.NoError(t, q.QueryRow(ctx, "SELECT current_setting('search_path')").Scan(&path))
	require.Empty(t, path)
}
