package jobs_test

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/jobs"
	"github.com/bulwarkdb/bulwark/sql/schema"
)

// openSQL opens a database/sql handle on url, closed in t's Cleanup, for
// the migration functions of package schema.
func openSQL(t testing.TB, url string) *sql.DB {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// coreRiverDatabase returns the URL (migration role) of a new database
// migrated the way a team that adopts the kit migrates it: the core and
// River's lines, without the article domain.
func coreRiverDatabase(t testing.TB) string {
	t.Helper()
	url := bulwarktest.EmptyDatabase(t)
	_, err := schema.Up(context.Background(), openSQL(t, url), schema.Core(), schema.River())
	require.NoError(t, err)
	return url
}

// coreDatabase returns the URL (migration role) of a new database migrated
// with the core line alone, as plain `bulwark migrate up` migrates it: no
// River tables.
func coreDatabase(t testing.TB) string {
	t.Helper()
	url := bulwarktest.EmptyDatabase(t)
	_, err := schema.Up(context.Background(), openSQL(t, url), schema.Core())
	require.NoError(t, err)
	return url
}

// syncBuffer is a bytes.Buffer safe for a logger's writes and a test's
// reads on different goroutines.
type syncBuffer struct {
	buf bytes.Buffer
	mu  sync.Mutex
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRunnerWithoutArticleLine: on a database with the core and River's
// lines only, a runner starts, says it works the purge alone, and its
// purge job removes an expired idempotency key and keeps a fresh one.
func TestRunnerWithoutArticleLine(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	url := coreRiverDatabase(t)
	admin := connect(t, url, nil)
	// Keys older than the TTL, and within it, written the documented way
	// for seeding.
	_, err := admin.Exec(ctx, `BEGIN;
		SELECT bulwark.maintenance_begin('runner test: seed an expired and a fresh key');
		INSERT INTO bulwark.idempotency_keys (actor_id, key, request_hash, created_at)
		VALUES (bulwark.principal_id('bootstrap'), 'expired', '\x00', pg_catalog.now() - interval '26 hours');
		INSERT INTO bulwark.idempotency_keys (actor_id, key, request_hash)
		VALUES (bulwark.principal_id('bootstrap'), 'fresh', '\x00');
		COMMIT`)
	require.NoError(t, err)

	var logs syncBuffer
	pool := connect(t, bulwarktest.LoginAs(t, url, bulwarktest.RoleJobs), nil)
	b := &testBundle{}
	r := b.runnerOn(t, pool, &jobs.RunnerOpts{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	require.Equal(t, []string{jobs.PurgeArgs{}.Kind()}, r.Kinds())

	keys := func() (expired, fresh int) {
		require.NoError(t, admin.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE key = 'expired'), count(*) FILTER (WHERE key = 'fresh')
			FROM bulwark.idempotency_keys`).Scan(&expired, &fresh))
		return expired, fresh
	}
	// The leader queues the purge on start.
	require.Eventually(t, func() bool {
		var completed bool
		require.NoError(t, admin.QueryRow(ctx, `SELECT EXISTS (
			SELECT FROM river.river_job WHERE kind = $1 AND state = 'completed')`, jobs.PurgeArgs{}.Kind()).Scan(&completed))
		return completed
	}, 30*time.Second, 20*time.Millisecond, "no purge job completed; logs:\n%s", &logs)
	expired, fresh := keys()
	require.Zero(t, expired, "the purge job removed the expired key")
	require.Equal(t, 1, fresh, "and kept the fresh one")

	require.Contains(t, logs.String(), `"kinds":["bulwark.idempotency_purge"]`)
	require.Contains(t, logs.String(), `"article_line":false`)
	var others int
	require.NoError(t, admin.QueryRow(ctx, `SELECT count(*) FROM river.river_job WHERE kind <> $1`, jobs.PurgeArgs{}.Kind()).Scan(&others))
	require.Zero(t, others, "no article job was queued")
}

// TestRunnerRetentionWithoutArticleLine: retention archives articles, so
// a positive RetentionAge on a database without the article line is
// refused, not ignored.
func TestRunnerRetentionWithoutArticleLine(t *testing.T) {
	t.Parallel()

	url := coreRiverDatabase(t)
	pool := connect(t, bulwarktest.LoginAs(t, url, bulwarktest.RoleJobs), nil)
	r, err := jobs.NewRunner(context.Background(), pool, &jobs.RunnerOpts{Logger: quiet, RetentionAge: 90 * 24 * time.Hour})
	require.ErrorIs(t, err, jobs.ErrInvalidOpts)
	require.ErrorIs(t, err, jobs.ErrArticleLineMissing, "a program can tell this refusal from the other options'")
	require.ErrorContains(t, err, "RetentionAge")
	require.Nil(t, r)
}

// TestRunnerWithoutRiverLine: on a database without River's line (the
// core alone, as plain `bulwark migrate up` leaves it, or River rolled
// back to zero, which leaves its version table), NewRunner refuses with
// ErrRiverLineMissing, whatever the options, before River logs or tries
// anything.
func TestRunnerWithoutRiverLine(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	refused := func(t *testing.T, url string) {
		t.Helper()
		var logs syncBuffer
		pool := connect(t, bulwarktest.LoginAs(t, url, bulwarktest.RoleJobs), nil)
		for _, opts := range []jobs.RunnerOpts{{}, {RetentionAge: time.Hour}} {
			opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			r, err := jobs.NewRunner(ctx, pool, &opts)
			require.ErrorIs(t, err, jobs.ErrRiverLineMissing, "options %+v", opts)
			require.NotErrorIs(t, err, jobs.ErrInvalidOpts)
			require.ErrorContains(t, err, "--with-river")
			require.Nil(t, r)
		}
		require.Empty(t, logs.String())
	}

	t.Run("CoreOnly", func(t *testing.T) {
		t.Parallel()
		refused(t, coreDatabase(t))
	})

	t.Run("RiverRolledBack", func(t *testing.T) {
		t.Parallel()
		url := coreRiverDatabase(t)
		db := openSQL(t, url)
		_, err := schema.DownTo(ctx, db, schema.River(), 0)
		require.NoError(t, err)
		migrated, err := schema.River().Migrated(ctx, db)
		require.NoError(t, err)
		require.True(t, migrated, "the version table stays")
		refused(t, url)
	})
}

// TestRunnerNotJobsMember: a pool whose login is not a member of
// bulwark_jobs (here an application login) is refused with
// ErrNotJobsMember before River starts, and before the lines are looked
// at: the login is the first thing wrong.
func TestRunnerNotJobsMember(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	for name, url := range map[string]string{
		"CoreRiver": coreRiverDatabase(t),
		"CoreOnly":  coreDatabase(t),
	} {
		t.Run(name, func(t *testing.T) {
			var logs syncBuffer
			pool := connect(t, bulwarktest.LoginAs(t, url, bulwarktest.RoleApp), nil)
			r, err := jobs.NewRunner(ctx, pool, &jobs.RunnerOpts{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			require.ErrorIs(t, err, jobs.ErrNotJobsMember)
			require.NotErrorIs(t, err, jobs.ErrRiverLineMissing)
			require.ErrorContains(t, err, bulwarktest.RoleJobs)
			require.Nil(t, r)
			require.Empty(t, logs.String())
		})
	}
}

// TestRunnerKinds: the article line decides which kinds a runner works,
// by what is applied now: rolled back to zero, the line leaves its version
// table behind, and the runner works the purge alone.
func TestRunnerKinds(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	newRunner := func(t *testing.T, url string, opts *jobs.RunnerOpts) (*jobs.Runner, error) {
		t.Helper()
		pool := connect(t, bulwarktest.LoginAs(t, url, bulwarktest.RoleJobs), nil)
		opts.Logger = quiet
		return jobs.NewRunner(ctx, pool, opts)
	}
	purge := jobs.PurgeArgs{}.Kind()
	articleKinds := []string{jobs.ScheduledPublishArgs{}.Kind(), jobs.ReconcileArgs{}.Kind(), purge}

	t.Run("ArticleLine", func(t *testing.T) {
		t.Parallel()
		url := bulwarktest.NewDatabase(t)
		r, err := newRunner(t, url, &jobs.RunnerOpts{})
		require.NoError(t, err)
		require.Equal(t, articleKinds, r.Kinds())
		r, err = newRunner(t, url, &jobs.RunnerOpts{RetentionAge: time.Hour})
		require.NoError(t, err)
		require.Equal(t, append(articleKinds, jobs.RetentionArgs{}.Kind()), r.Kinds())
	})

	t.Run("ArticleLineRolledBack", func(t *testing.T) {
		t.Parallel()
		url := bulwarktest.NewDatabase(t)
		db := openSQL(t, url)
		_, err := schema.DownTo(ctx, db, schema.Articles(), 0)
		require.NoError(t, err)
		migrated, err := schema.Articles().Migrated(ctx, db)
		require.NoError(t, err)
		require.True(t, migrated, "the version table stays")

		r, err := newRunner(t, url, &jobs.RunnerOpts{})
		require.NoError(t, err)
		require.Equal(t, []string{purge}, r.Kinds())
		_, err = newRunner(t, url, &jobs.RunnerOpts{RetentionAge: time.Hour})
		require.ErrorIs(t, err, jobs.ErrInvalidOpts)
	})
}
