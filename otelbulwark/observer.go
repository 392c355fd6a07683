package otelbulwark

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/fault"
)

// ScopeName is the instrumentation scope of the observer's tracer and
// meter.
const ScopeName = "github.com/bulwarkdb/bulwark/otelbulwark"

// Span names.
const (
	SpanGate  = "bulwark.gate"
	SpanRetry = "bulwark.retry"
)

// SpanStep returns the name of a step's span: "bulwark.permission", ...
func SpanStep(step authz.Step) string { return "bulwark." + string(step) }

// Attribute keys.
const (
	AttrAction        = attribute.Key("bulwark.action")
	AttrAttempt       = attribute.Key("bulwark.attempt")
	AttrAttempts      = attribute.Key("bulwark.attempts")
	AttrCapability    = attribute.Key("bulwark.capability")
	AttrCode          = attribute.Key("bulwark.code")
	AttrCorrelationID = attribute.Key("bulwark.correlation_id")
	AttrGrantsCache   = attribute.Key("bulwark.grants.cache")
	AttrGrantsChange  = attribute.Key("bulwark.grants.change")
	AttrGrantsScope   = attribute.Key("bulwark.grants.scope")
	AttrLayer         = attribute.Key("bulwark.layer")
	AttrOutcome       = attribute.Key("bulwark.outcome")
	AttrPrincipalID   = attribute.Key("bulwark.principal_id")
	AttrReplay        = attribute.Key("bulwark.replay")
	AttrRetryable     = attribute.Key("bulwark.retryable")
	AttrStep          = attribute.Key("bulwark.step")
	AttrTarget        = attribute.Key("bulwark.target")
)

// Metric names.
const (
	MetricChangeToEffect = "bulwark.grants.change_to_effect"
	MetricConflicts      = "bulwark.gate.conflicts"
	MetricDecisions      = "bulwark.gate.decisions"
	MetricDuration       = "bulwark.gate.duration"
	MetricGrantsLookups  = "bulwark.grants.lookups"
	MetricReplays        = "bulwark.gate.replays"
	MetricRetries        = "bulwark.gate.retries"
	MetricStepDuration   = "bulwark.gate.step.duration"
)

// ObserverOpts are options for [NewObserver]. A nil *ObserverOpts means
// defaults.
type ObserverOpts struct {
	// MeterProvider makes the observer's instruments. Default
	// otel.GetMeterProvider() (a no-op until the application sets one).
	MeterProvider metric.MeterProvider
	// Next also receives every decision, after the observer has recorded
	// it: an [authz.SlogObserver], say, to keep the log. Default: none.
	Next authz.Observer
	// TracerProvider makes the observer's spans. Default
	// otel.GetTracerProvider() (a no-op until the application sets one).
	TracerProvider trace.TracerProvider
}

// Observer traces and measures the gate: an [authz.StepObserver] for
// [authz.GateOpts] and an [authz.GrantsObserver] for [authz.GrantsOpts].
// It is safe for concurrent use.
type Observer struct {
	changeToEffect metric.Float64Histogram
	conflicts      metric.Int64Counter
	decisions      metric.Int64Counter
	duration       metric.Float64Histogram
	grantsLookups  metric.Int64Counter
	next           authz.Observer
	replays        metric.Int64Counter
	retries        metric.Int64Counter
	stepDuration   metric.Float64Histogram
	tracer         trace.Tracer
}

var (
	_ authz.GrantsObserver = (*Observer)(nil)
	_ authz.StepObserver   = (*Observer)(nil)
)

// latencyBuckets suit calls of a millisecond to seconds.
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// effectBuckets reach past authz.GrantsOpts.MaxAge's default (30s), the
// bound when a notification is lost.
var effectBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// NewObserver returns an observer recording to opts' providers. It
// returns an error only when the meter refuses an instrument.
func NewObserver(opts *ObserverOpts) (*Observer, error) {
	if opts == nil {
		opts = &ObserverOpts{}
	}
	mp, tp := opts.MeterProvider, opts.TracerProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	meter := mp.Meter(ScopeName)
	o := &Observer{next: opts.Next, tracer: tp.Tracer(ScopeName)}
	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := meter.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	histogram := func(name, desc string, buckets []float64) metric.Float64Histogram {
		h, err := meter.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc), metric.WithExplicitBucketBoundaries(buckets...))
		errs = append(errs, err)
		return h
	}
	o.conflicts = counter(MetricConflicts, "{call}", "Gate calls that ended in a conflict (the world moved), by action and code.")
	o.decisions = counter(MetricDecisions, "{call}", "Gate calls by action, outcome, and the refusing layer and code.")
	o.duration = histogram(MetricDuration, "Latency of a gate call, by action, outcome and layer.", latencyBuckets)
	o.grantsLookups = counter(MetricGrantsLookups, "{lookup}", "Principal lookups, by whether the grants cache answered (hit) or the database (miss).")
	o.replays = counter(MetricReplays, "{call}", "Gate calls whose idempotency key was used before: answered with the first call's result.")
	o.retries = counter(MetricRetries, "{attempt}", "Attempts of DoRetry after the first, by action.")
	o.changeToEffect = histogram(MetricChangeToEffect, "Time from a grant change's audit row to the grants cache dropping what it changed (database clock), by the change's transition (role_revoke: revoke-to-effect).", effectBuckets)
	o.stepDuration = histogram(MetricStepDuration, "Latency of a gate call's step, by action and step.", latencyBuckets)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("create instruments: %w", err)
	}
	return o, nil
}

// call is what the observer keeps of a gate call between StartCall and
// Observe.
type call struct {
	action string
	replay bool // set by the snapshot step; read by Observe on the same goroutine
	span   trace.Span
}

type (
	callKey struct{}
	stepKey struct{}
)

