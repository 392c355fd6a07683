package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/jobs"
	"github.com/bulwarkdb/bulwark/sql/schema"
)

type noopArgs struct{}

func (noopArgs) Kind() string { return "bench_noop" }

// BenchmarkJobs measures job throughput: River's own no-op job (the
// baseline) and the scheduled-publish path (load the schedule, publish
// through the gate as the scheduler, end the schedule: one transaction),
// in the same process and database, with 10 workers each. Compare the
// jobs/s metrics of the two sub-benchmarks; the absolute numbers depend on
// the machine. Run with a fixed count, e.g. -benchtime 300x.
func BenchmarkJobs(b *testing.B) {
	ctx := context.Background()
	bundle := setup(b)

	waitCount := func(b *testing.B, query string, want int) {
		b.Helper()
		for {
			var got int
			require.NoError(b, bundle.admin.QueryRow(ctx, query).Scan(&got))
			if got >= want {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	b.Run("RiverNoop", func(b *testing.B) {
		workers := river.NewWorkers()
		river.AddWorker(workers, river.WorkFunc(func(context.Context, *river.Job[noopArgs]) error { return nil }))
		client, err := river.NewClient(riverpgxv5.New(bundle.jobsPool), &river.Config{
			FetchCooldown:     10 * time.Millisecond,
			FetchPollInterval: 10 * time.Millisecond,
			Logger:            quiet,
			Queues:            map[string]river.QueueConfig{"bench": {MaxWorkers: 10}},
			Schema:            schema.RiverSchema,
			Workers:           workers,
		})
		require.NoError(b, err)
		var before int
		require.NoError(b, bundle.admin.QueryRow(ctx, `SELECT count(*) FROM river.river_job WHERE kind = 'bench_noop'`).Scan(&before))
		params := make([]river.InsertManyParams, b.N)
		for i := range params {
			params[i] = river.InsertManyParams{Args: noopArgs{}, InsertOpts: &river.InsertOpts{Queue: "bench"}}
		}
		_, err = client.InsertMany(ctx, params)
		require.NoError(b, err)

		b.ResetTimer()
		start := time.Now()
		require.NoError(b, client.Start(ctx))
		waitCount(b, `SELECT count(*) FROM river.river_job WHERE kind = 'bench_noop' AND state = 'completed'`, before+b.N)
		elapsed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
		require.NoError(b, client.Stop(ctx))
	})

	b.Run("ScheduledPublish", func(b *testing.B) {
		var before int
		require.NoError(b, bundle.admin.QueryRow(ctx, `SELECT count(*) FROM app.article_schedules WHERE state = 'done'`).Scan(&before))
		for range b.N {
			a := bundle.approved(b)
			_, err := bundle.svc.SchedulePublish(ctx, bundle.pat, articles.ScheduleRequest{ArticleID: a.ID, At: time.Now()}, nil)
			require.NoError(b, err)
		}
		runner, err := jobs.NewRunner(ctx, bundle.jobsPool, &jobs.RunnerOpts{FetchPollInterval: 10 * time.Millisecond, Logger: quiet, MaxWorkers: 10})
		require.NoError(b, err)

		b.ResetTimer()
		start := time.Now()
		require.NoError(b, runner.Start(ctx))
		waitCount(b, `SELECT count(*) FROM app.article_schedules WHERE state = 'done'`, before+b.N)
		elapsed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
		require.NoError(b, runner.Stop(ctx))
	})
}
