package jobs

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/fault"
)

// final reports whether err ends the job for good: a layered failure that
// no retry can change (the articles service's rule, [articles.Final]).
func final(err error) (*fault.Error, bool) { return articles.Final(err) }

// cancel ends the job without retries, keeping the layered error in
// River's record of the job.
func cancel(ctx context.Context, logger *slog.Logger, kind string, jobID int64, e *fault.Error) error {
	level := slog.LevelWarn
	msg := "bulwark job: refused, not retried"
	if e.Layer == fault.LayerInvariant {
		level, msg = slog.LevelError, "bulwark job: invariant violated (defect: the database refused what the layers above let through)"
	}
	logger.Log(ctx, level, msg,
		slog.String("kind", kind), slog.Int64("job_id", jobID),
		slog.String("layer", string(e.Layer)), slog.String("code", e.Code), slog.String("reason", e.Reason))
	return river.JobCancel(e)
}

// backoff is the retry delay for conflicts: short and jittered, since a
// conflict means someone else just moved the same row.
func backoff(attempt int) time.Time {
	d := maxBackoff(attempt)
	return time.Now().Add(d/2 + rand.N(d/2+1))
}

// maxBackoff is the longest retry delay after attempt.
func maxBackoff(attempt int) time.Duration {
	return 100 * time.Millisecond << min(attempt, 8)
}
