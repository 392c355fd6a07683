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
	"github.com/bulwarkdb/bulwark/fault"
)

// Gate is the one path every action takes: validate, permission, snapshot,
// policy, transition function, result. Web handlers, jobs and internal tools
// share it, so none of them has a shortcut.
type Gate struct {
	cache     *snapshotCache
	conflicts conflicts
	grants    *Grants
	observer  Observer
	pool      *pgxpool.Pool
	queries   *db.Queries
	replica   *pgxpool.Pool
	retry     *RetryOpts
	snapshots SnapshotSource
}

// GateOpts are options for [NewGate]. A nil *GateOpts means defaults.
type GateOpts struct {
	// CacheSize bounds the snapshot cache ([FromCache]), in entities.
	// Default 10000 when Snapshots is FromCache; otherwise 0, which keeps
	// no cache (and a call that asks for FromCache reads the primary).
	CacheSize int
	// Observer receives every decision. Default: a [SlogObserver] on
	// slog.Default().
	Observer Observer
	// Replica is a pool on a streaming replica of the gate's database, for
	// [FromReplica]. Nil: FromReplica reads the primary.
	Replica *pgxpool.Pool
	// Retry makes every call retry conflicts (see [DoOpts].Retry), unless
	// the call says otherwise. Nil: no retries.
	Retry *RetryOpts
	// Snapshots is where calls get their snapshots unless they say
	// otherwise ([DoOpts].Snapshot). Default [FromPrimary].
	Snapshots SnapshotSource
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
	g := &Gate{
		grants:    grants,
		observer:  opts.Observer,
		pool:      pool,
		queries:   db.New(),
		replica:   opts.Replica,
		retry:     opts.Retry,
		snapshots: opts.Snapshots,
	}
	if g.observer == nil {
		g.observer = &SlogObserver{}
	}
	if g.snapshots == nil {
		g.snapshots = FromPrimary
	}
	size := opts.CacheSize
	if size <= 0 && g.snapshots == FromCache {
		size = 10000
	}
	if size > 0 {
		g.cache = newSnapshotCache(size)
	}
	return g
}

// Grants returns the gate's principal loader.
func (g *Gate) Grants() *Grants { return g.grants }

// Pool returns the gate's pool.
func (g *Gate) Pool() *pgxpool.Pool { return g.pool }

// DoOpts are options for [Do]. A nil *DoOpts means defaults.
type DoOpts struct {
	// Retry retries conflicts that a fresh decision may resolve: each
	// attempt is the whole gate, on a snapshot read again from the
	// primary, so a request the new state makes invalid ends as a policy
	// failure instead of being re-sent. A request pinned to a version the
	// caller saw stays a conflict, as it should. Nil: the gate's
	// ([GateOpts].Retry). See [RetryOpts] for the bounds, and for Tx.
	Retry *RetryOpts
	// Snapshot says where this call gets its snapshot. Nil: the gate's
	// ([GateOpts].Snapshots).
	Snapshot SnapshotSource
	// Tx runs the action inside the caller's transaction, as a savepoint,
	// so the caller can commit the action together with its own writes
	// (a job enqueued in the same transaction, say). A failed action rolls
	// back to the savepoint and leaves the transaction usable. The
	// correlation id stays set for the rest of that transaction, so the
	// caller's later transitions in it are traced to the same request. The
	// snapshot is then read in the transaction (it sees the caller's own
	// writes), unless the call holds one ([Held]).
	Tx pgx.Tx
}

// Do runs action a for the principal. It returns the action's result, or
// an [*fault.Error] naming the layer that refused: invalid, permission, not_found,
// policy, conflict or invariant. Errors that name no layer (a lost
// connection, a cancelled context) are returned wrapped, unchanged.
//
// A keyed transition costs two round trips (the snapshot with the key
// check, then the transition function with the correlation id), one with a
// held or cached snapshot; a read costs one. Reading a principal that the
// [Grants] cache does not hold adds one.
func Do[S, R, T any](ctx context.Context, g *Gate, principalID uuid.UUID, a *Action[S, R, T], req R, opts *DoOpts) (T, error) {
	if opts == nil {
		opts = &DoOpts{}
	}
	retry := opts.Retry
	if retry == nil {
		retry = g.retry
	}
	if retry == nil || a.ReadOnly {
		return do(ctx, g, principalID, a, req, opts)
	}
	return doRetry(ctx, g, principalID, a, req, opts, retry)
}

