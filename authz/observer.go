package authz

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/bulwarkdb/bulwark/fault"
)

// Outcome is how a gate call ended.
type Outcome string

const (
	// OutcomeAllowed: the action ran and its result was returned.
	OutcomeAllowed Outcome = "allowed"
	// OutcomeDenied: the permission or policy layer said no.
	OutcomeDenied Outcome = "denied"
	// OutcomeFailed: invalid input, not found, a conflict, an invariant
	// failure or an infrastructure error.
	OutcomeFailed Outcome = "failed"
)

// Record describes one decision of the gate.
type Record struct {
	Action     string
	Capability Capability
	Code       string // "" when allowed
	// Concealed says the caller was answered not found for a read the
	// policy refused ([Action].Conceal), so that the answer does not reveal
	// that the target exists. Err, Layer and Code are the refusal's.
	Concealed     bool
	CorrelationID string
	Duration      time.Duration
	Err           error
	Layer         fault.Layer // "" when allowed or for errors that name no layer
	Outcome       Outcome
	PrincipalID   uuid.UUID
	Target        string
}

// Observer receives every decision of the gate. It is called synchronously
// on the request path: keep it fast.
type Observer interface {
	Observe(ctx context.Context, rec Record)
}

// ObserverFunc adapts a function to [Observer].
type ObserverFunc func(ctx context.Context, rec Record)

// Observe calls f.
func (f ObserverFunc) Observe(ctx context.Context, rec Record) { f(ctx, rec) }

// SlogObserver logs decisions with log/slog: allowed at Info, denials,
// conflicts and bad input at Warn, invariant failures and errors that name no
// layer at Error. An invariant failure means the layers above let through
// something the database had to refuse: a defect to fix, not a user error.
type SlogObserver struct {
	Logger *slog.Logger // nil means slog.Default()
}

// Observe logs rec.
func (o *SlogObserver) Observe(ctx context.Context, rec Record) {
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	level := slog.LevelInfo
	msg := "bulwark: allowed"
	switch {
	case rec.Outcome == OutcomeAllowed:
	case rec.Layer == fault.LayerInvariant:
		level, msg = slog.LevelError, "bulwark: invariant violated (defect: the database refused what the layers above let through)"
	case rec.Layer == "":
		level, msg = slog.LevelError, "bulwark: failed"
	case rec.Outcome == OutcomeDenied:
		level, msg = slog.LevelWarn, "bulwark: denied"
	default:
		level, msg = slog.LevelWarn, "bulwark: refused"
	}
	attrs := []slog.Attr{
		slog.String("action", rec.Action),
		slog.String("capability", string(rec.Capability)),
		slog.String("principal_id", rec.PrincipalID.String()),
		slog.String("target", rec.Target),
		slog.String("outcome", string(rec.Outcome)),
		slog.String("correlation_id", rec.CorrelationID),
		slog.Duration("duration", rec.Duration),
	}
	if rec.Outcome != OutcomeAllowed {
		attrs = append(attrs, slog.String("layer", string(rec.Layer)), slog.String("code", rec.Code))
		if rec.Concealed {
			attrs = append(attrs, slog.Bool("concealed", true))
		}
		if rec.Err != nil {
			attrs = append(attrs, slog.String("error", rec.Err.Error()))
		}
	}
	logger.LogAttrs(ctx, level, msg, attrs...)
}
