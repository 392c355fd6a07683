package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
	"github.com/bulwarkdb/bulwark/jobs"
)

func TestScheduledPublish(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("PublishesThroughTheGateAsScheduler", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.runner(t, nil)
		a := b.approved(t)
		s, err := b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: a.ID, At: time.Now().Add(300 * time.Millisecond)}, nil)
		require.NoError(t, err)
		require.Equal(t, articles.SchedulePending, s.State)

		s = b.waitSchedule(t, s.ID)
		require.Equal(t, articles.ScheduleDone, s.State)
		got := b.article(t, a.ID)
		require.Equal(t, string(articles.StatePublished), got.State)
		require.False(t, got.PublishedAt.Before(s.PublishAt), "not before its time")

		entries, err := b.q.TransitionLogByEntity(ctx, b.admin, a.ID)
		require.NoError(t, err)
		last := entries[len(entries)-1]
		require.Equal(t, "publish", last.Transition)
		require.Equal(t, b.scheduler, *last.ActorID, "the scheduler is the actor in the log")
		require.True(t, strings.HasPrefix(*last.CorrelationID, "river-job-"))
		require.Equal(t, []jobRow{{Attempt: 1, State: "completed"}}, b.waitJobs(t, s.ID))
	})

	t.Run("RevokedSchedulerIsAPermissionFailure", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.runner(t, nil)
		a := b.approved(t)
		s, err := b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: a.ID, At: time.Now().Add(time.Second)}, nil)
		require.NoError(t, err)
		require.NoError(t, b.q.RoleRevoke(ctx, b.admin, db.RoleRevokeParams{Actor: b.boot, PrincipalID: b.scheduler, Role: "scheduler"}))

		s = b.waitSchedule(t, s.ID)
		require.Equal(t, articles.ScheduleFailed, s.State)
		require.Equal(t, string(fault.LayerPermission), *s.OutcomeLayer)
		require.Equal(t, fault.CodeMissingCapability, *s.OutcomeCode)
		require.Equal(t, a, b.article(t, a.ID), "the article is unchanged")
		rows := b.waitJobs(t, s.ID)
		require.Equal(t, []jobRow{{Attempt: 1, Errors: 1, State: "cancelled"}}, rows, "not retried")
	})

	t.Run("WithdrawnBeforeTheTimeIsAPolicyFailure", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.runner(t, nil)
		a := b.approved(t)
		s, err := b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: a.ID, At: time.Now().Add(time.Second)}, nil)
		require.NoError(t, err)
		a, err = b.svc.Withdraw(ctx, b.erin, articles.TransitionRequest{ID: a.ID}, nil)
		require.NoError(t, err)

		s = b.waitSchedule(t, s.ID)
		require.Equal(t, articles.ScheduleFailed, s.State)
		require.Equal(t, string(fault.LayerPolicy), *s.OutcomeLayer)
		require.Equal(t, articles.CodeWrongState, *s.OutcomeCode)
		require.Equal(t, a, b.article(t, a.ID), "the article is unchanged")
		require.Equal(t, []jobRow{{Attempt: 1, Errors: 1, State: "cancelled"}}, b.waitJobs(t, s.ID), "not retried")
	})

	t.Run("MovedScheduleLeavesTheOldJobStale", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.runner(t, nil)
		a := b.approved(t)
		s, err := b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: a.ID, At: time.Now().Add(time.Second)}, nil)
		require.NoError(t, err)
		moved, err := b.svc.MoveSchedule(ctx, b.pat, articles.MoveScheduleRequest{ID: s.ID, At: time.Now().Add(3 * time.Second)}, nil)
		require.NoError(t, err)
		require.NotEqual(t, s.Token, moved.Token)

		// The first job runs at the old time and finds itself stale.
		time.Sleep(2 * time.Second)
		require.Equal(t, string(articles.StateApproved), b.article(t, a.ID).State)
		done := b.waitSchedule(t, s.ID)
		require.Equal(t, articles.ScheduleDone, done.State)
		require.False(t, b.article(t, a.ID).PublishedAt.Before(moved.PublishAt))
		rows := b.waitJobs(t, s.ID)
		require.Len(t, rows, 2)
		for _, r := range rows {
			require.Equal(t, "completed", r.State)
		}
	})

	t.Run("CancelledScheduleDoesNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.runner(t, nil)
		a := b.approved(t)
		s, err := b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: a.ID, At: time.Now().Add(300 * time.Millisecond)}, nil)
		require.NoError(t, err)
		s, err = b.svc.EndSchedule(ctx, b.pat, articles.EndScheduleRequest{ID: s.ID, Transition: "cancel"}, nil)
		require.NoError(t, err)
		require.Equal(t, articles.ScheduleCancelled, s.State)
		require.Equal(t, []jobRow{{Attempt: 1, State: "completed"}}, b.waitJobs(t, s.ID))
		require.Equal(t, a, b.article(t, a.ID))
	})

	t.Run("CreatorWhoLostPublishGetsNothingPublished", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.runner(t, nil)
		a := b.approved(t)
		s, err := b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: a.ID, At: time.Now().Add(time.Second)}, nil)
		require.NoError(t, err)
		require.NoError(t, b.q.RoleRevoke(ctx, b.admin, db.RoleRevokeParams{Actor: b.boot, PrincipalID: b.pat, Role: "publisher"}))

		s = b.waitSchedule(t, s.ID)
		require.Equal(t, articles.ScheduleFailed, s.State)
		require.Equal(t, string(fault.LayerPermission), *s.OutcomeLayer)
		require.Equal(t, jobs.CodeCreatorLacksCapability, *s.OutcomeCode)
		require.Equal(t, a, b.article(t, a.ID))
	})

	t.Run("AJobMadeDueEarlyWaitsForTheSchedule", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.runner(t, nil)
		a := b.approved(t)
		s, err := b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: a.ID, At: time.Now().Add(2 * time.Second)}, nil)
		require.NoError(t, err)
		// Someone with a job runner's credentials makes the kit's job due
		// now: the worker goes by the schedule's time, not the job's.
		tag, err := b.jobsPool.Exec(ctx, `
			UPDATE river.river_job SET scheduled_at = pg_catalog.now(), state = 'available'
			WHERE args ->> 'schedule_id' = $1`, s.ID.String())
		require.NoError(t, err)
		require.EqualValues(t, 1, tag.RowsAffected())

		time.Sleep(1200 * time.Millisecond)
		require.Equal(t, string(articles.StateApproved), b.article(t, a.ID).State, "not before its time")
		require.Equal(t, articles.ScheduleDone, b.waitSchedule(t, s.ID).State)
		require.False(t, b.article(t, a.ID).PublishedAt.Before(s.PublishAt))
	})

	t.Run("AJobTheKitDidNotQueueDoesNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.runner(t, nil)
		a := b.approved(t)
		s, err := b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: a.ID, At: time.Now().Add(time.Hour)}, nil)
		require.NoError(t, err)
		// A job runner's credentials can write River's table: a job for
		// the pending schedule, with its token, due now.
		forged := insertJob(t, b.jobsPool, "bulwark.scheduled_publish", fmt.Sprintf(`{"schedule_id": %q, "token": %q}`, s.ID, s.Token))
		// And a job the kit queued for another schedule, its arguments
		// rewritten to name this one.
		other := b.approved(t)
		s2, err := b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: other.ID, At: time.Now().Add(time.Hour)}, nil)
		require.NoError(t, err)
		var kitJob int64
		require.NoError(t, b.admin.QueryRow(ctx, `SELECT id FROM river.river_job WHERE args ->> 'schedule_id' = $1`, s2.ID.String()).Scan(&kitJob))
		_, err = b.jobsPool.Exec(ctx, `
			UPDATE river.river_job SET args = pg_catalog.jsonb_build_object('schedule_id', $2::uuid, 'token', $3::uuid),
				scheduled_at = pg_catalog.now(), state = 'available'
			WHERE id = $1`, kitJob, s.ID, s.Token)
		require.NoError(t, err)

		for _, id := range []int64{forged, kitJob} {
			row := b.waitJob(t, id)
			require.Equal(t, "cancelled", row.State, "job %d", id)
			require.Equal(t, 1, row.Errors, "the refusal is recorded in the job's errors")
		}
		require.Equal(t, a, b.article(t, a.ID), "nothing published")
		require.Equal(t, articles.SchedulePending, b.schedule(t, s.ID).State)
	})

	t.Run("ConflictIsRetriedAndDecidedAgain", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// The first time the worker loads the article, someone touches it:
		// the publication meets a stale version and the job is retried.
		in := &touchOnce{admin: b.admin}
		tracedJobs := connect(t, b.jobsURL, func(cfg *pgxpool.Config) { cfg.ConnConfig.Tracer = in })
		b.runnerOn(t, tracedJobs, nil)
		a := b.approved(t)
		in.arm(a.ID.String())
		s, err := b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: a.ID, At: time.Now()}, nil)
		require.NoError(t, err)

		s = b.waitSchedule(t, s.ID)
		require.Equal(t, articles.ScheduleDone, s.State)
		require.Equal(t, string(articles.StatePublished), b.article(t, a.ID).State)
		require.Equal(t, []jobRow{{Attempt: 2, Errors: 1, State: "completed"}}, b.waitJobs(t, s.ID))
	})
}