// do is one attempt of the gate.
func do[S, R, T any](ctx context.Context, g *Gate, principalID uuid.UUID, a *Action[S, R, T], req R, opts *DoOpts) (result T, err error) {
	start := time.Now()
	// Before the correlation id: a span the observer starts here makes its
	// trace id the correlation id.
	ctx = g.startCall(ctx, a.Name, a.Capability, principalID)
	ctx, correlationID := ensureCorrelationID(ctx)
	rec := Record{Action: a.Name, Capability: a.Capability, CorrelationID: correlationID, PrincipalID: principalID}
	if rec.Action == "" {
		rec.Action = string(a.Capability)
	}
	// concealed is the refusal of a read that answers not found.
	var concealed *fault.Error
	defer func() {
		rec.Duration = time.Since(start)
		rec.Err = err
		rec.Outcome = OutcomeAllowed
		if concealed != nil {
			rec.Err, rec.Concealed = concealed, true
		}
		if rec.Err != nil {
			rec.Outcome = OutcomeFailed
			var e *fault.Error
			if errors.As(rec.Err, &e) {
				rec.Layer, rec.Code = e.Layer, e.Code
				if e.Layer == fault.LayerPermission || e.Layer == fault.LayerPolicy {
					rec.Outcome = OutcomeDenied
				}
			}
		}
		g.observer.Observe(ctx, rec)
	}()

	if err := validate(a, req); err != nil {
		return result, err
	}
	switch {
	case a.TargetFunc != nil:
		rec.Target = a.TargetFunc(req)
	default:
		if t, ok := any(req).(Targeted); ok {
			rec.Target = t.TargetID().String()
		}
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
	_ = step.end(nil)

	c := &call[S, R, T]{
		a:           a,
		correlation: correlationID,
		ctx:         ctx,
		g:           g,
		principal:   principal,
		req:         req,
		source:      opts.Snapshot,
		tx:          opts.Tx,
	}
	if c.source == nil {
		c.source = g.snapshots
	}
	if Attempt(ctx) > 1 || a.ReadsBeyondTarget {
		// A retry decides on fresh data, and facts about other rows are
		// never taken from a copy.
		c.source = FromPrimary
	}
	c.key = idemKey(a, req)
	if t, ok := any(req).(Targeted); ok {
		c.target, c.targeted = t.TargetID(), true
	}

	if opts.Tx != nil {
		err = db.WithTx(ctx, opts.Tx, func(tx pgx.Tx) error {
			c.conn = tx
			result, err = c.run()
			return err
		})
		// The savepoint rolled back: the transaction can read the
		// declared conflicts, if the violation needs them.
		err = g.conflicts.interpret(ctx, opts.Tx, err)
	} else {
		c.conn = g.pool
		result, err = c.run()
	}
	if err != nil {
		var zero T
		if a.Conceal {
			var e *fault.Error
			if errors.As(err, &e) && e.Layer == fault.LayerPolicy {
				concealed = e
				return zero, notFound()
			}
			if errors.As(err, &e) && e.Layer == fault.LayerNotFound {
				return zero, notFound()
			}
		}
		return zero, err
	}
	return result, nil
}

// call is one attempt's state.
type call[S, R, T any] struct {
	a           *Action[S, R, T]
	conn        batcher // the pool, or the caller's transaction
	correlation string
	ctx         context.Context
	g           *Gate
	key         string
	principal   *Principal
	req         R
	source      SnapshotSource
	target      uuid.UUID
	targeted    bool
	tx          pgx.Tx

	// correlated says the correlation id is set in the caller's
	// transaction.
	correlated bool
	// fresh says the snapshot was read from the primary (or the
	// transaction) in this attempt.
	fresh bool
	// replay says the principal used the call's key before.
	replay   bool
	snapshot S
}

// run loads the snapshot, decides, and acts.
func (c *call[S, R, T]) run() (T, error) {
	var zero T
	if err := c.load(); err != nil {
		return zero, err
	}
	err := c.decide()
	if err != nil && !c.fresh && isRefusal(err) {
		// A copy's refusal may be its staleness: read the primary and
		// decide again, so that no refusal rests on a stale copy.
		if err := c.loadFresh(); err != nil {
			return zero, err
		}
		err = c.decide()
	}
	if err != nil && c.key != "" && isRefusal(err) {
		// A used key is answered, not judged: ask now. Either the key was
		// not asked about (there was no read), or it was asked just
		// before the snapshot was read, and a retry of this request may
		// have committed in between: the snapshot shows its effect (say,
		// published) while the key looked unused.
		used, keyErr := c.keyUsed()
		if keyErr != nil {
			return zero, keyErr
		}
		if used {
			c.replay, err = true, nil
		}
	}
	if err != nil {
		return zero, err
	}
	return c.act()
}

// load gets the snapshot from the call's source.
func (c *call[S, R, T]) load() error {
	if c.a.LoadFunc == nil {
		return nil
	}
	stepCtx, step := c.g.startStep(c.ctx, StepSnapshot)
	switch src := c.source.(type) {
	case heldSource[S]:
		if e, ok := any(src.snapshot).(Entity); ok && c.targeted && e.EntityID() != c.target {
			return step.end(Invalid(fault.CodeInvalidInput, fmt.Sprintf("the held snapshot is of %s, not of the target %s", e.EntityID(), c.target)))
		}
		c.snapshot = src.snapshot
		step(StepResult{})
		return nil
	}
	if c.tx == nil && c.targeted {
		switch c.source {
		case FromCache:
			if s, ok := cacheGet[S](c.g.cache, c.target); ok {
				c.snapshot = s
				step(StepResult{})
				return nil
			}
		case FromReplica:
			if c.g.replica != nil {
				s, err := c.a.LoadFunc(stepCtx, c.g.replica, c.req)
				if err == nil {
					c.snapshot = s
					step(StepResult{})
					return nil
				}
				// Not there yet, or the replica is away: the primary
				// answers.
			}
		}
	}
	err := c.readPrimary(stepCtx)
	step(StepResult{Err: err, Replay: c.replay})
	return err
}

// loadFresh reads the snapshot again from the primary.
func (c *call[S, R, T]) loadFresh() error {
	stepCtx, step := c.g.startStep(c.ctx, StepSnapshot)
	err := c.readPrimary(stepCtx)
	step(StepResult{Err: err, Replay: c.replay})
	return err
}

// readPrimary reads the snapshot on the call's connection, with the key
// check (and, in the caller's transaction, the correlation id) in the same
// round trip.
func (c *call[S, R, T]) readPrimary(ctx context.Context) error {
	p := &pipelined{conn: c.conn, name: c.a.Name}
	var used bool
	if c.tx != nil && !c.correlated {
		p.riders = append(p.riders, setCorrelationRider(ctx, c.g.queries, c.correlation))
		c.correlated = true
	}
	if c.key != "" {
		p.riders = append(p.riders, keyUsedRider(ctx, c.g.queries, db.IdempotencyKeyUsedParams{Actor: c.principal.ID, IdemKey: c.key}, &used))
	}
	s, err := c.a.LoadFunc(ctx, p, c.req)
	if err == nil {
		err = p.flush(ctx)
	}
	if err != nil {
		if c.targeted && c.g.cache != nil {
			cacheDrop[S](c.g.cache, c.target)
		}
		return db.InterpretError(err)
	}
	c.snapshot, c.fresh = s, true
	c.replay = used
	if c.tx == nil {
		cachePut(c.g.cache, s)
	}
	return nil
}

// decide runs the expectation and the policy, unless the key was used.
func (c *call[S, R, T]) decide() error {
	if c.replay {
		return nil
	}
	_, step := c.g.startStep(c.ctx, StepPolicy)
	if err := expect(c.a, c.snapshot, c.req); err != nil {
		return step.end(err)
	}
	if c.a.PolicyFunc != nil {
		if d := c.a.PolicyFunc(c.principal, c.snapshot, c.req); !d.Allowed {
			return step.end(Denied(d))
		}
	}
	return step.end(nil)
}

// keyUsed asks the primary (or the transaction) whether the principal used
// the call's key.
func (c *call[S, R, T]) keyUsed() (bool, error) {
	var used bool
	p := &pipelined{conn: c.conn, name: c.a.Name}
	p.riders = append(p.riders, keyUsedRider(c.ctx, c.g.queries, db.IdempotencyKeyUsedParams{Actor: c.principal.ID, IdemKey: c.key}, &used))
	if err := p.flush(c.ctx); err != nil {
		return false, db.InterpretError(err)
	}
	return used, nil
}

// act calls the transition function: with the correlation id in the same
// round trip when the action makes one call, else in a transaction of its
// own (or the caller's).
func (c *call[S, R, T]) act() (T, error) {
	stepCtx, step := c.g.startStep(c.ctx, StepTransition)
	var result T
	var err error
	run := func(conn batcher, correlate bool) error {
		p := &pipelined{conn: conn, name: c.a.Name, oneCall: c.a.OneCall}
		if correlate {
			p.riders = append(p.riders, setCorrelationRider(stepCtx, c.g.queries, c.correlation))
		}
		result, err = c.a.ActFunc(stepCtx, p, Call[S, R]{Principal: c.principal, Request: c.req, Snapshot: c.snapshot, key: c.key})
		if err == nil {
			err = p.flush(stepCtx)
		}
		return err
	}
	switch {
	case c.tx != nil:
		// A read sets nothing: it writes no log row to correlate.
		err = run(c.tx, !c.a.ReadOnly && !c.correlated)
		c.correlated = c.correlated || !c.a.ReadOnly
	case c.a.ReadOnly || c.a.OneCall:
		err = run(c.g.pool, !c.a.ReadOnly)
	default:
		err = db.WithTx(stepCtx, c.g.pool, func(tx pgx.Tx) error { return run(tx, true) })
	}
	conn := db.DBTX(c.g.pool)
	if c.tx != nil {
		// Aborted until the savepoint rolls back (see do).
		conn = nil
	}
	err = c.g.conflicts.interpret(stepCtx, conn, err)
	if err != nil {
		if c.targeted && fault.IsRetryable(err) {
			// Whatever the cache held is no longer the row.
			cacheDrop[S](c.g.cache, c.target)
		}
		return result, step.end(err)
	}
	if c.tx == nil && !c.a.ReadOnly {
		if s, ok := any(result).(S); ok {
			cachePut(c.g.cache, s)
		}
	}
	return result, step.end(nil)
}

// validate runs the action's or the request's shape check.
func validate[S, R, T any](a *Action[S, R, T], req R) error {
	var err error
	switch {
	case a.ValidateFunc != nil:
		err = a.ValidateFunc(req)
	default:
		if v, ok := any(req).(Validator); ok {
			err = v.Validate()
		}
	}
	if err == nil {
		return nil
	}
	var e *fault.Error
	if !errors.As(err, &e) {
		err = &fault.Error{Layer: fault.LayerInvalid, Code: fault.CodeInvalidInput, Reason: err.Error(), Cause: err}
	}
	return err
}

// idemKey returns the request's idempotency key, or "".
func idemKey[S, R, T any](a *Action[S, R, T], req R) string {
	if a.IdemKeyFunc != nil {
		return a.IdemKeyFunc(req)
	}
	if k, ok := any(req).(Keyed); ok {
		return k.IdempotencyKey()
	}
	return ""
}

// expect compares the snapshot with the version the request pinned.
func expect[S, R, T any](a *Action[S, R, T], snapshot S, req R) error {
	if a.ExpectFunc != nil {
		if err := a.ExpectFunc(snapshot, req); err != nil {
			return &expectError{err: db.InterpretError(err)}
		}
		return nil
	}
	p, ok := any(req).(Pinned)
	if !ok {
		return nil
	}
	e, ok := any(snapshot).(Entity)
	if pinned := p.PinnedVersion(); ok && pinned != 0 && pinned != e.EntityVersion() {
		return pinnedConflict(e.EntityID(), e.EntityVersion(), pinned)
	}
	return nil
}

// isRefusal reports whether err is a decision of the gate's that a fresher
// snapshot may change: a policy denial or a pinned conflict.
func isRefusal(err error) bool {
	var pinned *expectError
	return errors.As(err, &pinned) || errors.Is(err, fault.ErrPolicy)
}

// notFound is the answer to a read of a missing row, and to a read the
// policy refused: the same error, so that neither reveals which it was.
func notFound() error {
	return &fault.Error{Cause: pgx.ErrNoRows, Code: fault.CodeNotFound, Layer: fault.LayerNotFound, Reason: "no such row"}
}

// expectError marks a conflict the caller pinned (ExpectFunc, Pinned):
// retrying the same request meets it again, so retries stop. It is
// transparent to errors.Is and errors.As.
type expectError struct{ err error }

func (e *expectError) Error() string { return e.err.Error() }
func (e *expectError) Unwrap() error { return e.err }
