package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/jobs"
)

// TestRiverDoors attacks River's tables and channels as an application
// login (the least trusted credential: a compromised web service), with a
// runner working, and as a job runner's login where the kit must still
// hold.
func TestRiverDoors(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("AppLoginHoldsNothingInRiver", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.runner(t, nil) // retention disabled
		a, err := b.svc.Publish(ctx, b.pat, articles.TransitionRequest{ID: b.approved(t).ID}, nil)
		require.NoError(t, err)
		s, err := b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: b.approved(t).ID, At: time.Now().Add(time.Hour)}, nil)
		require.NoError(t, err)

		for _, stmt := range []string{
			// The retention job that archived every published article.
			`INSERT INTO river.river_job (kind, args, max_attempts) VALUES ('bulwark.retention', '{}', 1)`,
			// A queued publication turned into a retention run.
			`UPDATE river.river_job SET kind = 'bulwark.retention'`,
			`UPDATE river.river_job SET kind = river_job.kind`,
			`DELETE FROM river.river_job`,
			`SELECT count(*) FROM river.river_job`,
			`SELECT pg_catalog.nextval('river.river_job_id_seq')`,
			`UPDATE river.river_leader SET leader_id = 'attacker'`,
			`UPDATE river.river_queue SET paused_at = pg_catalog.now()`,
			// The kit's own door into River, and its ledger.
			`SELECT app.article_schedule_enqueue(s, 'attack') FROM app.article_schedules AS s`,
			`SELECT app.article_schedule_live_job(s.id, s.token) FROM app.article_schedules AS s`,
			`SELECT * FROM app.article_schedule_requeue(NULL, NULL, NULL)`,
			`SELECT * FROM app.article_schedule_jobs`,
			`INSERT INTO app.article_schedule_jobs (job_id, schedule_id, token, reason) SELECT 1, s.id, s.token, 'attack' FROM app.article_schedules AS s`,
		} {
			requireSQLState(t, "42501", execIn(ctx, b.app, stmt), stmt)
		}
		require.Equal(t, a, b.article(t, a.ID), "nothing archived")
		var retention int
		require.NoError(t, b.admin.QueryRow(ctx, `SELECT count(*) FROM river.river_job WHERE kind = 'bulwark.retention'`).Scan(&retention))
		require.Zero(t, retention)
		require.Equal(t, []jobRow{{State: "scheduled"}}, b.jobsFor(t, s.ID), "the schedule's job untouched")
	})

	t.Run("JobLoginCannotForgeTheLedger", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		s, err := b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: b.approved(t).ID, At: time.Now().Add(time.Hour)}, nil)
		require.NoError(t, err)
		for _, stmt := range []string{
			`INSERT INTO app.article_schedule_jobs (job_id, schedule_id, token, reason) SELECT 1, s.id, s.token, 'attack' FROM app.article_schedules AS s`,
			`UPDATE app.article_schedule_jobs SET job_id = job_id + 1`,
			`DELETE FROM app.article_schedule_jobs`,
			`SELECT app.article_schedule_enqueue(s, 'attack') FROM app.article_schedules AS s`,
		} {
			requireSQLState(t, "42501", execIn(ctx, b.jobsPool, stmt), stmt)
		}
		var queued int
		require.NoError(t, b.admin.QueryRow(ctx, `SELECT count(*) FROM app.article_schedule_jobs WHERE schedule_id = $1`, s.ID).Scan(&queued))
		require.Equal(t, 1, queued)
	})

	t.Run("RetentionJobWithoutRetentionDoesNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.runner(t, nil) // retention disabled: no worker for the kind
		a, err := b.svc.Publish(ctx, b.pat, articles.TransitionRequest{ID: b.approved(t).ID}, nil)
		require.NoError(t, err)
		// Queued as a job runner's login could.
		id := insertJob(t, b.jobsPool, "bulwark.retention", `{}`)
		require.Eventually(t, func() bool { return b.jobByID(t, id).Errors > 0 }, 20*time.Second, 20*time.Millisecond,
			"the runner tried the job and recorded that it has no worker for it")
		require.Equal(t, a, b.article(t, a.ID), "nothing archived")
	})

	t.Run("SpoofedControlNotifyDoesNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.runner(t, nil)
		a := b.approved(t)
		s, err := b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: a.ID, At: time.Now().Add(500 * time.Millisecond)}, nil)
		require.NoError(t, err)
		// Hold the article so that its publication blocks mid-job.
		hold := holdArticle(t, b.admin, a.ID)
		var jobID int64
		require.Eventually(t, func() bool {
			return b.admin.QueryRow(ctx, `SELECT id FROM river.river_job WHERE args ->> 'schedule_id' = $1 AND state = 'running'`, s.ID.String()).Scan(&jobID) == nil
		}, 20*time.Second, 20*time.Millisecond)

		// Any login may NOTIFY: cancel the running job, pause every queue.
		// A listener of our own shows the notifications were delivered.
		listener, err := pgx.Connect(ctx, b.jobsURL)
		require.NoError(t, err)
		t.Cleanup(func() { _ = listener.Close(context.Background()) })
		_, err = listener.Exec(ctx, `LISTEN "river.river_control"`)
		require.NoError(t, err)
		for _, payload := range []string{
			fmt.Sprintf(`{"action": "cancel", "job_id": %d, "queue": "default"}`, jobID),
			`{"action": "pause", "queue": "*"}`,
		} {
			_, err = b.app.Exec(ctx, `SELECT pg_catalog.pg_notify('river.river_control', $1)`, payload)
			require.NoError(t, err)
			waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			n, err := listener.WaitForNotification(waitCtx)
			cancel()
			require.NoError(t, err)
			require.Equal(t, payload, n.Payload)
		}
		// The window a listening runner would have needed to act on them:
		// delivery takes milliseconds.
		time.Sleep(time.Second)
		require.Equal(t, "running", b.jobByID(t, jobID).State)
		require.NoError(t, hold.Rollback(ctx))

		require.Equal(t, articles.ScheduleDone, b.waitSchedule(t, s.ID).State)
		require.Equal(t, jobRow{Attempt: 1, State: "completed"}, b.waitJob(t, jobID), "neither cancelled nor retried")
		// The queue was not paused: the next publication is worked too.
		s2, err := b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: b.approved(t).ID, At: time.Now()}, nil)
		require.NoError(t, err)
		require.Equal(t, articles.ScheduleDone, b.waitSchedule(t, s2.ID).State)
		require.Equal(t, 1, b.publishes(t, a.ID))
	})
}

