package authz

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"
)

type correlationKey struct{}

// WithCorrelationID returns a context carrying id. The gate hands it to the
// observer and to the database (bulwark.transition_log.correlation_id),
// unless an OpenTelemetry trace is active: see [CorrelationID].
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationKey{}, id)
}

// CorrelationID returns the context's correlation id: the id of the active
// OpenTelemetry trace (32 lower-case hex digits, as in a W3C traceparent)
// when the context carries a valid span context, so that an audit row
// leads to its trace; otherwise the id set with [WithCorrelationID], or "".
func CorrelationID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	id, _ := ctx.Value(correlationKey{}).(string)
	return id
}

// ensureCorrelationID returns ctx with a correlation id, and the id. It
// generates one when the context has none, or one unfit for a log (longer
// than 200 bytes, not UTF-8, or with control characters): a bad header must
// not fail the request, nor reach the audit log.
func ensureCorrelationID(ctx context.Context) (context.Context, string) {
	if id := CorrelationID(ctx); validCorrelationID(id) {
		return ctx, id
	}
	id := uuid.NewString()
	return WithCorrelationID(ctx, id), id
}

func validCorrelationID(id string) bool {
	return id != "" && len(id) <= 200 && utf8.ValidString(id) && !strings.ContainsFunc(id, unicode.IsControl)
}
