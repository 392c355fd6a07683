package authz

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/bulwarkdb/bulwark/fault"
)

// The interfaces below let requests and snapshots describe themselves, so
// that the gate derives what every action needs (the observer's target,
// the idempotency key, the version the caller pinned, the shape check)
// instead of each action repeating a closure for it. A request implements
// those that apply; an [Action]'s Func fields, when set, win over them.

// Keyed is a request that may carry an idempotency key: a retry with the
// same key is answered with the first call's result, never decided again.
// "" means no key.
type Keyed interface {
	IdempotencyKey() string
}

// Targeted is a request about one existing entity. The gate names it to
// the observer, keys its snapshot cache by it, and checks that a held
// snapshot is of it.
type Targeted interface {
	TargetID() uuid.UUID
}

// Pinned is a request the caller based on a version of its target that it
// saw (an If-Match, a version sent back from a rendered page). A snapshot
// at another version is a conflict that retrying does not resolve: the
// caller must look again. 0 means the caller pinned none, and the gate
// decides on its own snapshot.
type Pinned interface {
	PinnedVersion() int32
}

// Validator is a request that checks its own shape before anything else
// runs. A non-*fault.Error it returns becomes an invalid-input error.
type Validator interface {
	Validate() error
}

// Entity is a snapshot of one versioned row: sqlc's models get these
// methods beside them (see package db). The gate compares its version with
// a pinned one, caches it by id, and the transition function's version
// check refuses a write decided on an old one.
type Entity interface {
	EntityID() uuid.UUID
	EntityVersion() int32
}

// ByID is a request that names its target and nothing else: a read of one
// entity.
type ByID uuid.UUID

// TargetID returns the id.
func (id ByID) TargetID() uuid.UUID { return uuid.UUID(id) }

// Validate refuses the nil id.
func (id ByID) Validate() error {
	if uuid.UUID(id) == uuid.Nil {
		return Invalid(CodeMissingID, "an id is required")
	}
	return nil
}

// CodeMissingID is the invalid-input code for a nil target id.
const CodeMissingID = "missing_id"

// pinnedConflict is the conflict of a snapshot at another version than the
// caller pinned.
func pinnedConflict(id uuid.UUID, current, pinned int32) error {
	return &expectError{err: &fault.Error{
		Layer:  fault.LayerConflict,
		Code:   fault.CodeStaleVersion,
		Reason: fmt.Sprintf("%s is at version %d, not %d", id, current, pinned),
	}}
}
