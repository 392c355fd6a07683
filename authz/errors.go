package authz

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/bulwarkdb/bulwark/db"
)

// Error is a failure that names its layer: invalid, permission, policy,
// conflict, invariant or not_found. It is the same type the db package
// returns, so errors.As works whichever layer refused.
type Error = db.Error

// Layer names the layer that refused.
type Layer = db.Layer

// The layers.
const (
	LayerConflict   = db.LayerConflict
	LayerInvalid    = db.LayerInvalid
	LayerInvariant  = db.LayerInvariant
	LayerNotFound   = db.LayerNotFound
	LayerPermission = db.LayerPermission
	LayerPolicy     = db.LayerPolicy
)

var (
	// ErrPermission reports that the principal lacks the capability (or is
	// unknown or inactive). Returned by the gate before any database write,
	// and by the database when a caller skipped the gate. Retrying cannot
	// help.
	ErrPermission = db.ErrPermission
	// ErrPolicy reports that a policy denied the request in its context.
	// Returned by the gate only. Retrying the same request on the same
	// state cannot help.
	ErrPolicy = db.ErrPolicy
	// ErrConflict reports that the world moved (stale version, lost race).
	// Re-running the gate on fresh state may succeed; see DoOpts.Retry.
	ErrConflict = db.ErrConflict
	// ErrInvariant reports that the database refused what the layers above
	// should have prevented: a defect. Retrying cannot help.
	ErrInvariant = db.ErrInvariant
	// ErrInvalid reports malformed input. Retrying cannot help.
	ErrInvalid = db.ErrInvalid
	// ErrNotFound reports that the target does not exist.
	ErrNotFound = db.ErrNotFound
)

// Codes the Go layers add to those of package db.
const (
	CodeInactivePrincipal = "inactive_principal"
	CodeUnknownPrincipal  = "unknown_principal"
)

// Invalid returns an invalid-input error with a stable code and a reason
// safe to show the caller.
func Invalid(code, reason string) *Error {
	return &Error{Layer: LayerInvalid, Code: code, Reason: reason}
}

// Denied returns the policy error for a denying decision.
func Denied(d Decision) *Error {
	return &Error{Layer: LayerPolicy, Code: d.Code, Reason: d.Reason}
}

func permissionError(code, reason string, cause error) *Error {
	return &Error{Layer: LayerPermission, Code: code, Reason: reason, Cause: cause}
}

func missingCapability(p *Principal, c Capability) *Error {
	return permissionError(db.CodeMissingCapability, fmt.Sprintf("principal %s lacks capability %s", p.Name, c), nil)
}

// IsRetryable reports whether err is a conflict that a fresh attempt may
// resolve.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable()
}

// HTTPStatus maps an error to the HTTP status a service should answer with:
// invalid 400, permission 403, not_found 404, conflict 409, policy 422,
// invariant 500. Errors that name no layer are 500; nil is 200.
func HTTPStatus(err error) int {
	if err == nil {
		return http.StatusOK
	}
	switch db.ErrorLayer(err) {
	case LayerInvalid:
		return http.StatusBadRequest
	case LayerPermission:
		return http.StatusForbidden
	case LayerNotFound:
		return http.StatusNotFound
	case LayerConflict:
		return http.StatusConflict
	case LayerPolicy:
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}
