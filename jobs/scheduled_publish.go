package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/authz"
)

// scheduledPublishWorker runs a scheduled publication through the articles
// service as the scheduler principal. Every decision (is the job the kit's,
// is the schedule due and still its own, may its creator still publish,
// what to record when not) is the service's: this adapter only translates
// its outcome into River's terms (snooze, cancel, retry).
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
	run, err := w.svc.RunScheduled(ctx, w.scheduler, articles.ScheduledRunRequest{
		JobID:       job.ID,
		LastAttempt: job.Attempt >= job.MaxAttempts,
		ScheduleID:  job.Args.ScheduleID,
		Token:       job.Args.Token,
	})
	if err != nil {
		return err // River retries, and the service decides again
	}
	switch run.Outcome {
	case articles.ScheduledNotQueued:
		return refuse(ctx, w.logger, job.Kind, job.ID, run.Why)
	case articles.ScheduledStale:
		w.logger.InfoContext(ctx, "bulwark job: stale scheduled publish, nothing to do",
			slog.Int64("job_id", job.ID), slog.String("schedule_id", run.Schedule.ID.String()), slog.String("state", run.Schedule.State))
		return nil
	case articles.ScheduledNotDue:
		return river.JobSnooze(run.Wait)
	case articles.ScheduledFailed:
		if run.EndedElsewhere != nil {
			w.logger.InfoContext(ctx, "bulwark job: schedule ended elsewhere meanwhile",
				slog.String("schedule_id", run.Schedule.ID.String()), slog.String("error", run.EndedElsewhere.Error()))
		}
		return cancel(ctx, w.logger, job.Kind, job.ID, run.Refusal)
	}
	return nil
}

// CodeCreatorLacksCapability: the schedule's creator no longer holds
// article.publish when it comes due.
const CodeCreatorLacksCapability = articles.CodeCreatorLacksCapability

// refuse ends a job the kit did not queue, doing nothing: River keeps the
// refusal in the job's errors, and it is logged at error level, since only
// someone with a job runner's credentials (or the owner's) could write it.
func refuse(ctx context.Context, logger *slog.Logger, kind string, jobID int64, why string) error {
	err := fmt.Errorf("job %d (%s): %s: %w", jobID, kind, why, ErrNotQueuedByKit)
	logger.ErrorContext(ctx, "bulwark job: refused a job the kit did not queue",
		slog.Int64("job_id", jobID), slog.String("kind", kind), slog.String("why", why))
	return river.JobCancel(err)
}
