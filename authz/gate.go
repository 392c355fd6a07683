package authz

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bulwarkdb/bulwark/db"
)

// Gate is the one path every action takes: validate, permission, snapshot,
// policy, transition function, result. Web handlers, jobs and internal tools
// share it, so none of them has a shortcut.
type Gate struct {
	grants   *Grants
	observer Observer
	pool     *pgxpool.Pool
	queries  *db.Queries
}

// GateOpts are options for [NewGate]. A nil *GateOpts means defaults.
type GateOpts struct {
	// Observer receives every decision. Default: a [SlogObserver] on
	// slog.Default().
	Observer Observer
}

// NewGate returns a gate that reads principals through grants and runs
// actions on pool. A nil grants reads every principal from the database
// (no cache).
func NewGate(pool *pgxpool.Pool, grants *Grants, opts *GateOpts) *Gate {
	if opts == nil {
		opts = &GateOpts{}
	}
	if grants == nil {
		grants = NewGrants(pool, nil)
	}
	g := &Gate{grants: grants, observer: opts.Observer, pool: pool, queries: db.New()}
	if g.observer == nil {
		g.observer = &SlogObserver{}
	}
	return g
}

// Grants returns the gate's principal loader.
func (g *Gate) Grants() *Grants { return g.grants }

// Pool returns the gate's pool.
func (g *Gate) Pool() *pgxpool.Pool { return g.pool }

// Action describes one thing a principal can do to a target of snapshot
// type S, with a request of type R, producing a T.
type Action[S, R, T any] struct {
	// Name identifies the action to the observer, e.g. "article.publish".
	Name string
	// Capability is what the principal must hold to attempt the action.
	// Empty means any active principal may attempt it (reads whose policy
	// decides visibility).
	Capability Capability
	// ReadOnly actions run on the pool without a transaction of their own.
	ReadOnly bool

	// ValidateFunc checks the request's shape before anything else; a
	// non-*Error it returns becomes an invalid-input error. Nil: nothing to
	// check.
	ValidateFunc func(req R) error
	// LoadFunc reads the snapshot the policy decides on. It may read a
	// replica's worth of staleness: the transition function re-checks the
	// version.
	LoadFunc func(ctx context.Context, conn db.DBTX, req R) (S, error)
	// PolicyFunc decides intent from the principal, the snapshot and the
	// request.
	PolicyFunc Policy[S, R]
	// ActFunc calls the transition function with the snapshot's version
	// and the request's idempotency key. It must not write tables itself.
	ActFunc func(ctx context.Context, conn db.DBTX, call Call[S, R]) (T, error)
	// TargetFunc names the target for the observer. Nil: "".
	TargetFunc func(req R) string
	// ExpectFunc compares the snapshot with what the caller based the
	// request on (a version it saw) and returns a conflict when they differ.
	// Nil: nothing to compare. Skipped, like the policy, for a retry whose
	// idempotency key was used: the retry is answered, not judged again.
	ExpectFunc func(snapshot S, req R) error
	// IdemKeyFunc returns the request's idempotency key, or "". When the
	// principal already used the key, the gate skips the policy: the
	// transition function answers (the first call's result, or a conflict
	// if the key served another request). Deciding again would judge a
	// retry by the state its first attempt produced.
	IdemKeyFunc func(req R) string
}

// Call is what ActFunc acts on: the decision's inputs.
type Call[S, R any] struct {
	Principal *Principal
	Request   R
	Snapshot  S
}

// DoOpts are options for [Do]. A nil *DoOpts means defaults.
type DoOpts struct {
	// Tx runs the action inside the caller's transaction, as a savepoint,
	// so the caller can commit the action together with its own writes
	// (a job enqueued in the same transaction, say). A failed action rolls
	// back to the savepoint and leaves the transaction usable. The
	// correlation id stays set for the rest of that transaction, so the
	// caller's later transitions in it are traced to the same request.
	Tx pgx.Tx
}

