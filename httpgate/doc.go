// Package httpgate is the HTTP side of the gate: it turns a layered error
// into an RFC 9457 problem (application/problem+json) with the status the
// layer calls for, and reads what a request says about idempotency and the
// version it was based on from the conventional headers.
//
// The package's rule: it only translates. It decides nothing the gate
// decides, reads no database, and never shows a caller server text or
// internals: what it writes comes from the error's layer, code and reason
// ([fault.Error]), which bulwark already keeps free of both.
//
// # Problems
//
// [WriteError] answers a request with the problem for err:
//
//	HTTP/1.1 409 Conflict
//	Content-Type: application/problem+json
//	Retry-After: 1
//
//	{
//	  "type": "urn:bulwark:problem:conflict/stale_version",
//	  "title": "Conflict",
//	  "status": 409,
//	  "detail": "article 0b4c… is at version 4, not 3",
//	  "layer": "conflict",
//	  "code": "stale_version",
//	  "retryable": true,
//	  "correlation_id": "9f6c…"
//	}
//
// The type is one URI per layer and code ([ProblemOpts].TypeBase, then
// layer/code), so a client switches on it, or on the code, never on the
// detail. Statuses follow [fault.HTTPStatus] (invalid 400, permission 403,
// not_found 404, conflict 409, policy 422, invariant 500, unavailable 503),
// with one refinement: a stale-version conflict on a request that carried
// If-Match is 412 Precondition Failed, because the version the client
// pinned is gone and sending the same request again cannot succeed. A
// retryable conflict (a lost race) and unavailable get Retry-After;
// nothing else does. An invariant failure, and an error that names no
// layer, is a 500 whose detail says only that the server failed: their
// reasons name constraints and tables. Unavailable's detail is a generic
// sentence too: its reason is the outage's error.
//
// # Headers
//
// [IdempotencyKey] reads Idempotency-Key (a bare key, or a quoted
// structured-field string as the IETF draft writes it). [IfMatch] reads
// If-Match as one strong entity tag holding a version ("3"), which is what
// [ETag] writes and [SetETag] sends. Malformed headers are invalid-input
// errors, which [WriteError] answers with 400.
//
// # Correlation
//
// [Correlate] gives every request a correlation id (the caller's
// X-Request-Id when it is a plain token, else a new one) before the gate
// sees it, so the id in a problem is the id in bulwark.transition_log and
// in the gate's decision records.
package httpgate
