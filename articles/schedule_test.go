package articles_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/authz"
)

// queuedJob is a scheduled publication's River job, as the schedule
// functions queue it, with the ledger's reason.
type queuedJob struct {
	Args        map[string]string
	Kind        string
	Reason      string
	ScheduledAt time.Time
	State       string
}

func (b *testBundle) queuedJobs(t *testing.T, scheduleID uuid.UUID) []queuedJob {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `
		SELECT j.args, j.kind, l.reason, j.scheduled_at, j.state::text
		FROM app.article_schedule_jobs AS l
		JOIN river.river_job AS j ON j.id = l.job_id
		WHERE l.schedule_id = $1
		ORDER BY l.job_id`, scheduleID)
	require.NoError(t, err)
	defer rows.Close()
	var out []queuedJob
	for rows.Next() {
		var j queuedJob
		require.NoError(t, rows.Scan(&j.Args, &j.Kind, &j.Reason, &j.ScheduledAt, &j.State))
		out = append(out, j)
	}
	require.NoError(t, rows.Err())
	return out
}

// TestScheduleQueuesItsJob: the schedule functions queue the River job in
// the caller's transaction, record it in the ledger, and queue nothing on
// an idempotent replay.
func TestScheduleQueuesItsJob(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	a := b.inState(t, articles.StateApproved)
	at := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	req := articles.ScheduleRequest{ArticleID: a.ID, At: at, IdemKey: "schedule-1"}

	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	s, err := b.svc.SchedulePublish(ctx, b.pat, req, &authz.DoOpts{Tx: tx})
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))
	require.Empty(t, b.queuedJobs(t, s.ID), "the job rolled back with the schedule")

	s, err = b.svc.SchedulePublish(ctx, b.pat, req, nil)
	require.NoError(t, err)
	want := queuedJob{
		Args:        map[string]string{"schedule_id": s.ID.String(), "token": s.Token.String()},
		Kind:        "bulwark.scheduled_publish",
		Reason:      "schedule",
		ScheduledAt: at,
		State:       "scheduled",
	}
	require.Equal(t, []queuedJob{want}, b.queuedJobs(t, s.ID))

	replay, err := b.svc.SchedulePublish(ctx, b.pat, req, nil)
	require.NoError(t, err)
	require.Equal(t, s, replay)
	require.Len(t, b.queuedJobs(t, s.ID), 1, "a replay queues nothing")

	// A move queues a job for the new time and token; one due already is
	// available at once.
	moved, err := b.svc.MoveSchedule(ctx, b.pat, articles.MoveScheduleRequest{ID: s.ID, At: time.Now().Add(-time.Minute)}, nil)
	require.NoError(t, err)
	got := b.queuedJobs(t, s.ID)
	require.Len(t, got, 2)
	require.Equal(t, want, got[0])
	require.Equal(t, map[string]string{"schedule_id": s.ID.String(), "token": moved.Token.String()}, got[1].Args)
	require.Equal(t, "move", got[1].Reason)
	require.Equal(t, "available", got[1].State)
}

func TestPolicyRequeueSchedule(t *testing.T) {
	t.Parallel()

	token := uuid.New()
	pending := articles.Schedule{ID: uuid.New(), State: articles.SchedulePending, Token: token}
	for name, tc := range map[string]struct {
		schedule articles.Schedule
		token    uuid.UUID
		want     string // deny code, empty for allow
	}{
		"Pending":    {pending, token, ""},
		"Moved":      {pending, uuid.New(), articles.CodeStaleSchedule},
		"Done":       {articles.Schedule{State: articles.ScheduleDone, Token: token}, token, articles.CodeWrongState},
		"Cancelled":  {articles.Schedule{State: articles.ScheduleCancelled, Token: token}, token, articles.CodeWrongState},
		"FailedOnce": {articles.Schedule{State: articles.ScheduleFailed, Token: token}, token, articles.CodeWrongState},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := articles.PolicyRequeueSchedule(nil, tc.schedule, articles.RequeueScheduleRequest{ID: tc.schedule.ID, Token: tc.token})
			require.Equal(t, tc.want == "", d.Allowed)
			if tc.want != "" {
				require.Equal(t, tc.want, d.Code)
			}
		})
	}
}
