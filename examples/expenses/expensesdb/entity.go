// Scaffolded by `bulwark new` from expense.json; yours to edit (bulwark new
// overwrites it only with --force).

package expensesdb

import "github.com/google/uuid"

// The row type describes itself to the gate (package authz's Entity): which
// row it is and at which version, so that the gate compares a caller's
// pinned version and keys its snapshot cache. Hand-written beside the
// models sqlc generates.

// EntityID returns the row's id.
func (r Claim) EntityID() uuid.UUID { return r.ID }

// EntityVersion returns the row's version.
func (r Claim) EntityVersion() int32 { return r.Version }
