package authz

import (
	"context"

	"github.com/google/uuid"

	"github.com/bulwarkdb/bulwark/db"
)

// Action describes one thing a principal can do to a target of snapshot
// type S, with a request of type R, producing a T. Build the common shapes
// with [Transition], [Create], [Read] and [Query]; a struct literal serves
// the rest. What the request and the snapshot say about themselves
// ([Keyed], [Targeted], [Pinned], [Validator], [Entity]) fills in every Func
// field left nil.
type Action[S, R, T any] struct {
	// Name identifies the action to the observer, e.g. "article.publish".
	Name string
	// Capability is what the principal must hold to attempt the action.
	// Empty means any active principal may attempt it (reads whose policy
	// decides visibility).
	Capability Capability
	// ReadOnly actions only read: their result is what ActFunc makes of
	// the snapshot, and they never write.
	ReadOnly bool
	// Conceal makes a read the policy refuses answer like a missing row
	// (not found), so that a refusal does not reveal that the target
	// exists. The observer still sees the refusal, with its reason
	// ([Record].Concealed).
	Conceal bool
	// OneCall says ActFunc makes exactly one database call: the transition
	// function's, which is atomic on its own. The gate then sends it with
	// the correlation id in one round trip, in one implicit transaction. A
	// second call is refused before it is sent (the first has committed):
	// an action that needs several calls leaves OneCall false, and the gate
	// runs ActFunc in a transaction of its own. The constructors set it.
	OneCall bool
	// ReadsBeyondTarget says the snapshot holds facts about rows other
	// than its target (another article's slug, a pending schedule), which
	// the transition function's version check does not cover: the gate
	// then reads it from the primary whatever the snapshot source, so that
	// a stale fact cannot reach the database as if it were true.
	ReadsBeyondTarget bool

	// ValidateFunc checks the request's shape before anything else; a
	// non-*fault.Error it returns becomes an invalid-input error. Nil: the
	// request's Validate method ([Validator]), if any.
	ValidateFunc func(req R) error
	// LoadFunc reads the snapshot the policy decides on. It may read a
	// replica's worth of staleness: the transition function re-checks the
	// version. Nil: the action has no snapshot (a create).
	LoadFunc func(ctx context.Context, conn db.DBTX, req R) (S, error)
	// PolicyFunc decides intent from the principal, the snapshot and the
	// request. Nil: allow (the capability is the whole check).
	PolicyFunc Policy[S, R]
	// ActFunc calls the transition function with the snapshot's version
	// and the request's idempotency key. It must not write tables itself.
	ActFunc func(ctx context.Context, conn db.DBTX, call Call[S, R]) (T, error)
	// TargetFunc names the target for the observer. Nil: the request's
	// TargetID ([Targeted]), or "".
	TargetFunc func(req R) string
	// ExpectFunc compares the snapshot with what the caller based the
	// request on (a version it saw) and returns a conflict when they
	// differ. Nil: the request's PinnedVersion ([Pinned]) against the
	// snapshot's EntityVersion ([Entity]). Skipped, like the policy, for a
	// retry whose idempotency key was used: the retry is answered, not
	// judged again.
	ExpectFunc func(snapshot S, req R) error
	// IdemKeyFunc returns the request's idempotency key, or "". Nil: the
	// request's IdempotencyKey ([Keyed]). When the principal already used
	// the key, the policy is skipped: the transition function answers (the
	// first call's result, or a conflict if the key served another
	// request). Deciding again would judge a retry by the state its first
	// attempt produced.
	IdemKeyFunc func(req R) string
}

// Call is what ActFunc acts on: the decision's inputs.
type Call[S, R any] struct {
	Principal *Principal
	Request   R
	Snapshot  S
	key       string
}

// Actor returns the acting principal's id.
func (c Call[S, R]) Actor() uuid.UUID { return c.Principal.ID }

// IdemKey returns the request's idempotency key as the generated queries
// take it: nil when there is none.
func (c Call[S, R]) IdemKey() *string {
	if c.key == "" {
		return nil
	}
	key := c.key
	return &key
}

// LoadByIDFunc reads one entity by id: a generated query such as
// db.Queries.ArticleGetByID fits as it is.
type LoadByIDFunc[S any] func(ctx context.Context, conn db.DBTX, id uuid.UUID) (S, error)

// ActFunc makes an action's database call.
type ActFunc[S, R, T any] func(ctx context.Context, conn db.DBTX, call Call[S, R]) (T, error)

// Transition returns the action that changes the entity a request
// targets: load reads it by the request's TargetID, policy decides, act
// makes one call of the transition function, with the snapshot's version.
// The request's Validate, IdempotencyKey and PinnedVersion are used when
// it has them.
func Transition[S Entity, R Targeted, T any](name string, capability Capability, load LoadByIDFunc[S], policy Policy[S, R], act ActFunc[S, R, T]) *Action[S, R, T] {
	return &Action[S, R, T]{
		Name:       name,
		Capability: capability,
		OneCall:    true,
		LoadFunc: func(ctx context.Context, conn db.DBTX, req R) (S, error) {
			return load(ctx, conn, req.TargetID())
		},
		PolicyFunc: policy,
		ActFunc:    act,
	}
}

// Create returns the action that makes a new entity: no snapshot, the
// capability is the whole decision, act makes one call of the transition
// function.
func Create[R, T any](name string, capability Capability, act ActFunc[struct{}, R, T]) *Action[struct{}, R, T] {
	return &Action[struct{}, R, T]{
		Name:       name,
		Capability: capability,
		OneCall:    true,
		ActFunc:    act,
	}
}

// Read returns the action that returns the entity a request targets, when
// policy lets the principal see it. A refusal answers like a missing row
// (not found), so that it does not reveal that the target exists; the
// observer sees the refusal with its reason. An empty capability lets
// every active principal ask.
func Read[S any, R Targeted](name string, capability Capability, load LoadByIDFunc[S], policy Policy[S, R]) *Action[S, R, S] {
	return &Action[S, R, S]{
		Name:       name,
		Capability: capability,
		ReadOnly:   true,
		Conceal:    true,
		LoadFunc: func(ctx context.Context, conn db.DBTX, req R) (S, error) {
			return load(ctx, conn, req.TargetID())
		},
		PolicyFunc: policy,
		ActFunc:    returnSnapshot[S, R],
	}
}

// Query returns a read that is not about one entity (a list, a search):
// load reads what the request asks for and policy decides on it. A refusal
// is a policy error: it concerns the question, and reveals no row.
func Query[S, R any](name string, capability Capability, load func(ctx context.Context, conn db.DBTX, req R) (S, error), policy Policy[S, R]) *Action[S, R, S] {
	return &Action[S, R, S]{
		Name:       name,
		Capability: capability,
		ReadOnly:   true,
		LoadFunc:   load,
		PolicyFunc: policy,
		ActFunc:    returnSnapshot[S, R],
	}
}

func returnSnapshot[S, R any](_ context.Context, _ db.DBTX, c Call[S, R]) (S, error) {
	return c.Snapshot, nil
}