// Do runs action a for the principal. It returns the action's result, or
// an [*Error] naming the layer that refused: invalid, permission, not_found,
// policy, conflict or invariant. Errors that name no layer (a lost
// connection, a cancelled context) are returned wrapped, unchanged.
func Do[S, R, T any](ctx context.Context, g *Gate, principalID uuid.UUID, a *Action[S, R, T], req R, opts *DoOpts) (result T, err error) {
	if opts == nil {
		opts = &DoOpts{}
	}
	start := time.Now()
	// Before the correlation id: a span the observer starts here makes its
	// trace id the correlation id.
	ctx = g.startCall(ctx, a.Name, a.Capability, principalID)
	ctx, correlationID := ensureCorrelationID(ctx)
	rec := Record{Action: a.Name, Capability: a.Capability, CorrelationID: correlationID, PrincipalID: principalID}
	if rec.Action == "" {
		rec.Action = string(a.Capability)
	}
	defer func() {
		rec.Duration = time.Since(start)
		rec.Err = err
		rec.Outcome = OutcomeAllowed
		if err != nil {
			rec.Outcome = OutcomeFailed
			var e *Error
			if errors.As(err, &e) {
				rec.Layer, rec.Code = e.Layer, e.Code
				if e.Layer == LayerPermission || e.Layer == LayerPolicy {
					rec.Outcome = OutcomeDenied
				}
			}
		}
		g.observer.Observe(ctx, rec)
	}()

	if a.ValidateFunc != nil {
		if err := a.ValidateFunc(req); err != nil {
			var e *Error
			if !errors.As(err, &e) {
				err = &Error{Layer: LayerInvalid, Code: db.CodeInvalidInput, Reason: err.Error(), Cause: err}
			}
			return result, err
		}
	}
	if a.TargetFunc != nil {
		rec.Target = a.TargetFunc(req)
	}

	stepCtx, step := g.startStep(ctx, StepPermission)
	var principal *Principal
	if opts.Tx != nil {
		principal, err = g.grants.PrincipalOn(stepCtx, opts.Tx, principalID)
	} else {
		principal, err = g.grants.Principal(stepCtx, principalID)
	}
	if err != nil {
		return result, step.end(err)
	}
	if !principal.Active {
		return result, step.end(permissionError(CodeInactivePrincipal, fmt.Sprintf("principal %s is inactive", principal.Name), nil))
	}
	// An action without a capability (a read) needs only an active
	// principal; its policy decides what is visible.
	if a.Capability != "" && !principal.Can(a.Capability) {
		return result, step.end(missingCapability(principal, a.Capability))
	}
	step.end(nil)

	run := func(conn db.DBTX) error {
		stepCtx, step := g.startStep(ctx, StepSnapshot)
		snapshot, err := a.LoadFunc(stepCtx, conn, req)
		if err != nil {
			return step.end(db.InterpretError(err))
		}
		replay := false
		if a.IdemKeyFunc != nil {
			if key := a.IdemKeyFunc(req); key != "" {
				replay, err = g.queries.IdempotencyKeyUsed(stepCtx, conn, db.IdempotencyKeyUsedParams{Actor: principal.ID, IdemKey: key})
				if err != nil {
					return step.end(db.InterpretError(err))
				}
			}
		}
		step(StepResult{Replay: replay})
		if !replay {
			_, step = g.startStep(ctx, StepPolicy)
			if a.ExpectFunc != nil {
				if err := a.ExpectFunc(snapshot, req); err != nil {
					return step.end(&expectError{err: db.InterpretError(err)})
				}
			}
			if d := a.PolicyFunc(principal, snapshot, req); !d.Allowed {
				return step.end(Denied(d))
			}
			step.end(nil)
		}
		stepCtx, step = g.startStep(ctx, StepTransition)
		result, err = a.ActFunc(stepCtx, conn, Call[S, R]{Principal: principal, Request: req, Snapshot: snapshot})
		return step.end(db.InterpretError(err))
	}
	inTx := func(tx pgx.Tx) error {
		// Transaction-local: the log trigger reads it for every row this
		// transaction writes, without changing the SQL API's signatures.
		if err := g.queries.SetCorrelationID(ctx, tx, correlationID); err != nil {
			return db.InterpretError(err)
		}
		return run(tx)
	}

	switch {
	case opts.Tx != nil:
		err = db.WithTx(ctx, opts.Tx, inTx)
	case a.ReadOnly:
		err = run(g.pool)
	default:
		err = db.WithTx(ctx, g.pool, inTx)
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return result, nil
}

// expectError marks a conflict the caller pinned (ExpectFunc): retrying
// the same request meets it again, so DoRetry does not. It is transparent
// to errors.Is and errors.As.
type expectError struct{ err error }

func (e *expectError) Error() string { return e.err.Error() }
func (e *expectError) Unwrap() error { return e.err }
