package fault

import (
	"errors"
	"fmt"
)

// Error is a failure that names its layer. It wraps its cause (for a
// database error, the *pgconn.PgError, so logs keep the SQLSTATE). Every
// bulwark package returns this type, so errors.As works whichever layer
// refused.
type Error struct {
	// Cause is the underlying error, if any.
	Cause error
	// Code is a stable, machine-readable code such as "stale_version".
	Code string
	// Constraint is the violated constraint's name, for class 23 errors.
	Constraint string
	// Final marks a conflict that trying again would meet again (a reused
	// idempotency key, a taken name, a conflict its domain declared not
	// retryable): [Error.Retryable] then reports false. Errors of the
	// other layers are final whatever it says.
	Final bool
	// Layer is the layer that refused.
	Layer Layer
	// Reason is a human sentence safe to show a caller: bulwark's own text,
	// or an author's, never raw server text for errors bulwark did not
	// raise.
	Reason string
	// SQLState is the database's error code, when the database refused.
	SQLState string
}

// Error returns "bulwark: <layer> (<code>): <reason>".
func (e *Error) Error() string {
	return fmt.Sprintf("bulwark: %s (%s): %s", e.Layer, e.Code, e.Reason)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Is reports whether target is the sentinel of e's layer.
func (e *Error) Is(target error) bool {
	return target != nil && target == e.Layer.Sentinel()
}

// Retryable reports whether trying again, with fresh state or later, may
// succeed: true for conflicts caused by concurrent change (a stale version,
// a lost race, a deadlock) and for unavailable, false for every other layer
// and for a [Error.Final] conflict.
func (e *Error) Retryable() bool {
	return (e.Layer == LayerConflict || e.Layer == LayerUnavailable) && !e.Final
}

// IsRetryable reports whether err is (or wraps) an *Error that a fresh
// attempt may resolve ([Error.Retryable]). An error that names no layer is
// not: nothing says a retry can help.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable()
}
