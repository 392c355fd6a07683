package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/jobs"
	"github.com/bulwarkdb/bulwark/otelbulwark"
)

// TestRunnerTelemetry works a scheduled publication with in-memory
// exporters: River's span for the job is the ancestor of the gate's, the
// audit row's correlation id is their trace id, and the metrics include
// the gate's, River's and the queue's depth.
func TestRunnerTelemetry(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	metrics := func() map[string]metricdata.Metrics {
		var rm metricdata.ResourceMetrics
		require.NoError(t, reader.Collect(ctx, &rm))
		byName := map[string]metricdata.Metrics{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				byName[m.Name] = m
			}
		}
		return byName
	}
	depth := func(state string) int64 {
		want := attribute.NewSet(attribute.String("queue", "default"), attribute.String("state", state))
		for _, dp := range metrics()[jobs.MetricQueueDepth].Data.(metricdata.Gauge[int64]).DataPoints {
			if dp.Attributes.Equals(&want) {
				return dp.Value
			}
		}
		t.Fatalf("no %s data point for state %s", jobs.MetricQueueDepth, state)
		return 0
	}

	// Due before the runner starts: it waits in the queue.
	a := b.approved(t)
	s, err := b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: a.ID, At: time.Now().Add(-time.Second)}, nil)
	require.NoError(t, err)
	r, err := jobs.NewRunner(ctx, b.jobsPool, &jobs.RunnerOpts{FetchPollInterval: 50 * time.Millisecond, Logger: quiet, MeterProvider: mp, TracerProvider: tp})
	require.NoError(t, err)
	require.Equal(t, int64(1), depth("available"))
	require.Equal(t, int64(0), depth("running"))

	require.NoError(t, r.Start(ctx))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, r.Stop(stopCtx))
	})
	require.Equal(t, articles.ScheduleDone, b.waitSchedule(t, s.ID).State)

	// River ends the job's span after the worker returns.
	var work tracetest.SpanStub
	require.Eventually(t, func() bool {
		for _, span := range spans.GetSpans() {
			if span.Name == "river.work/bulwark.scheduled_publish" {
				work = span
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond)
	byID := map[string]tracetest.SpanStub{}
	for _, span := range spans.GetSpans() {
		byID[span.SpanContext.SpanID().String()] = span
	}
	var publish *tracetest.SpanStub
	for _, span := range spans.GetSpans() {
		if span.Name != otelbulwark.SpanGate {
			continue
		}
		for _, kv := range span.Attributes {
			if kv.Key == otelbulwark.AttrAction && kv.Value.AsString() == "article.publish" {
				publish = &span
			}
		}
	}
	require.NotNil(t, publish, "the gate's span for the publication")
	require.Equal(t, work.SpanContext.TraceID(), publish.SpanContext.TraceID())
	// Up the parents from the gate's span: River's span for the job.
	ancestor := publish.Parent.SpanID().String()
	for ancestor != work.SpanContext.SpanID().String() {
		parent, ok := byID[ancestor]
		require.True(t, ok, "span %s is not under the job's span", ancestor)
		ancestor = parent.Parent.SpanID().String()
	}

	entries, err := b.q.TransitionLogByEntity(ctx, b.admin, a.ID)
	require.NoError(t, err)
	last := entries[len(entries)-1]
	require.Equal(t, "publish", last.Transition)
	require.Equal(t, work.SpanContext.TraceID().String(), *last.CorrelationID, "the audit row leads to the job's trace")

	require.Equal(t, int64(0), depth("available"))
	got := metrics()
	for _, name := range []string{otelbulwark.MetricDecisions, otelbulwark.MetricDuration, otelbulwark.MetricGrantsLookups, "river.work_count"} {
		require.Contains(t, got, name)
	}
}
