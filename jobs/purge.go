package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/bulwarkdb/bulwark/db"
)

// DefaultPurgeInterval is how often the leader purges expired idempotency
// keys (older than bulwark.idempotency_ttl(), 24 hours).
const DefaultPurgeInterval = time.Hour

// purgeBatch is how many keys one call of bulwark.idempotency_purge removes:
// a short transaction each, so the purge never holds locks for long.
const purgeBatch = 10000

// PurgeArgs is the periodic job that removes expired idempotency keys.
type PurgeArgs struct{}

// Kind is River's name for the job.
func (PurgeArgs) Kind() string { return "bulwark.idempotency_purge" }

// purgeWorker removes expired idempotency keys in batches, each its own
// transaction, until a batch comes back short. It acts on nothing a job's
// arguments say: a forged purge job removes only what has expired anyway.
type purgeWorker struct {
	river.WorkerDefaults[PurgeArgs]
	logger *slog.Logger
	pool   *pgxpool.Pool
}

func (w *purgeWorker) Work(ctx context.Context, _ *river.Job[PurgeArgs]) error {
	total := 0
	for {
		var n int
		if err := w.pool.QueryRow(ctx, `SELECT bulwark.idempotency_purge($1)`, purgeBatch).Scan(&n); err != nil {
			return fmt.Errorf("purge idempotency keys: %w", db.InterpretError(err))
		}
		total += n
		if n < purgeBatch {
			break
		}
	}
	w.logger.InfoContext(ctx, "bulwark: purged expired idempotency keys", slog.Int("keys", total))
	return nil
}

// purgePeriodic is the leader's schedule for purgeWorker.
func purgePeriodic(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(
		river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return PurgeArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true},
	)
}
