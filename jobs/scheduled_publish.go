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
	grants    *authz.Grants
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
	q := db.New()
	// Job runners can write River's table; only the schedule functions can
	// write the ledger. A job it does not name, as queued, is not ours.
	queued, err := q.ArticleScheduleJobGetByJobID(ctx, w.pool, job.ID)
	if err != nil {
		if errors.Is(db.InterpretError(err), db.ErrNotFound) {
			return refuse(ctx, w.logger, job.Kind, job.ID, "no schedule function queued it")
		}
		return fmt.Errorf("look up job %d in the schedule ledger: %w", job.ID, err)
	}
	if queued.ScheduleID != job.Args.ScheduleID || queued.Token != job.Args.Token {
		return refuse(ctx, w.logger, job.Kind, job.ID, fmt.Sprintf("its arguments are not those queued for schedule %s", queued.ScheduleID))
	}
	sched, err := q.ArticleScheduleGetByID(ctx, w.pool, queued.ScheduleID)
	if err != nil {
		return fmt.Errorf("load schedule: %w", err)
	}
	if sched.State != articles.SchedulePending || sched.Token != queued.Token {
		// Moved, cancelled or already done: another job (or a person) owns
		// it now. Nothing to do.
		w.logger.InfoContext(ctx, "bulwark job: stale scheduled publish, nothing to do",
			slog.Int64("job_id", job.ID), slog.String("schedule_id", sched.ID.String()), slog.String("state", sched.State))
		return nil
	}
	// The schedule's time, not the job's, decides: a job row made due
	// early (by someone with access to River's tables) waits.
	if wait := time.Until(sched.PublishAt); wait > 0 {
		return river.JobSnooze(wait)
	}
	// The schedule carries its creator's authority: a publisher who lost
	// article.publish since scheduling no longer gets it published.
	creator, err := w.grants.Principal(ctx, sched.CreatedBy)
	if err == nil && !creator.Can(articles.CanPublish) {
		err = &authz.Error{
			Layer:  authz.LayerPermission,
			Code:   CodeCreatorLacksCapability,
			Reason: fmt.Sprintf("%s, who scheduled it, no longer holds %s", creator.Name, articles.CanPublish),
		}
	}
	if err == nil {
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
	}
	if err == nil {
		return nil
	}
	e, isFinal := final(err)
	if !isFinal && job.Attempt < job.MaxAttempts {
		return err // a conflict or an outage: River retries, and the gate decides again
	}
	if !isFinal {
		// The last attempt: record why, so the schedule does not stay
		// pending (and block a new one) after River gives up.
		e = exhausted(err)
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
		if endE, ok := final(endErr); !ok || endE.Layer == authz.LayerPermission || endE.Layer == authz.LayerInvariant {
			// The failure is not on record: retry the job rather than
			// leave a pending schedule that nothing will finish.
			return fmt.Errorf("record failed schedule %s: %w", sched.ID, endErr)
		}
		// Someone ended or moved it meanwhile: that outcome stands.
		w.logger.InfoContext(ctx, "bulwark job: schedule ended elsewhere meanwhile",
			slog.String("schedule_id", sched.ID.String()), slog.String("error", endErr.Error()))
	}
	return cancel(ctx, w.logger, job.Kind, job.ID, e)
}

// CodeCreatorLacksCapability: the schedule's creator no longer holds
// article.publish when it comes due.
const CodeCreatorLacksCapability = "creator_lacks_capability"

// refuse ends a job the kit did not queue, doing nothing: River keeps the
// refusal in the job's errors, and it is logged at error level, since only
// someone with a job runner's credentials (or the owner's) could write it.
func refuse(ctx context.Context, logger *slog.Logger, kind string, jobID int64, why string) error {
	err := fmt.Errorf("job %d (%s): %s: %w", jobID, kind, why, ErrNotQueuedByKit)
	logger.ErrorContext(ctx, "bulwark job: refused a job the kit did not queue",
		slog.Int64("job_id", jobID), slog.String("kind", kind), slog.String("why", why))
	return river.JobCancel(err)
}

// exhausted describes a failure that retries did not cure: a conflict
// keeps its layer; an error that names none (an outage) is "unavailable".
func exhausted(err error) *authz.Error {
	e := &authz.Error{Layer: "unavailable", Code: "retries_exhausted", Reason: err.Error(), Cause: err}
	var layered *authz.Error
	if errors.As(err, &layered) {
		e.Layer, e.Reason = layered.Layer, layered.Reason
	}
	return e
}
