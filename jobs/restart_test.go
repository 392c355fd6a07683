package jobs_test

import (
	"context"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/internal/pgcluster"
	"github.com/bulwarkdb/bulwark/jobs"
	"github.com/bulwarkdb/bulwark/sql/schema"
)

// TestServerCrashRestart crashes the PostgreSQL server while two runners
// work due publications: a backend killed with SIGKILL makes the
// postmaster end every session, recover from its log and start again, as
// after an OOM kill. Every publication is still done exactly once. The
// server is a throwaway cluster of the test's own, since the crash ends
// every session on it.
func TestServerCrashRestart(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	cluster, err := pgcluster.Start(ctx, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, cluster.Stop()) })
	adminURL := cluster.URL("postgres")

	cfg, err := pgx.ParseConfig(adminURL)
	require.NoError(t, err)
	sqlDB := stdlib.OpenDB(*cfg)
	_, err = schema.Up(ctx, sqlDB, schema.Examples()...)
	require.NoError(t, err)
	require.NoError(t, sqlDB.Close())
	conn, err := pgx.Connect(ctx, adminURL)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `
		CREATE ROLE app_login LOGIN IN ROLE bulwark_app;
		CREATE ROLE jobs_login LOGIN IN ROLE bulwark_jobs`)
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))
	login := func(role string) string {
		u, err := url.Parse(adminURL)
		require.NoError(t, err)
		u.User = url.User(role)
		return u.String()
	}
	b := setupAt(t, adminURL, login("app_login"), login("jobs_login"))

	const n = 20
	due := time.Now().Add(1500 * time.Millisecond)
	var schedules []articles.Schedule
	for range n {
		s, err := b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: b.approved(t).ID, At: due}, nil)
		require.NoError(t, err)
		schedules = append(schedules, s)
	}
	opts := func(id string) *jobs.RunnerOpts {
		return &jobs.RunnerOpts{
			ID:                   id,
			JobTimeout:           time.Second,
			MaxWorkers:           4,
			ReconcileInterval:    200 * time.Millisecond,
			RescueStuckJobsAfter: 2 * time.Second,
		}
	}
	// Three publications block mid-job on their articles' rows, which the
	// crash releases.
	const held = 3
	for _, s := range schedules[:held] {
		holdArticle(t, b.admin, s.ArticleID)
	}
	b.runnerOn(t, connect(t, b.jobsURL, nil), opts("runner-a"))
	b.runnerOn(t, connect(t, b.jobsURL, nil), opts("runner-b"))

	// Crash once the runners are under way: the held jobs running, others
	// done, the rest due.
	require.Eventually(t, func() bool {
		var running, done int
		require.NoError(t, b.admin.QueryRow(ctx, `
			SELECT count(*) FILTER (WHERE j.state = 'running' AND l.schedule_id = ANY ($1::uuid[])),
			       (SELECT count(*) FROM app.article_schedules WHERE state = 'done')
			FROM river.river_job AS j
			JOIN app.article_schedule_jobs AS l ON l.job_id = j.id`,
			[]uuid.UUID{schedules[0].ID, schedules[1].ID, schedules[2].ID}).Scan(&running, &done))
		return running == held && done > 0
	}, 30*time.Second, 5*time.Millisecond)
	victim, err := pgx.Connect(ctx, adminURL)
	require.NoError(t, err)
	var pid int
	var before []int32
	require.NoError(t, victim.QueryRow(ctx, `
		SELECT pg_catalog.pg_backend_pid(), array_agg(a.pid)
		FROM pg_catalog.pg_stat_activity AS a
		WHERE a.backend_type = 'client backend'`).Scan(&pid, &before))
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	_ = victim.Close(ctx)
	// The pools hold sessions the crash ended; each fails once, then the
	// pool replaces it.
	require.Eventually(t, func() bool {
		var pending int
		err := b.admin.QueryRow(ctx, `SELECT count(*) FROM app.article_schedules WHERE state = 'pending'`).Scan(&pending)
		return err == nil && pending == 0
	}, 90*time.Second, 50*time.Millisecond, "every schedule ends")

	for _, s := range schedules {
		require.Equal(t, articles.ScheduleDone, b.schedule(t, s.ID).State)
		require.Equal(t, 1, b.publishes(t, s.ArticleID), "article %s published exactly once", s.ArticleID)
	}
	var survivors int
	require.NoError(t, b.admin.QueryRow(ctx, `
		SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE pid = ANY ($1::integer[])`, before).Scan(&survivors))
	require.Zero(t, survivors, "the crash ended every session of the runners and the test")
}
