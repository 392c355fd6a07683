package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/db"
)

// scheduledPublishWorker publishes a scheduled article through the gate as
// the scheduler principal, and ends the schedule in the same transaction.
type scheduledPublishWorker struct {
	river.WorkerDefaults[ScheduledPublishArgs]
	logger    *slog.Logger
	pool      *pgxpool.Pool
	scheduler uuid.UUID
	svc       *articles.Service
}

// NextRetry retries conflicts soon: someone else just moved the article.
func (w *scheduledPublishWorker) NextRetry(job *river.Job[ScheduledPublishArgs]) time.Time {
	return backoff(job.Attempt)
}

func (w *scheduledPublishWorker) Work(ctx context.Context, job *river.Job[ScheduledPublishArgs]) error {
	ctx = authz.WithCorrelationID(ctx, fmt.Sprintf("river-job-%d-attempt-%d", job.ID, job.Attempt))
	sched, err := db.New().ArticleScheduleGetByID(ctx, w.pool, job.Args.ScheduleID)
	if err != nil {
		if errors.Is(db.InterpretError(err), db.ErrNotFound) {
			return river.JobCancel(fmt.Errorf("schedule %s does not exist", job.Args.ScheduleID))
		}
		return fmt.Errorf("load schedule: %w", err)
	}
	if sched.State != articles.SchedulePending || sched.Token != job.Args.Token {
		// Moved, cancelled or already done: another job (or a person) owns
		// it now. Nothing to do.
		w.logger.InfoContext(ctx, "bulwark job: stale scheduled publish, nothing to do",
			slog.Int64("job_id", job.ID), slog.String("schedule_id", sched.ID.String()), slog.String("state", sched.State))
		return nil
	}

	err = db.WithTx(ctx, w.pool, func(tx pgx.Tx) error {
		opts := &authz.DoOpts{Tx: tx}
		if _, err := w.svc.Publish(ctx, w.scheduler, articles.TransitionRequest{
			ID:      sched.ArticleID,
			IdemKey: "schedule:" + sched.Token.String(),
		}, opts); err != nil {
			return err
		}
		_, err := w.svc.EndSchedule(ctx, w.scheduler, articles.EndScheduleRequest{
			ID:         sched.ID,
			Token:      sched.Token,
			Transition: "complete",
		}, opts)
		return err
	})
	if err == nil {
		return nil
	}
	e, isFinal := final(err)
	if !isFinal {
		return err // a conflict or an outage: River retries, and the gate decides again
	}
	// Record why on the schedule (a separate transaction: the publication
	// rolled back), then cancel the job. Recording needs only
	// article.schedule, so it works even when publishing was revoked.
	if _, endErr := w.svc.EndSchedule(ctx, w.scheduler, articles.EndScheduleRequest{
		ID:         sched.ID,
		Token:      sched.Token,
		Transition: "fail",
		Outcome:    e,
	}, nil); endErr != nil {
		w.logger.WarnContext(ctx, "bulwark job: could not record the failed schedule",
			slog.String("schedule_id", sched.ID.String()), slog.String("error", endErr.Error()))
	}
	return cancel(ctx, w.logger, job.Kind, job.ID, e)
}