// touchOnce is a pgx tracer: after the first snapshot load of the armed
// article, it bumps the article's version through the maintenance switch.
type touchOnce struct {
	admin *pgxpool.Pool
	mu    sync.Mutex
	id    string
}

type snapshotKey struct{}

func (in *touchOnce) arm(id string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.id = id
}

// isArticleLoad reports whether sql reads an article for a policy (sqlc
// names every query in a leading comment).
func isArticleLoad(sql string) bool {
	return strings.Contains(sql, "name: ArticleGetByID") || strings.Contains(sql, "name: ArticleGetForPublish")
}

func (in *touchOnce) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if isArticleLoad(data.SQL) && len(data.Args) == 1 {
		return context.WithValue(ctx, snapshotKey{}, data.Args[0])
	}
	return ctx
}

func (in *touchOnce) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	if arg := ctx.Value(snapshotKey{}); arg != nil && data.Err == nil {
		in.fire(arg)
	}
}

// TraceBatchQuery sees the gate's snapshot load, sent in a batch with its
// key check, once its result is read.
func (in *touchOnce) TraceBatchQuery(_ context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	if isArticleLoad(data.SQL) && len(data.Args) == 1 && data.Err == nil {
		in.fire(data.Args[0])
	}
}

func (in *touchOnce) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (in *touchOnce) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

