package authz

import (
	"cmp"
	"context"

	"github.com/google/uuid"
)

// Step is one stage of a gate call. The gate runs them in this order, and
// a call that fails at one runs none of the later ones.
type Step string

const (
	// StepPermission loads the principal (from the [Grants] cache or the
	// database) and checks that it is active and holds the capability.
	StepPermission Step = "permission"
	// StepSnapshot gets the snapshot from its source. Read from the
	// primary, it comes with the answer to whether the request's
	// idempotency key was used before (one round trip); held, cached or
	// from a replica, the key is asked about only if the policy refuses.
	// A copy's refusal runs it again, on the primary.
	StepSnapshot Step = "snapshot"
	// StepPolicy runs ExpectFunc and the policy. A replay skips it; a
	// refusal on a copy runs it again after a fresh StepSnapshot.
	StepPolicy Step = "policy"
	// StepTransition runs ActFunc: the transition function, which checks
	// again and writes.
	StepTransition Step = "transition"
)

// CallInfo describes a gate call as it starts.
type CallInfo struct {
	Action string
	// Attempt counts the runs of the gate for one request: 1 for [Do],
	// 1, 2, ... for the attempts of a retrying call ([DoOpts].Retry), and
	// 0 in [StepObserver.StartRetry], before the first.
	Attempt     int
	Capability  Capability
	PrincipalID uuid.UUID
}

// StepResult is how a step ended.
type StepResult struct {
	// Err is the step's error, nil when it passed.
	Err error
	// Replay is true, for [StepSnapshot] read from the primary, when the
	// principal used the request's idempotency key before: the policy is
	// skipped and the transition function answers with the first call's
	// result. (A held or cached snapshot the policy allows goes to the
	// function without asking: a replay is then answered there, unseen
	// here.)
	Replay bool
}

// StepObserver is an [Observer] that also sees gate calls start and their
// steps run, so it can open a span before the call's correlation id is
// chosen and time each step. The gate checks for it with a type assertion:
// an Observer without these methods sees only [Observer.Observe].
type StepObserver interface {
	Observer

	// StartCall is called when [Do] starts, before the correlation id is
	// chosen. The context it returns is the call's from then on, down to
	// [Observer.Observe], which ends the call: a span started here is the
	// parent of the steps' spans, and its trace id becomes the correlation
	// id (see [CorrelationID]).
	StartCall(ctx context.Context, call CallInfo) context.Context

	// StartRetry is called when a retrying call ([DoOpts].Retry)
	// starts, before its first attempt, whose [StartCall] receives the
	// context it returns. end is called once, when the retrying call
	// returns, with the number of attempts made and the final error.
	StartRetry(ctx context.Context, call CallInfo) (_ context.Context, end func(attempts int, err error))

	// StartStep is called when a step starts. The context it returns is
	// passed to what the step runs (the grants lookup, LoadFunc, ActFunc),
	// so the database calls traced there are the step's children. end is
	// called once, when the step ends.
	StartStep(ctx context.Context, step Step) (_ context.Context, end func(StepResult))
}

type attemptKey struct{}

// Attempt returns the attempt number of the gate call running in ctx: 1
// for [Do], 1, 2, ... for the attempts of a retrying call
// ([DoOpts].Retry), 0 outside the gate.
// An [Observer] reads it from the context it is given.
func Attempt(ctx context.Context) int {
	n, _ := ctx.Value(attemptKey{}).(int)
	return n
}

func withAttempt(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, attemptKey{}, n)
}

// startCall tells a StepObserver that a call starts, and returns the
// call's context, which carries its attempt number.
func (g *Gate) startCall(ctx context.Context, action string, capability Capability, principalID uuid.UUID) context.Context {
	attempt := Attempt(ctx)
	if attempt == 0 {
		attempt = 1
		ctx = withAttempt(ctx, attempt)
	}
	if o, ok := g.observer.(StepObserver); ok {
		return o.StartCall(ctx, CallInfo{Action: cmp.Or(action, string(capability)), Attempt: attempt, Capability: capability, PrincipalID: principalID})
	}
	return ctx
}

// startRetry tells a StepObserver that a retrying call starts.
func (g *Gate) startRetry(ctx context.Context, action string, capability Capability, principalID uuid.UUID) (context.Context, func(int, error)) {
	if o, ok := g.observer.(StepObserver); ok {
		return o.StartRetry(ctx, CallInfo{Action: cmp.Or(action, string(capability)), Capability: capability, PrincipalID: principalID})
	}
	return ctx, func(int, error) {}
}

// stepEnd ends a step. Its method end returns the step's error, so the
// gate ends a step and returns in one statement.
type stepEnd func(StepResult)

// startStep tells a StepObserver that a step starts. The stepEnd it
// returns reports the first end only, so a path that ends the step twice
// (a success reported where it happened, then once more on the way out)
// keeps the first result.
func (g *Gate) startStep(ctx context.Context, step Step) (context.Context, stepEnd) {
	o, ok := g.observer.(StepObserver)
	if !ok {
		return ctx, func(StepResult) {}
	}
	ctx, end := o.StartStep(ctx, step)
	ended := false // one step runs on one goroutine
	return ctx, func(res StepResult) {
		if !ended {
			ended = true
			end(res)
		}
	}
}

// end ends the step with err (nil: it passed) and returns err.
func (e stepEnd) end(err error) error {
	e(StepResult{Err: err})
	return err
}
