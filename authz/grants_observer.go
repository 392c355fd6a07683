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
	// bulwark_grants dropped a principal from the cache, or every
	// principal, with the change as the audit log recorded it. ok is false
	// when the change could not be read; the drop happened all the same.
	ObserveInvalidation(ctx context.Context, change GrantChange, ok bool)
}

// GrantChange is a change of grants that reached the cache.
type GrantChange struct {
	// Lag is the time from the change's audit row being written to the
	// cache dropping what it changed, both on the database's clock (so no
	// clock skew enters), measured just after the drop: an upper bound on
	// how long the cache could still answer with the old grants.
	Lag time.Duration
	// PrincipalID is the principal dropped, or uuid.Nil for every
	// principal (a change of a role's capabilities).
	PrincipalID uuid.UUID
	// Transition is the audit row's transition: the grant function's
	// action (role_grant, role_revoke, principal_create, ...) or
	// maintenance_insert, _update, _delete for a write under the
	// maintenance switch.
	Transition string
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
	row, err := db.New().GrantChangeLatest(ctx, conn, principal)
	if err != nil {
		g.observer.ObserveInvalidation(ctx, GrantChange{PrincipalID: id}, false)
		return
	}
	g.observer.ObserveInvalidation(ctx, GrantChange{
		Lag:         time.Duration(row.AgeUs) * time.Microsecond,
		PrincipalID: id,
		Transition:  row.Transition,
	}, true)
}
