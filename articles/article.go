package articles

import (
	"time"

	"github.com/google/uuid"

	"github.com/bulwarkdb/bulwark/db"
)

// Article is an article's row as the database returned it.
type Article = db.AppArticle

// State is an article's workflow state.
type State string

const (
	StateApproved  State = "approved"
	StateArchived  State = "archived"
	StateDraft     State = "draft"
	StateInReview  State = "in_review"
	StatePublished State = "published"
)

// States lists every state.
func States() []State {
	return []State{StateDraft, StateInReview, StateApproved, StatePublished, StateArchived}
}

// CreateRequest creates a draft authored by the acting principal.
type CreateRequest struct {
	Body    string
	IdemKey string // optional: a retry with the same key returns the first result
	Title   string
}

// EditRequest changes a draft's content. A nil field keeps its value.
type EditRequest struct {
	ID              uuid.UUID
	Body            *string
	ExpectedVersion int32 // the version the caller saw; 0 means the gate's snapshot
	IdemKey         string
	Slug            *string
	Summary         *string
	Title           *string
}

// TransitionRequest moves an article along the workflow.
type TransitionRequest struct {
	ID uuid.UUID
	// ExpectedVersion is the version the caller saw; a different current
	// version is a conflict that retrying does not resolve. 0 means the
	// gate's own snapshot, which is what lets a retrying call
	// (authz.DoOpts.Retry) re-decide on fresh state.
	ExpectedVersion int32
	IdemKey         string
	Note            string // RequestChanges only: what to change
}

// ListRequest pages through the articles in one state, oldest first.
type ListRequest struct {
	After *Cursor // nil: from the start
	Limit int     // 1..100; 0 means 20
	State State
}

// Cursor is the position after which the next page starts.
type Cursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// Page is one page of a list.
type Page struct {
	Articles []Article
	Next     *Cursor // nil on the last page
}

// What the requests say about themselves to the gate (see package authz:
// Targeted, Keyed, Pinned): the gate derives the observer's target, the
// idempotency key and the version check from them.

// IdempotencyKey returns the request's key.
func (req CreateRequest) IdempotencyKey() string { return req.IdemKey }

// TargetID returns the article.
func (req EditRequest) TargetID() uuid.UUID { return req.ID }

// IdempotencyKey returns the request's key.
func (req EditRequest) IdempotencyKey() string { return req.IdemKey }

// PinnedVersion returns the version the caller saw, or 0.
func (req EditRequest) PinnedVersion() int32 { return req.ExpectedVersion }

// TargetID returns the article.
func (req TransitionRequest) TargetID() uuid.UUID { return req.ID }

// IdempotencyKey returns the request's key.
func (req TransitionRequest) IdempotencyKey() string { return req.IdemKey }

// PinnedVersion returns the version the caller saw, or 0.
func (req TransitionRequest) PinnedVersion() int32 { return req.ExpectedVersion }
