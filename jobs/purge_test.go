package jobs

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/bulwarktest"
)

// TestPurgeWorker: a job runner's credential removes expired keys in
// batches, and keeps the ones still within the TTL.
func TestPurgeWorker(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	url := bulwarktest.NewDatabase(t)
	admin, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer admin.Close(ctx)
	// Keys older than the TTL, written the documented way for seeding.
	_, err = admin.Exec(ctx, `BEGIN;
		SELECT bulwark.maintenance_begin('purge test: seed old and fresh keys');
		INSERT INTO bulwark.idempotency_keys (actor_id, key, request_hash, created_at)
		SELECT bulwark.principal_id('bootstrap'), 'old-' || g, '\x00', pg_catalog.now() - interval '26 hours'
		FROM pg_catalog.generate_series(1, 25000) AS g;
		INSERT INTO bulwark.idempotency_keys (actor_id, key, request_hash)
		SELECT bulwark.principal_id('bootstrap'), 'fresh-' || g, '\x00'
		FROM pg_catalog.generate_series(1, 10) AS g;
		INSERT INTO bulwark.idempotency_keys (actor_id, key, request_hash, created_at)
		SELECT bulwark.principal_id('bootstrap'), 'expiring-' || g, '\x00', pg_catalog.now() - interval '24 hours 30 minutes'
		FROM pg_catalog.generate_series(1, 5) AS g;
		COMMIT`)
	require.NoError(t, err)

	pool, err := pgxpool.New(ctx, bulwarktest.LoginAs(t, url, bulwarktest.RoleJobs))
	require.NoError(t, err)
	defer pool.Close()
	w := &purgeWorker{logger: slog.New(slog.NewTextHandler(io.Discard, nil)), pool: pool}
	require.NoError(t, w.Work(ctx, &river.Job[PurgeArgs]{}))

	var old, fresh, expiring int
	require.NoError(t, admin.QueryRow(ctx, `SELECT
		count(*) FILTER (WHERE key LIKE 'old-%'), count(*) FILTER (WHERE key LIKE 'fresh-%'),
		count(*) FILTER (WHERE key LIKE 'expiring-%')
		FROM bulwark.idempotency_keys`).Scan(&old, &fresh, &expiring))
	require.Zero(t, old)
	require.Equal(t, 10, fresh)
	// Past the TTL but within the hour after it: no longer "used" for the
	// gate, not yet purged, so a key the gate saw as used cannot vanish
	// before its transition runs.
	require.Equal(t, 5, expiring)
	var used, usedFresh bool
	require.NoError(t, admin.QueryRow(ctx, `SELECT bulwark.idempotency_key_used(bulwark.principal_id('bootstrap'), 'expiring-1'),
		bulwark.idempotency_key_used(bulwark.principal_id('bootstrap'), 'fresh-1')`).Scan(&used, &usedFresh))
	require.False(t, used)
	require.True(t, usedFresh)

	// An application credential may not purge.
	app, err := pgx.Connect(ctx, bulwarktest.LoginAs(t, url, bulwarktest.RoleApp))
	require.NoError(t, err)
	defer app.Close(ctx)
	_, err = app.Exec(ctx, `SELECT bulwark.idempotency_purge(10)`)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "42501", pgErr.Code)
}
