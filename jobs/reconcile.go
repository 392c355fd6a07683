package jobs

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/fault"
)

// reconcilePage is how many jobless schedules one query returns.
const reconcilePage = 100

// reconcileWorker keeps every pending schedule's job alive. It finds the
// pending schedules without a live job of the kit (deleted, cancelled or
// discarded by anyone but the kit, altered) and asks the database, as the
// scheduler principal, to queue another; the database checks all of it
// again under the schedule's lock, and fails a schedule whose job was lost
// too often.
type reconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	logger    *slog.Logger
	pool      *pgxpool.Pool
	scheduler uuid.UUID
	svc       *articles.Service
}

func (w *reconcileWorker) Work(ctx context.Context, job *river.Job[ReconcileArgs]) error {
	ctx = authz.WithCorrelationID(ctx, fmt.Sprintf("river-job-%d-attempt-%d", job.ID, job.Attempt))
	requeued, failed, skipped := 0, 0, 0
	// A schedule is handled once per run: one that still lacks a job after
	// its requeue (its new job lost at once) waits for the next run.
	seen := make(map[uuid.UUID]bool)
	for {
		page, err := w.svc.ListJobless(ctx, w.scheduler, articles.ListJoblessRequest{Limit: reconcilePage})
		if err != nil {
			if e, isFinal := final(err); isFinal {
				return cancel(ctx, w.logger, job.Kind, job.ID, e)
			}
			return fmt.Errorf("list schedules without a job: %w", err)
		}
		progressed := false
		for _, s := range page {
			if seen[s.ID] {
				continue
			}
			seen[s.ID] = true
			progressed = true
			got, err := w.svc.RequeueSchedule(ctx, w.scheduler, articles.RequeueScheduleRequest{ID: s.ID, Token: s.Token}, nil)
			if err == nil {
				if got.State == articles.ScheduleFailed {
					failed++
					w.logger.WarnContext(ctx, "bulwark job: schedule failed: its job was lost too often",
						slog.String("schedule_id", got.ID.String()), slog.String("reason", deref(got.OutcomeReason)))
				} else {
					requeued++
					w.logger.WarnContext(ctx, "bulwark job: requeued a schedule whose job was lost",
						slog.String("schedule_id", got.ID.String()))
				}
				continue
			}
			e, isFinal := final(err)
			switch {
			case !isFinal, e.Layer == fault.LayerPolicy, e.Layer == fault.LayerNotFound:
				// Moved, ended or given a job meanwhile: the next run looks
				// again if it still has none.
				skipped++
			default:
				// Permission, invariant or invalid: every other schedule
				// would meet the same refusal.
				return cancel(ctx, w.logger, job.Kind, job.ID, e)
			}
		}
		if !progressed || len(page) < reconcilePage {
			break
		}
	}
	if requeued+failed+skipped > 0 {
		w.logger.InfoContext(ctx, "bulwark job: reconciled schedules",
			slog.Int("requeued", requeued), slog.Int("failed", failed), slog.Int("skipped", skipped))
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
