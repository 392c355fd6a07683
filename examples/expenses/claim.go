package expenses

import (
	"github.com/google/uuid"

	"github.com/bulwarkdb/bulwark/examples/expenses/expensesdb"
)

// Claim is an expense claim's row as the database returned it.
type Claim = expensesdb.Claim

// CreateRequest creates a draft claimed by the acting principal.
type CreateRequest struct {
	AmountCents int64
	Description string
	IdemKey     string // optional: a retry with the same key returns the first result
}

// EditRequest changes a draft's amount or description. A nil field keeps
// its value.
type EditRequest struct {
	ID              uuid.UUID
	AmountCents     *int64
	Description     *string
	ExpectedVersion int32 // the version the caller saw; 0 means the gate's snapshot
	IdemKey         string
}

// TransitionRequest moves a claim along the workflow.
type TransitionRequest struct {
	ID uuid.UUID
	// ExpectedVersion is the version the caller saw; a different current
	// version is a conflict that retrying does not resolve. 0 means the
	// gate's own snapshot.
	ExpectedVersion int32
	IdemKey         string
	Note            string // Reject only: why, required
}

// What the requests say about themselves to the gate (package authz's
// Keyed, Targeted, Pinned): the gate derives the idempotency key, the
// observer's target and the version check from them.

// IdempotencyKey returns the request's key.
func (req CreateRequest) IdempotencyKey() string { return req.IdemKey }

// TargetID returns the claim.
func (req EditRequest) TargetID() uuid.UUID { return req.ID }

// IdempotencyKey returns the request's key.
func (req EditRequest) IdempotencyKey() string { return req.IdemKey }

// PinnedVersion returns the version the caller saw, or 0.
func (req EditRequest) PinnedVersion() int32 { return req.ExpectedVersion }

// TargetID returns the claim.
func (req TransitionRequest) TargetID() uuid.UUID { return req.ID }

// IdempotencyKey returns the request's key.
func (req TransitionRequest) IdempotencyKey() string { return req.IdemKey }

// PinnedVersion returns the version the caller saw, or 0.
func (req TransitionRequest) PinnedVersion() int32 { return req.ExpectedVersion }
