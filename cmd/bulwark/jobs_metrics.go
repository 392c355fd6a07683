package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
)

// metricsServer serves the job runner's metrics to Prometheus: the
// OpenTelemetry instruments of the gate, the grants cache, River and the
// queue depth, through OpenTelemetry's Prometheus exporter, with Go's
// runtime and the process's own.
type metricsServer struct {
	addr     net.Addr
	provider *sdkmetric.MeterProvider
	server   *http.Server
	served   chan error
}

// startMetrics listens on addr and serves GET /metrics there. It returns
// an error when addr cannot be listened on.
func startMetrics(addr string, logger *slog.Logger) (*metricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics: %w", err)
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exporter, err := otelprom.New(
		otelprom.WithRegisterer(registry),
		// Prometheus's own naming: bulwark_gate_decisions_total,
		// bulwark_gate_duration_seconds_bucket, bulwark_action="...".
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
	)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("create prometheus exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", "bulwark-jobs")))
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("describe the service: %w", err)
	}
	// A failed reading (the queue depth while the database is away) leaves
	// the scrape with the other metrics and a warning in the log.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("bulwark jobs: metrics", slog.String("error", err.Error()))
	}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	m := &metricsServer{
		addr:     ln.Addr(),
		provider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter), sdkmetric.WithResource(res)),
		server:   &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		served:   make(chan error, 1),
	}
	go func() { m.served <- m.server.Serve(ln) }()
	return m, nil
}

// stop stops serving, waiting for scrapes under way until ctx is done.
func (m *metricsServer) stop(ctx context.Context) error {
	err := m.server.Shutdown(ctx)
	if serveErr := <-m.served; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return errors.Join(err, m.provider.Shutdown(ctx))
}