// StartCall starts the call's span, a child of ctx's span if any.
func (o *Observer) StartCall(ctx context.Context, info authz.CallInfo) context.Context {
	ctx, span := o.tracer.Start(ctx, SpanGate,
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(
			AttrAction.String(info.Action),
			AttrAttempt.Int(info.Attempt),
			AttrCapability.String(string(info.Capability)),
			AttrPrincipalID.String(info.PrincipalID.String()),
		))
	return context.WithValue(ctx, callKey{}, &call{action: info.Action, span: span})
}

// StartRetry starts the span of a DoRetry, the parent of its attempts.
func (o *Observer) StartRetry(ctx context.Context, info authz.CallInfo) (context.Context, func(int, error)) {
	ctx, span := o.tracer.Start(ctx, SpanRetry,
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(
			AttrAction.String(info.Action),
			AttrCapability.String(string(info.Capability)),
			AttrPrincipalID.String(info.PrincipalID.String()),
		))
	return ctx, func(attempts int, err error) {
		span.SetAttributes(AttrAttempts.Int(attempts), AttrCorrelationID.String(authz.CorrelationID(ctx)))
		setResult(span, err)
		span.End()
	}
}

// StartStep starts a step's span, a child of the call's.
func (o *Observer) StartStep(ctx context.Context, step authz.Step) (context.Context, func(authz.StepResult)) {
	c, _ := ctx.Value(callKey{}).(*call)
	start := time.Now()
	ctx, span := o.tracer.Start(ctx, SpanStep(step), trace.WithSpanKind(trace.SpanKindInternal))
	ctx = context.WithValue(ctx, stepKey{}, span)
	return ctx, func(res authz.StepResult) {
		if res.Replay {
			span.SetAttributes(AttrReplay.Bool(true))
			if c != nil {
				c.replay = true
			}
		}
		setResult(span, res.Err)
		span.End()
		if c != nil {
			o.stepDuration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(AttrAction.String(c.action), AttrStep.String(string(step))))
		}
	}
}

// Observe records the decision, ends the call's span and hands rec to
// Next.
func (o *Observer) Observe(ctx context.Context, rec authz.Record) {
	c, _ := ctx.Value(callKey{}).(*call)
	retryable := fault.IsRetryable(rec.Err)
	if c != nil {
		attrs := []attribute.KeyValue{
			AttrCorrelationID.String(rec.CorrelationID),
			AttrOutcome.String(string(rec.Outcome)),
			AttrReplay.Bool(c.replay),
			AttrRetryable.Bool(retryable),
			AttrTarget.String(rec.Target),
		}
		if rec.Outcome != authz.OutcomeAllowed {
			attrs = append(attrs, AttrLayer.String(string(rec.Layer)), AttrCode.String(rec.Code))
		}
		c.span.SetAttributes(attrs...)
		setResult(c.span, rec.Err)
		c.span.End()
	}

	decision := []attribute.KeyValue{AttrAction.String(rec.Action), AttrOutcome.String(string(rec.Outcome))}
	if rec.Outcome != authz.OutcomeAllowed {
		decision = append(decision, AttrLayer.String(string(rec.Layer)))
	}
	o.duration.Record(ctx, rec.Duration.Seconds(), metric.WithAttributes(decision...))
	if rec.Outcome != authz.OutcomeAllowed {
		decision = append(decision, AttrCode.String(rec.Code))
	}
	o.decisions.Add(ctx, 1, metric.WithAttributes(decision...))
	action := metric.WithAttributes(AttrAction.String(rec.Action))
	if rec.Layer == fault.LayerConflict {
		o.conflicts.Add(ctx, 1, metric.WithAttributes(AttrAction.String(rec.Action), AttrCode.String(rec.Code)))
	}
	if authz.Attempt(ctx) > 1 {
		o.retries.Add(ctx, 1, action)
	}
	if c != nil && c.replay {
		o.replays.Add(ctx, 1, action)
	}

	if o.next != nil {
		o.next.Observe(ctx, rec)
	}
}

// ObserveLookup counts the lookup and marks the permission step's span.
func (o *Observer) ObserveLookup(ctx context.Context, hit bool) {
	result := "miss"
	if hit {
		result = "hit"
	}
	if span, ok := ctx.Value(stepKey{}).(trace.Span); ok {
		span.SetAttributes(AttrGrantsCache.String(result))
	}
	o.grantsLookups.Add(ctx, 1, metric.WithAttributes(AttrGrantsCache.String(result)))
}

// ObserveInvalidation records how soon a grant change took effect.
func (o *Observer) ObserveInvalidation(ctx context.Context, change authz.GrantChange, ok bool) {
	if !ok {
		return
	}
	scope := "principal"
	if change.PrincipalID == uuid.Nil {
		scope = "all"
	}
	o.changeToEffect.Record(ctx, change.Lag.Seconds(), metric.WithAttributes(AttrGrantsChange.String(change.Transition), AttrGrantsScope.String(scope)))
}

// setResult sets a span's status from a gate error: Error for an invariant
// failure (a defect), and for unavailable or an error that names no layer
// (an outage); the layers' answers (denied, conflict, invalid, not found)
// leave it unset.
func setResult(span trace.Span, err error) {
	if err == nil {
		return
	}
	var e *fault.Error
	if !errors.As(err, &e) {
		span.RecordError(err)
		span.SetStatus(codes.Error, "error")
		return
	}
	span.SetAttributes(AttrLayer.String(string(e.Layer)), AttrCode.String(e.Code))
	if e.Layer == fault.LayerInvariant || e.Layer == fault.LayerUnavailable {
		span.RecordError(err)
		span.SetStatus(codes.Error, string(e.Layer)+": "+e.Code)
	}
}