func (in *touchOnce) fire(arg any) {
	in.mu.Lock()
	fire := in.id != "" && strings.Contains(strings.ToLower(toString(arg)), in.id)
	if fire {
		in.id = ""
	}
	in.mu.Unlock()
	if fire {
		_, err := in.admin.Exec(context.Background(), `BEGIN;
			SELECT bulwark.maintenance_begin('test: bump the version under the job');
			UPDATE app.articles SET updated_at = pg_catalog.now() WHERE id = '`+toString(arg)+`';
			COMMIT`)
		if err != nil {
			panic(err)
		}
	}
}

func toString(v any) string {
	if s, ok := v.(interface{ String() string }); ok {
		return s.String()
	}
	return ""
}

func TestScheduleInvariant(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("SixteenConcurrentSchedulesLeaveOnePending", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		a := b.approved(t)
		const n = 16
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: a.ID, At: time.Now().Add(time.Hour)}, nil)
			}()
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
				continue
			}
			// Who loaded after the winner committed meets the policy; who
			// raced it meets the database's unique index, as a conflict.
			var e *fault.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, articles.CodeAlreadyScheduled, e.Code, "%v", err)
			require.Contains(t, []fault.Layer{fault.LayerPolicy, fault.LayerConflict}, e.Layer)
		}
		require.Equal(t, 1, wins)
		var pending, queued int
		require.NoError(t, b.admin.QueryRow(ctx, `SELECT count(*) FROM app.article_schedules WHERE article_id = $1 AND state = 'pending'`, a.ID).Scan(&pending))
		require.Equal(t, 1, pending)
		require.NoError(t, b.admin.QueryRow(ctx, `
			SELECT count(*) FROM river.river_job j JOIN app.article_schedules s ON s.id::text = j.args ->> 'schedule_id'
			WHERE s.article_id = $1`, a.ID).Scan(&queued))
		require.Equal(t, 1, queued, "the losers' jobs rolled back with their schedules")
	})

	t.Run("SchedulesEndTruthfully", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// Only an approved article is scheduled: the policy says so, and
		// the database when the policy is skipped.
		d, err := b.svc.Create(ctx, b.alice, articles.CreateRequest{Title: "Draft"}, nil)
		require.NoError(t, err)
		_, err = b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: d.ID, At: time.Now().Add(time.Hour)}, nil)
		requireCode(t, err, fault.LayerPolicy, articles.CodeWrongState)
		_, err = b.q.ArticleSchedulePublish(ctx, b.app, db.ArticleSchedulePublishParams{Actor: b.pat, ArticleID: d.ID, PublishAt: time.Now().Add(time.Hour)})
		requireCode(t, db.InterpretError(err), fault.LayerInvariant, fault.CodePreconditionFailed)

		// A schedule is completed only by its job (its token), and only
		// once its article is published.
		a := b.approved(t)
		s, err := b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: a.ID, At: time.Now().Add(time.Hour)}, nil)
		require.NoError(t, err)
		_, err = b.svc.EndSchedule(ctx, b.pat, articles.EndScheduleRequest{ID: s.ID, Transition: "complete"}, nil)
		requireCode(t, err, fault.LayerPolicy, articles.CodeStaleSchedule)
		_, err = b.q.ArticleScheduleEnd(ctx, b.app, db.ArticleScheduleEndParams{Actor: b.pat, ID: s.ID, Transition: "complete"})
		requireCode(t, db.InterpretError(err), fault.LayerInvalid, fault.CodeInvalidInput)
		_, err = b.q.ArticleScheduleEnd(ctx, b.app, db.ArticleScheduleEndParams{Actor: b.pat, ID: s.ID, Token: &s.Token, Transition: "complete"})
		requireCode(t, db.InterpretError(err), fault.LayerInvariant, fault.CodePreconditionFailed)
		bogus := "bogus"
		_, err = b.q.ArticleScheduleEnd(ctx, b.app, db.ArticleScheduleEndParams{Actor: b.pat, ID: s.ID, Token: &s.Token, Transition: "fail", OutcomeLayer: &bogus})
		requireCode(t, db.InterpretError(err), fault.LayerInvalid, fault.CodeInvalidInput)
		require.Equal(t, articles.SchedulePending, b.schedule(t, s.ID).State)
	})

	t.Run("DatabaseRefusesASecondPendingScheduleWhoeverAsks", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		a := b.approved(t)
		_, err := b.q.ArticleSchedulePublish(ctx, b.app, db.ArticleSchedulePublishParams{Actor: b.pat, ArticleID: a.ID, PublishAt: time.Now().Add(time.Hour)})
		require.NoError(t, err)
		_, err = b.q.ArticleSchedulePublish(ctx, b.app, db.ArticleSchedulePublishParams{Actor: b.pat, ArticleID: a.ID, PublishAt: time.Now().Add(2 * time.Hour)})
		requireCode(t, db.InterpretError(err), fault.LayerInvariant, fault.CodeIntegrity)
		// The article migrations declare the race a conflict.
		conflicts, loadErr := db.LoadConflicts(ctx, b.app)
		require.NoError(t, loadErr)
		err = conflicts.Interpret(err)
		require.ErrorIs(t, err, fault.ErrConflict)
		var e *fault.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, articles.CodeAlreadyScheduled, e.Code)
		require.True(t, e.Retryable())
	})

	t.Run("RawUpdateAsTheJobRoleIsRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		a := b.approved(t)
		for _, stmt := range []string{
			`UPDATE app.articles SET state = 'published', published_at = pg_catalog.now() WHERE id = $1`,
			`UPDATE app.article_schedules SET state = 'done' WHERE article_id = $1`,
			`DELETE FROM app.articles WHERE id = $1`,
		} {
			_, err := b.jobsPool.Exec(ctx, stmt, a.ID)
			var pgErr *pgconn.PgError
			require.True(t, errors.As(err, &pgErr), "%s: %v", stmt, err)
			require.Contains(t, []string{"42501", db.SQLStateDirectWrite}, pgErr.Code)
		}
		require.Equal(t, a, b.article(t, a.ID))
	})

	t.Run("JobRoleMayWorkRiverTablesOnly", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var ok bool
		require.NoError(t, b.jobsPool.QueryRow(ctx, `
			SELECT pg_catalog.has_table_privilege('river.river_job', 'UPDATE')
			   AND NOT pg_catalog.has_table_privilege('app.articles', 'UPDATE')
			   AND NOT pg_catalog.has_table_privilege('app.article_schedules', 'INSERT')`).Scan(&ok))
		require.True(t, ok)
	})
}

