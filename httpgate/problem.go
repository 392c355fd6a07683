package httpgate

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/fault"
)

// ContentType is the media type of a problem (RFC 9457).
const ContentType = "application/problem+json"

// DefaultTypeBase prefixes problem type URIs unless [ProblemOpts].TypeBase
// says otherwise: "urn:bulwark:problem:conflict/stale_version". The URIs
// identify; they are not meant to be fetched.
const DefaultTypeBase = "urn:bulwark:problem:"

// CodeInternal is the code of a problem for an error that names no layer.
const CodeInternal = "internal"

// Problem is an RFC 9457 problem details object with bulwark's extension
// members: the layer and code that refused, whether a retry may help, and
// the correlation id that finds the request in the logs and in
// bulwark.transition_log.
type Problem struct {
	// Type identifies the problem: TypeBase + layer + "/" + code.
	Type string `json:"type"`
	// Title is the same for every problem of a type.
	Title string `json:"title"`
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Detail is the error's reason, safe to show; for an invariant failure
	// or an unlayered error, a generic sentence.
	Detail string `json:"detail,omitempty"`
	// Layer is the layer that refused ("" for an unlayered error).
	Layer string `json:"layer,omitempty"`
	// Code is the layer's stable code, such as "stale_version", or a
	// policy's reason code, such as "wrong_state".
	Code string `json:"code"`
	// Retryable reports whether sending the same request again may
	// succeed (after Retry-After).
	Retryable bool `json:"retryable"`
	// CorrelationID is the request's correlation id, when it has one.
	CorrelationID string `json:"correlation_id,omitempty"`
}

// ProblemOpts are options for [NewProblem] and [WriteError]. A nil
// *ProblemOpts means defaults.
type ProblemOpts struct {
	// RetryAfter is what Retry-After says on a retryable conflict, rounded
	// up to whole seconds. Default 1s.
	RetryAfter time.Duration
	// TypeBase prefixes every type URI, such as
	// "https://api.example.com/problems/". Default [DefaultTypeBase].
	TypeBase string
}

func (o *ProblemOpts) typeBase() string {
	if o == nil || o.TypeBase == "" {
		return DefaultTypeBase
	}
	return o.TypeBase
}

func (o *ProblemOpts) retryAfterSeconds() int {
	if o == nil || o.RetryAfter <= 0 {
		return 1
	}
	return int((o.RetryAfter + time.Second - 1) / time.Second)
}

// Details that replace reasons a caller must not see.
const (
	detailInternal    = "the server could not complete the request; quote the correlation id when reporting it"
	detailInvariant   = "the database refused a change the service should not have attempted: a defect; quote the correlation id when reporting it"
	detailUnavailable = "the service could not reach the database or a dependency in time; try again later"
)

var layerTitles = map[fault.Layer]string{
	fault.LayerConflict:    "Conflict",
	fault.LayerInvalid:     "Invalid request",
	fault.LayerInvariant:   "Invariant violated",
	fault.LayerNotFound:    "Not found",
	fault.LayerPermission:  "Permission denied",
	fault.LayerPolicy:      "Refused by policy",
	fault.LayerUnavailable: "Service unavailable",
}

// NewProblem returns the problem that answers r with err, which should be
// non-nil. It never fails: an error that names no layer is an internal
// problem (500).
func NewProblem(r *http.Request, err error, opts *ProblemOpts) *Problem {
	p := &Problem{CorrelationID: authz.CorrelationID(r.Context())}
	var e *fault.Error
	if !errors.As(err, &e) {
		p.Status, p.Title, p.Code, p.Detail = http.StatusInternalServerError, "Internal server error", CodeInternal, detailInternal
		p.Type = opts.typeBase() + CodeInternal
		return p
	}
	p.Layer, p.Code = string(e.Layer), e.Code
	p.Type = opts.typeBase() + string(e.Layer) + "/" + e.Code
	p.Status = fault.HTTPStatus(e)
	p.Title = layerTitles[e.Layer]
	p.Detail = e.Reason
	p.Retryable = e.Retryable()
	switch {
	case e.Layer == fault.LayerInvariant:
		p.Detail = detailInvariant
	case e.Layer == fault.LayerUnavailable:
		// Its reason is the outage's error, which may be the server's.
		p.Detail = detailUnavailable
	case e.Layer == fault.LayerConflict && e.Code == fault.CodeStaleVersion && pinned(r):
		// The client pinned a version that is gone: the same request
		// fails again until it fetches the current one.
		p.Status, p.Title, p.Retryable = http.StatusPreconditionFailed, "Precondition failed", false
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	return p
}

// pinned reports whether r pins a version with If-Match.
func pinned(r *http.Request) bool {
	v, err := IfMatch(r)
	return err == nil && v > 0
}

// WriteError answers r with the problem for err (see [NewProblem]): the
// status, Content-Type application/problem+json, Retry-After when a retry
// may help, and the problem as JSON. Call it before writing anything else.
func WriteError(w http.ResponseWriter, r *http.Request, err error, opts *ProblemOpts) {
	p := NewProblem(r, err, opts)
	if p.Retryable {
		w.Header().Set("Retry-After", strconv.Itoa(opts.retryAfterSeconds()))
	}
	WriteProblem(w, p)
}

// WriteProblem writes p as the response: its status, Content-Type
// application/problem+json and the problem as JSON. Use it for problems
// that are not the gate's, such as a failed authentication (401).
func WriteProblem(w http.ResponseWriter, p *Problem) {
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	// The client may be gone; there is no one left to tell.
	_ = json.NewEncoder(w).Encode(p)
}
