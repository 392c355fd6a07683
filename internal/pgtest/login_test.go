package pgtest_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/pgtest"
)

func TestLoginAs(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("ConnectsAsMemberOfGroup", func(t *testing.T) {
		t.Parallel()

		dbURL := pgtest.NewDatabase(t)
		loginURL := pgtest.LoginAs(t, dbURL, "bulwark_app")

		conn := connect(ctx, t, loginURL)
		var user, db, wantDB string
		var member, super bool
		require.NoError(t, conn.QueryRow(ctx, `
			SELECT current_user, current_database(),
			       pg_catalog.pg_has_role(current_user, 'bulwark_app', 'USAGE'),
			       (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)`,
		).Scan(&user, &db, &member, &super))
		require.Equal(t, "bulwark_app_login_test", user)
		require.True(t, member)
		require.False(t, super)

		u, err := url.Parse(dbURL)
		require.NoError(t, err)
		wantDB = u.Path[1:]
		require.Equal(t, wantDB, db)

		requireEmptySearchPath(ctx, t, conn)
	})

	t.Run("IsRepeatable", func(t *testing.T) {
		t.Parallel()

		dbURL := pgtest.NewDatabase(t)
		require.Equal(t, pgtest.LoginAs(t, dbURL, "bulwark_jobs"), pgtest.LoginAs(t, dbURL, "bulwark_jobs"))
	})

	t.Run("LacksSuperuserPower", func(t *testing.T) {
		t.Parallel()

		conn := connect(ctx, t, pgtest.LoginAs(t, pgtest.NewDatabase(t), "bulwark_app"))
		_, err := conn.Exec(ctx, "CREATE TABLE public.pgtest_forbidden (id integer)")
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr)
		require.Equal(t, "42501", pgErr.Code)
	})

	t.Run("WorksForEachGroup", func(t *testing.T) {
		t.Parallel()

		dbURL := pgtest.NewDatabase(t)
		for _, group := range []string{"bulwark_app", "bulwark_jobs", "bulwark_owner"} {
			conn, err := pgx.Connect(ctx, pgtest.LoginAs(t, dbURL, group))
			require.NoError(t, err, group)
			var user string
			require.NoError(t, conn.QueryRow(ctx, "SELECT current_user").Scan(&user))
			require.Equal(t, group+"_login_test", user)
			require.NoError(t, conn.Close(ctx))
		}
	})
}
