package langtest_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/bulwarktest"
)

// TestServerSpeaksGerman proves the premise of every other test here: the
// server translates its messages, their context lines and severities. The
// German words are compared only to prove it.
func TestServerSpeaksGerman(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	url := bulwarktest.NewDatabase(t)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })

	var lcMessages string
	require.NoError(t, conn.QueryRow(ctx, "SHOW lc_messages").Scan(&lcMessages))
	require.Equal(t, "C.UTF-8", lcMessages)

	// A server error inside PL/pgSQL: what bulwark once parsed its
	// boundary out of (GET DIAGNOSTICS ... PG_CONTEXT) comes in German too.
	_, err = conn.Exec(ctx, `DO $$ BEGIN PERFORM 1 / 0; END $$`)
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "%v", err)
	require.Equal(t, "22012", pgErr.Code)
	require.Equal(t, "ERROR", pgErr.SeverityUnlocalized)
	require.Equal(t, germanSeverity, pgErr.Severity,
		"the server does not speak German: is /usr/share/locale/de/LC_MESSAGES/postgres-<major>.mo installed?")
	require.Equal(t, "Division durch Null", pgErr.Message)
	require.Contains(t, pgErr.Where, "PL/pgSQL-Funktion")
	require.NotContains(t, pgErr.Where, "PL/pgSQL function")

	_, err = conn.Exec(ctx, `
		CREATE FUNCTION pg_temp.stack() RETURNS text LANGUAGE plpgsql AS $$
		DECLARE v text;
		BEGIN
			GET DIAGNOSTICS v = PG_CONTEXT;
			RETURN v;
		END $$`)
	require.NoError(t, err)
	var stack string
	require.NoError(t, conn.QueryRow(ctx, "SELECT pg_temp.stack()").Scan(&stack))
	require.Contains(t, stack, "PL/pgSQL-Funktion pg_temp")

	if other := os.Getenv("DATABASE_URL"); other != "" {
		// DATABASE_URL names another server, which the harness must not
		// have used: different clusters have different identifiers.
		theirs, err := pgx.Connect(ctx, other)
		require.NoError(t, err, "connect to DATABASE_URL")
		t.Cleanup(func() { theirs.Close(context.Background()) })
		const systemID = "SELECT system_identifier FROM pg_catalog.pg_control_system()"
		var ours, their int64
		require.NoError(t, conn.QueryRow(ctx, systemID).Scan(&ours))
		require.NoError(t, theirs.QueryRow(ctx, systemID).Scan(&their))
		require.NotEqual(t, their, ours, "the German tests ran on DATABASE_URL's server")
	}
}
