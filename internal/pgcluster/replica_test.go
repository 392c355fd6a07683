package pgcluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/pgcluster"
)

func TestStartReplica(t *testing.T) {
	t.Parallel()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	primary, err := pgcluster.Start(ctx, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, primary.Stop()) })
	replica, err := primary.StartReplica(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, replica.Stop()) })
	require.NotEqual(t, primary.Port(), replica.Port())

	p, err := pgx.Connect(ctx, primary.URL("postgres"))
	require.NoError(t, err)
	defer p.Close(ctx)
	r, err := pgx.Connect(ctx, replica.URL("postgres"))
	require.NoError(t, err)
	defer r.Close(ctx)

	var inRecovery bool
	require.NoError(t, r.QueryRow(ctx, "SELECT pg_catalog.pg_is_in_recovery()").Scan(&inRecovery))
	require.True(t, inRecovery, "the replica is a standby")
	var streaming int
	require.NoError(t, p.QueryRow(ctx, "SELECT count(*) FROM pg_catalog.pg_stat_replication WHERE state = 'streaming'").Scan(&streaming))
	require.Equal(t, 1, streaming, "the primary streams to it")

	// A write on the primary reaches the replica; with replay paused it
	// does not, until replay resumes.
	_, err = p.Exec(ctx, "CREATE TABLE public.seen (n integer)")
	require.NoError(t, err)
	waitFor(t, r, "SELECT count(*) FROM pg_catalog.pg_class WHERE relname = 'seen'", 1)
	_, err = r.Exec(ctx, "SELECT pg_catalog.pg_wal_replay_pause()")
	require.NoError(t, err)
	_, err = p.Exec(ctx, "INSERT INTO public.seen VALUES (1)")
	require.NoError(t, err)
	var lsn string
	require.NoError(t, p.QueryRow(ctx, "SELECT pg_catalog.pg_current_wal_lsn()::text").Scan(&lsn))
	waitFor(t, r, "SELECT count(*) FROM pg_catalog.pg_stat_wal_receiver WHERE flushed_lsn >= '"+lsn+"'::pg_lsn", 1)
	var n int
	require.NoError(t, r.QueryRow(ctx, "SELECT count(*) FROM public.seen").Scan(&n))
	require.Zero(t, n, "replay is paused: the row arrived but is not applied")
	_, err = r.Exec(ctx, "SELECT pg_catalog.pg_wal_replay_resume()")
	require.NoError(t, err)
	waitFor(t, r, "SELECT count(*) FROM public.seen", 1)
}

// waitFor polls query (one integer) on conn until it returns want.
func waitFor(t *testing.T, conn *pgx.Conn, query string, want int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var got int
		require.NoError(t, conn.QueryRow(context.Background(), query).Scan(&got))
		if got == want {
			return
		}
		require.True(t, time.Now().Before(deadline), "%s: %d, want %d", query, got, want)
		time.Sleep(20 * time.Millisecond)
	}
}