func TestNewRunnerRefusesOptionsThatCannotWork(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	for name, opts := range map[string]*jobs.RunnerOpts{
		"NegativeRetentionAge":    {RetentionAge: -time.Hour},
		"NegativeJobTimeout":      {JobTimeout: -time.Second},
		"RescueBeforeJobTimeout":  {JobTimeout: 10 * time.Minute, RescueStuckJobsAfter: time.Minute},
		"RescueBeforeDefaultTime": {JobTimeout: 10 * time.Minute},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := jobs.NewRunner(ctx, b.jobsPool, opts)
			require.ErrorIs(t, err, jobs.ErrInvalidOpts)
		})
	}
}

// holdArticle locks the article's row in a transaction of its own, which
// the test rolls back to let a blocked publication go on.
func holdArticle(t *testing.T, admin *pgxpool.Pool, id uuid.UUID) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	hold, err := admin.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = hold.Rollback(context.Background()) })
	_, err = hold.Exec(ctx, `SELECT FROM app.articles WHERE id = $1 FOR UPDATE`, id)
	require.NoError(t, err)
	return hold
}

func execIn(ctx context.Context, pool *pgxpool.Pool, stmt string) error {
	_, err := pool.Exec(ctx, stmt)
	return err
}

func requireSQLState(t *testing.T, want string, err error, msgAndArgs ...any) {
	t.Helper()
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "want SQLSTATE %s, got %v (%v)", want, err, msgAndArgs)
	require.Equal(t, want, pgErr.Code, msgAndArgs...)
}

func TestRecoveryBounds(t *testing.T) {
	t.Parallel()

	// The figures the README documents for the defaults.
	require.Equal(t, 5*time.Minute+57200*time.Millisecond, (&jobs.RunnerOpts{}).RecoveryBound())
	require.Equal(t, 87*time.Second, (&jobs.RunnerOpts{}).LostJobBound())
	fast := jobs.RunnerOpts{FetchPollInterval: 100 * time.Millisecond, JobTimeout: time.Second, RescueStuckJobsAfter: 2 * time.Second, ReconcileInterval: time.Second}
	require.Equal(t, 2*time.Second+56*time.Second+300*time.Millisecond, fast.RecoveryBound())
	require.Equal(t, time.Second+26*time.Second+100*time.Millisecond, fast.LostJobBound())
	require.Zero(t, jobs.RunnerOpts{RescueStuckJobsAfter: -time.Second}.RecoveryBound())
}
