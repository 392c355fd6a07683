package authz

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/bulwarkdb/bulwark/db"
)

// GrantsObserver sees the [Grants] cache at work: which lookups it
// answered, and how soon a grant change took effect. Set it in
// [GrantsOpts]. Its methods are called synchronously, the first on the
// request path: keep them fast.
type GrantsObserver interface {
	// ObserveLookup is called for every principal lookup, with whether the
	// cache answered it (a miss reads the database). ctx is the lookup's:
	// in the gate, its permission step's.
	ObserveLookup(ctx context.Context, hit bool)

	// ObserveInvalidation is called after a notification on
	// bulwark_grants dropped a principal from the cache (uuid.Nil: every
	// principal, for a change of a role's capabilities). lag is the time
	// from the change's audit row being written to the drop, both on the
	// database's clock (so no clock skew enters), measured just after the
	// drop: an upper bound on how long the cache could still answer with
	// the old grants. ok is false when it could not be measured.
	ObserveInvalidation(ctx context.Context, id uuid.UUID, lag time.Duration, ok bool)
}

// observeLookup reports a lookup to the observer, if any.
func (g *Grants) observeLookup(ctx context.Context, hit bool) {
	if g.observer != nil {
		g.observer.ObserveLookup(ctx, hit)
	}
}

// observeInvalidation measures, on the listener's connection, how long ago
// the change behind a notification was written, and reports it. A failed
// measurement is reported as such and fails nothing: the cache entry is
// already gone.
func (g *Grants) observeInvalidation(ctx context.Context, conn *pgx.Conn, id uuid.UUID) {
	if g.observer == nil {
		return
	}
	// Bounded: the listener reads no notification while this runs.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var principal *uuid.UUID
	if id != uuid.Nil {
		principal = &id
	}
	ageMicros, err := db.New().GrantChangeAge(ctx, conn, principal)
	if err != nil {
		g.observer.ObserveInvalidation(ctx, id, 0, false)
		return
	}
	g.observer.ObserveInvalidation(ctx, id, time.Duration(ageMicros)*time.Microsecond, true)
}
