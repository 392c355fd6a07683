package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/fault"
	"github.com/bulwarkdb/bulwark/jobs"
)

// fastReconcile is a runner whose leader reconciles often, so that tests
// of lost jobs stay short.
var fastReconcile = &jobs.RunnerOpts{ReconcileInterval: 100 * time.Millisecond}

// TestReconcile loses a pending schedule's job in each way someone with a
// job runner's credentials could, and checks that the publication is still
// done exactly once, or the schedule ended with its reason.
func TestReconcile(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	// lose schedules an approved article, soon, and loses its job with
	// stmt ($1: the job's id) as the jobs login; then checks that it is
	// published exactly once, by a second job that the ledger names.
	lose := func(t *testing.T, stmt string) {
		t.Helper()
		b := setup(t)
		a := b.approved(t)
		s, err := b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: a.ID, At: time.Now().Add(time.Second)}, nil)
		require.NoError(t, err)
		lost := b.queued(t, s.ID)[0]
		tag, err := b.jobsPool.Exec(ctx, stmt, lost)
		require.NoError(t, err)
		require.EqualValues(t, 1, tag.RowsAffected())
		b.runner(t, fastReconcile)

		require.Equal(t, articles.ScheduleDone, b.waitSchedule(t, s.ID).State)
		require.Equal(t, 1, b.publishes(t, a.ID), "published exactly once")
		queued := b.queued(t, s.ID)
		require.Len(t, queued, 2, "requeued once")
		require.Equal(t, lost, queued[0])
		require.Equal(t, jobRow{Attempt: 1, State: "completed"}, b.waitJob(t, queued[1]))
	}

	t.Run("DeletedJobIsRequeued", func(t *testing.T) {
		t.Parallel()
		lose(t, `DELETE FROM river.river_job WHERE id = $1`)
	})

	t.Run("CancelledJobIsRequeued", func(t *testing.T) {
		t.Parallel()
		lose(t, `UPDATE river.river_job SET state = 'cancelled', finalized_at = pg_catalog.now() WHERE id = $1`)
	})

	t.Run("DiscardedJobIsRequeued", func(t *testing.T) {
		t.Parallel()
		lose(t, `UPDATE river.river_job SET state = 'discarded', finalized_at = pg_catalog.now() WHERE id = $1`)
	})

	t.Run("KindRewriteIsRequeued", func(t *testing.T) {
		t.Parallel()
		// An application login is refused this (TestRiverDoors); a job
		// runner's login is not, and the reconciler repairs it.
		lose(t, `UPDATE river.river_job SET kind = 'bulwark.nothing' WHERE id = $1`)
	})

	t.Run("ParkedJobIsRequeued", func(t *testing.T) {
		t.Parallel()
		lose(t, `UPDATE river.river_job SET scheduled_at = pg_catalog.now() + interval '30 days' WHERE id = $1`)
	})

	t.Run("CancelledThroughRiverIsRequeued", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		a := b.approved(t)
		s, err := b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: a.ID, At: time.Now().Add(time.Second)}, nil)
		require.NoError(t, err)
		r := b.runner(t, fastReconcile)
		_, err = r.Client().JobCancel(ctx, b.queued(t, s.ID)[0])
		require.NoError(t, err)

		require.Equal(t, articles.ScheduleDone, b.waitSchedule(t, s.ID).State)
		require.Equal(t, 1, b.publishes(t, a.ID))
	})

	t.Run("LostFourTimesEndsTheSchedule", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		a := b.approved(t)
		s, err := b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: a.ID, At: time.Now().Add(time.Hour)}, nil)
		require.NoError(t, err)
		b.runner(t, fastReconcile)
		for lost := 1; lost <= 4; lost++ {
			var queued []int64
			require.Eventually(t, func() bool {
				queued = b.queued(t, s.ID)
				return len(queued) == lost
			}, 20*time.Second, 10*time.Millisecond, "job %d queued", lost)
			_, err := b.jobsPool.Exec(ctx, `DELETE FROM river.river_job WHERE id = $1`, queued[lost-1])
			require.NoError(t, err)
		}

		got := b.waitSchedule(t, s.ID)
		require.Equal(t, articles.ScheduleFailed, got.State)
		require.Equal(t, string(fault.LayerUnavailable), *got.OutcomeLayer)
		require.Equal(t, articles.CodeJobLost, *got.OutcomeCode)
		require.NotEmpty(t, *got.OutcomeReason)
		require.Len(t, b.queued(t, s.ID), 4, "no fifth job")
		require.Zero(t, b.publishes(t, a.ID))
		require.Equal(t, string(articles.StateApproved), b.article(t, a.ID).State)
	})

	t.Run("RequeueRechecksEverything", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		s, err := b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: b.approved(t).ID, At: time.Now().Add(time.Hour)}, nil)
		require.NoError(t, err)

		// With a live job, nothing changes.
		got, err := b.jobSvc(t).RequeueSchedule(ctx, b.scheduler, articles.RequeueScheduleRequest{ID: s.ID, Token: s.Token}, nil)
		require.NoError(t, err)
		require.Equal(t, s, got)
		require.Len(t, b.queued(t, s.ID), 1)

		// A stale token is refused by the policy and by the database.
		_, err = b.jobSvc(t).RequeueSchedule(ctx, b.scheduler, articles.RequeueScheduleRequest{ID: s.ID, Token: uuid.New()}, nil)
		requireCode(t, err, fault.LayerPolicy, articles.CodeStaleSchedule)
		// An application's session may not keep jobs alive, even for a
		// publisher (who holds article.schedule): only job runners may
		// call the function.
		_, err = b.svc.RequeueSchedule(ctx, b.pat, articles.RequeueScheduleRequest{ID: s.ID, Token: s.Token}, nil)
		requireCode(t, err, fault.LayerInvariant, fault.CodeBoundaryViolation)
		require.Len(t, b.queued(t, s.ID), 1)
	})
}

// queued lists the ids of the jobs the kit queued for a schedule, in
// order, from the ledger.
func (b *testBundle) queued(t testing.TB, scheduleID uuid.UUID) []int64 {
	t.Helper()
	rows, err := b.admin.Query(context.Background(),
		`SELECT job_id FROM app.article_schedule_jobs WHERE schedule_id = $1 ORDER BY job_id`, scheduleID)
	require.NoError(t, err)
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	return ids
}
