package authz

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/bulwarkdb/bulwark/fault"
)

// RetryOpts bound the retries of [DoOpts].Retry. The zero value means
// defaults.
//
// Each attempt is the whole gate: the snapshot is read again from the
// primary (whatever the snapshot source) and the policy run again, so a
// request the new state makes invalid ends as a policy failure instead of
// being re-sent. Only conflicts a fresh decision may resolve are retried: a
// request pinned to a version the caller saw stays a conflict, as it
// should. Retrying stops when ctx is done, returning the last error and
// ctx's. With [DoOpts].Tx, retry only in a READ COMMITTED transaction: a
// REPEATABLE READ or SERIALIZABLE one keeps its snapshot, so every attempt
// meets the same conflict.
type RetryOpts struct {
	// Attempts is the most times the gate runs, the first included.
	// Default 4.
	Attempts int
	// BaseDelay is the backoff before the second attempt; it doubles per
	// attempt, with full jitter. Default 10ms.
	BaseDelay time.Duration
	// MaxDelay caps one backoff. Default 500ms.
	MaxDelay time.Duration
}

// DoRetry is [Do] with opts.Retry set to retry (the defaults when nil).
//
// Deprecated: set [DoOpts].Retry, or [GateOpts].Retry for every call.
func DoRetry[S, R, T any](ctx context.Context, g *Gate, principalID uuid.UUID, a *Action[S, R, T], req R, opts *DoOpts, retry *RetryOpts) (T, error) {
	o := DoOpts{}
	if opts != nil {
		o = *opts
	}
	if retry == nil {
		retry = &RetryOpts{}
	}
	o.Retry = retry
	return Do(ctx, g, principalID, a, req, &o)
}

// doRetry runs the gate until it succeeds, fails for good, or the
// attempts run out.
func doRetry[S, R, T any](ctx context.Context, g *Gate, principalID uuid.UUID, a *Action[S, R, T], req R, opts *DoOpts, retry *RetryOpts) (_ T, err error) {
	attempts, base, maxDelay := 4, 10*time.Millisecond, 500*time.Millisecond
	if retry.Attempts > 0 {
		attempts = retry.Attempts
	}
	if retry.BaseDelay > 0 {
		base = retry.BaseDelay
	}
	if retry.MaxDelay > 0 {
		maxDelay = retry.MaxDelay
	}
	attempt := 0
	ctx, endRetry := g.startRetry(ctx, a.Name, a.Capability, principalID)
	defer func() { endRetry(attempt, err) }()
	// One correlation id for all attempts, so they read as one request.
	ctx, _ = ensureCorrelationID(ctx)
	for attempt = 1; ; attempt++ {
		result, err := do(withAttempt(ctx, attempt), g, principalID, a, req, opts)
		var pinned *expectError
		// Conflicts only: unavailable is retryable too, but later, not
		// within a request's backoff.
		if err == nil || !fault.IsRetryable(err) || !errors.Is(err, fault.ErrConflict) || errors.As(err, &pinned) || attempt >= attempts {
			return result, err
		}
		delay := maxDelay
		if shift := attempt - 1; shift < 20 && base<<shift < maxDelay {
			delay = base << shift
		}
		timer := time.NewTimer(rand.N(delay) + 1)
		select {
		case <-ctx.Done():
			timer.Stop()
			var zero T
			return zero, fmt.Errorf("%w (retry stopped: %w)", err, ctx.Err())
		case <-timer.C:
		}
	}
}
