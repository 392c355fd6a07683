package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/bulwarkdb/bulwark/otelbulwark"
	"github.com/bulwarkdb/bulwark/sql/schema"
)

// MetricQueueDepth is the gauge of River's jobs per queue that are
// available (due, waiting for a worker) or running, read from River's
// table when the metrics are collected.
const MetricQueueDepth = "bulwark.jobs.queue.depth"

// queueDepthTimeout bounds one reading: a scrape must not hang on a
// database that stopped answering.
const queueDepthTimeout = 5 * time.Second

// registerQueueDepth registers MetricQueueDepth for queues. The caller
// unregisters it when the runner stops, so nothing reads a closed pool.
func registerQueueDepth(mp metric.MeterProvider, client *river.Client[pgx.Tx], queues []string) (metric.Registration, error) {
	meter := mp.Meter(otelbulwark.ScopeName)
	gauge, err := meter.Int64ObservableGauge(MetricQueueDepth,
		metric.WithUnit("{job}"),
		metric.WithDescription("River's jobs per queue that are available (due, waiting for a worker) or running."))
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", MetricQueueDepth, err)
	}
	reg, err := meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, queueDepthTimeout)
		defer cancel()
		// River's own count, the one its UI shows: two index scans.
		counts, err := client.Driver().GetExecutor().JobCountByQueueAndState(ctx, &riverdriver.JobCountByQueueAndStateParams{
			QueueNames: queues,
			Schema:     schema.RiverSchema,
		})
		if err != nil {
			return fmt.Errorf("count river jobs: %w", err)
		}
		for _, c := range counts {
			o.ObserveInt64(gauge, c.CountAvailable, metric.WithAttributes(attribute.String("queue", c.Queue), attribute.String("state", "available")))
			o.ObserveInt64(gauge, c.CountRunning, metric.WithAttributes(attribute.String("queue", c.Queue), attribute.String("state", "running")))
		}
		return nil
	}, gauge)
	if err != nil {
		return nil, fmt.Errorf("register %s: %w", MetricQueueDepth, err)
	}
	return reg, nil
}
