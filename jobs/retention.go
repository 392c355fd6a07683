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
	"github.com/bulwarkdb/bulwark/fault"
)

// retentionWorker archives published articles older than age, one gate
// call each, as the retention principal.
type retentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	age       time.Duration
	logger    *slog.Logger
	pool      *pgxpool.Pool
	retention uuid.UUID
	svc       *articles.Service
}

func (w *retentionWorker) Work(ctx context.Context, job *river.Job[RetentionArgs]) error {
	ctx = authz.WithCorrelationID(ctx, fmt.Sprintf("river-job-%d-attempt-%d", job.ID, job.Attempt))
	cutoff := time.Now().Add(-w.age)
	archived, skipped := 0, 0
	for {
		page, err := w.svc.ListExpired(ctx, w.retention, articles.ListExpiredRequest{PublishedBefore: cutoff, Limit: 100})
		if err != nil {
			if e, isFinal := final(err); isFinal {
				return cancel(ctx, w.logger, job.Kind, job.ID, e)
			}
			return fmt.Errorf("list expired articles: %w", err)
		}
		progressed := false
		for _, a := range page {
			_, err := w.svc.ArchiveExpired(ctx, w.retention, articles.ArchiveExpiredRequest{ID: a.ID, PublishedBefore: cutoff}, nil)
			if err == nil {
				archived++
				progressed = true
				continue
			}
			e, isFinal := final(err)
			switch {
			case !isFinal:
				// Someone moved it meanwhile: the next run sees it again.
				skipped++
			case e.Layer == fault.LayerPolicy || e.Layer == fault.LayerNotFound:
				skipped++
			default:
				// Permission, invariant or invalid: every other article
				// would meet the same refusal. Stop this run.
				return cancel(ctx, w.logger, job.Kind, job.ID, e)
			}
		}
		// A page that moved nothing would come back unchanged.
		if !progressed {
			break
		}
	}
	w.logger.InfoContext(ctx, "bulwark job: retention run",
		slog.Int("archived", archived), slog.Int("skipped", skipped), slog.Time("cutoff", cutoff))
	return nil
}
