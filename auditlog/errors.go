package auditlog

import (
	"errors"
	"fmt"
)

// ErrUnknownActor reports that [ResolveActor] found no principal of that
// name. Retrying cannot help.
var ErrUnknownActor = errors.New("auditlog: no such principal")

// ErrNotInstalled reports that the database has no bulwark schema, so
// there is no log to read. Retrying cannot help; migrate first.
var ErrNotInstalled = errors.New("auditlog: bulwark is not installed in this database (no bulwark.transition_log)")

// ReadError reports that a query of the log failed, typically a missing
// privilege or a lost connection. It wraps the cause.
type ReadError struct {
	// What names what was being read.
	What  string
	Cause error
}

func (e *ReadError) Error() string { return fmt.Sprintf("auditlog: read %s: %v", e.What, e.Cause) }

// Unwrap returns the cause.
func (e *ReadError) Unwrap() error { return e.Cause }