func TestWorkersShareTheLoad(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	const n = 40
	// Two runners, as two processes would be: separate pools and clients,
	// both started before any job is due.
	b.runnerOn(t, connect(t, b.jobsURL, nil), &jobs.RunnerOpts{ID: "worker-a", MaxWorkers: 2})
	b.runnerOn(t, connect(t, b.jobsURL, nil), &jobs.RunnerOpts{ID: "worker-b", MaxWorkers: 2})
	due := time.Now().Add(3 * time.Second)
	var schedules []articles.Schedule
	for range n {
		a := b.approved(t)
		s, err := b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: a.ID, At: due}, nil)
		require.NoError(t, err)
		schedules = append(schedules, s)
	}

	for _, s := range schedules {
		require.Equal(t, articles.ScheduleDone, b.waitSchedule(t, s.ID).State)
	}
	// No job ran twice: one publish row per article in the log, one
	// attempt per job.
	var publishes, attempts int
	require.NoError(t, b.admin.QueryRow(ctx, `
		SELECT count(*) FROM bulwark.transition_log l JOIN app.article_schedules s ON s.article_id = l.entity_id
		WHERE l.transition = 'publish'`).Scan(&publishes))
	require.Equal(t, n, publishes)
	require.NoError(t, b.admin.QueryRow(ctx, `SELECT coalesce(sum(attempt), 0) FROM river.river_job WHERE kind = 'bulwark.scheduled_publish'`).Scan(&attempts))
	require.Equal(t, n, attempts)

	// Both runners took part.
	rows, err := b.admin.Query(ctx, `
		SELECT attempted_by[1], count(*) FROM river.river_job
		WHERE kind = 'bulwark.scheduled_publish' GROUP BY 1 ORDER BY 1`)
	require.NoError(t, err)
	byWorker := map[string]int{}
	for rows.Next() {
		var who string
		var count int
		require.NoError(t, rows.Scan(&who, &count))
		byWorker[who] = count
	}
	require.NoError(t, rows.Err())
	t.Logf("jobs per runner: %v", byWorker)
	require.Len(t, byWorker, 2, "both runners worked: %v", byWorker)
}

