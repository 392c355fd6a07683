package httpgate

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/bulwarkdb/bulwark/authz"
)

// maxRequestIDLength is the longest X-Request-Id taken over; the audit log
// keeps at most 200 characters of a correlation id.
const maxRequestIDLength = 200

// Correlate returns next with a correlation id in every request's context
// ([authz.WithCorrelationID]): the request's X-Request-Id when it is a
// plain token (1 to 200 of A-Z a-z 0-9 and - _ . : / + =), otherwise a new
// UUID. Under an active OpenTelemetry trace (an instrumenting middleware
// ran first) the trace id is the correlation id instead, as everywhere in
// bulwark. The response's X-Request-Id echoes the id in force. The gate
// writes it into
// bulwark.transition_log and [WriteError] into the problem, so a client's
// report, the decision log and the audit row meet on one id. A caller's
// id is taken over only when it is a token, so a header cannot put text
// into the audit log.
func Correlate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderRequestID)
		if !plainToken(id) {
			id = uuid.NewString()
		}
		ctx := authz.WithCorrelationID(r.Context(), id)
		// Under an active OpenTelemetry trace the trace id is the
		// correlation id (see authz.CorrelationID): echo the one in force.
		w.Header().Set(HeaderRequestID, authz.CorrelationID(ctx))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func plainToken(s string) bool {
	if s == "" || len(s) > maxRequestIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '.', c == ':', c == '/', c == '+', c == '=':
		default:
			return false
		}
	}
	return true
}
