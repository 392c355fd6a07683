package fault

import (
	"errors"
	"net/http"
)

// Layer names the layer a failure belongs to. Each answers a different
// question, so callers react to it differently.
type Layer string

const (
	// LayerConflict: the world moved (a stale version, a lost race).
	LayerConflict Layer = "conflict"
	// LayerInvalid: the request itself is malformed.
	LayerInvalid Layer = "invalid"
	// LayerInvariant: the database refused what the layers above should have
	// prevented. A system defect, never the caller's fault to retry.
	LayerInvariant Layer = "invariant"
	// LayerNotFound: no such entity or principal.
	LayerNotFound Layer = "not_found"
	// LayerPermission: the principal lacks the capability.
	LayerPermission Layer = "permission"
	// LayerPolicy: the principal may attempt the action, but not on this
	// target in this context. Only the Go policy layer (package authz)
	// returns it; the database has no policies.
	LayerPolicy Layer = "policy"
	// LayerUnavailable: the database or a dependency did not answer (a lost
	// connection, a timeout), and the work gave up: no layer refused it.
	// Trying again later may succeed. Background work reports it when its
	// retries run out ([CodeRetriesExhausted]).
	LayerUnavailable Layer = "unavailable"
)

// layers are the declared layers, sorted.
var layers = []Layer{
	LayerConflict,
	LayerInvalid,
	LayerInvariant,
	LayerNotFound,
	LayerPermission,
	LayerPolicy,
	LayerUnavailable,
}

// Layers returns every declared layer, sorted. A layer string that is not
// among them is a defect: nothing maps it to a sentinel or a status.
func Layers() []Layer {
	return append([]Layer(nil), layers...)
}

// Declared reports whether l is one of the declared [Layers].
func (l Layer) Declared() bool {
	return l.Sentinel() != nil
}

// Sentinels, one per layer, for errors.Is. Every *Error matches the sentinel
// of its layer.
var (
	// ErrConflict reports that the world moved: a stale version or a lost
	// race. Retrying with fresh state may succeed (see [Error.Retryable]).
	ErrConflict = errors.New("bulwark: conflict")
	// ErrInvalid reports malformed input. Retrying the same input cannot help.
	ErrInvalid = errors.New("bulwark: invalid input")
	// ErrInvariant reports that the database refused a change that would
	// have broken an invariant. Retrying cannot help; it is a defect upstream.
	ErrInvariant = errors.New("bulwark: invariant violated")
	// ErrNotFound reports that the entity or principal does not exist.
	ErrNotFound = errors.New("bulwark: not found")
	// ErrPermission reports that the principal lacks the capability (or is
	// unknown or inactive). Returned by the gate before any database write,
	// and by the database when a caller skipped the gate. Retrying cannot
	// help.
	ErrPermission = errors.New("bulwark: permission denied")
	// ErrPolicy reports that a policy denied the request in its context.
	// Returned only by package authz. Retrying the same request on the same
	// state cannot help.
	ErrPolicy = errors.New("bulwark: denied by policy")
	// ErrUnavailable reports that the database or a dependency did not
	// answer and the work gave up. Trying again later may succeed.
	ErrUnavailable = errors.New("bulwark: unavailable")
)

// Sentinel returns the sentinel error of l, or nil for a layer that is not
// declared.
func (l Layer) Sentinel() error {
	switch l {
	case LayerConflict:
		return ErrConflict
	case LayerInvalid:
		return ErrInvalid
	case LayerInvariant:
		return ErrInvariant
	case LayerNotFound:
		return ErrNotFound
	case LayerPermission:
		return ErrPermission
	case LayerPolicy:
		return ErrPolicy
	case LayerUnavailable:
		return ErrUnavailable
	}
	return nil
}

// HTTPStatus returns the HTTP status a service answers a failure of layer
// l with: invalid 400, permission 403, not_found 404, conflict 409, policy
// 422, invariant 500, unavailable 503; 500 for a layer that is not
// declared.
func (l Layer) HTTPStatus() int {
	switch l {
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
	case LayerUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// LayerOf returns the layer of err if it is (or wraps) an *Error, and ""
// otherwise.
func LayerOf(err error) Layer {
	var e *Error
	if errors.As(err, &e) {
		return e.Layer
	}
	return ""
}

// HTTPStatus maps an error to the HTTP status a service should answer with:
// its layer's ([Layer.HTTPStatus]). Errors that name no layer are 500; nil
// is 200.
func HTTPStatus(err error) int {
	if err == nil {
		return http.StatusOK
	}
	return LayerOf(err).HTTPStatus()
}