func TestRetention(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	old := b.approved(t)
	old, err := b.svc.Publish(ctx, b.pat, articles.TransitionRequest{ID: old.ID}, nil)
	require.NoError(t, err)
	time.Sleep(300 * time.Millisecond)

	b.runner(t, &jobs.RunnerOpts{RetentionAge: 200 * time.Millisecond, RetentionInterval: time.Hour})
	require.Eventually(t, func() bool {
		return b.article(t, old.ID).State == string(articles.StateArchived)
	}, 20*time.Second, 20*time.Millisecond)
	entries, err := b.q.TransitionLogByEntity(ctx, b.admin, old.ID)
	require.NoError(t, err)
	last := entries[len(entries)-1]
	require.Equal(t, "archive", last.Transition)
	require.Equal(t, b.retention, *last.ActorID)
	// The retention principal holds article.archive only: it archives
	// through its own policy (expiry), and cannot publish.
	_, err = b.svc.Publish(ctx, b.retention, articles.TransitionRequest{ID: b.approved(t).ID}, nil)
	require.ErrorIs(t, err, fault.ErrPermission)
	// An article published after the cut-off is refused by the policy.
	fresh, err := b.svc.Publish(ctx, b.pat, articles.TransitionRequest{ID: b.approved(t).ID}, nil)
	require.NoError(t, err)
	_, err = b.svc.ArchiveExpired(ctx, b.retention, articles.ArchiveExpiredRequest{ID: fresh.ID, PublishedBefore: time.Now().Add(-time.Hour)}, nil)
	var e *fault.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, articles.CodeNotExpired, e.Code)
}

// insertJob inserts a job row as pool's role could (a job runner's, or
// the owner's), due now, and returns its id.
func insertJob(t *testing.T, pool *pgxpool.Pool, kind, args string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, pool.QueryRow(context.Background(), `
		INSERT INTO river.river_job (args, kind, max_attempts, queue, state, scheduled_at, priority)
		VALUES ($1::jsonb, $2, 25, 'default', 'available', pg_catalog.now(), 1)
		RETURNING id`, args, kind).Scan(&id))
	return id
}

func requireCode(t *testing.T, err error, layer fault.Layer, code string) {
	t.Helper()
	var e *fault.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, layer, e.Layer, "%v", err)
	require.Equal(t, code, e.Code, "%v", err)
}
