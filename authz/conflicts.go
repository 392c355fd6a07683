package authz

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/bulwarkdb/bulwark/db"
)

// How the gate keeps the declared conflicts (bulwark.declare_conflict)
// current. Migrations change them, rarely; a violation, the only time they
// are read, is rarer still in a healthy service.
const (
	// conflictsMaxAge bounds how long a changed or removed declaration may
	// go unseen.
	conflictsMaxAge = time.Minute
	// conflictsMinReload bounds how often a violation the gate knows no
	// declaration for (a defect, or a declaration newer than the last
	// load) reads them again.
	conflictsMinReload = time.Second
)

// conflicts is the gate's registry of declared conflicts: read when the
// first unique or exclusion violation needs it, not at start-up, so that
// a gate costs nothing until a race is lost.
type conflicts struct {
	loadedAt time.Time
	mu       sync.Mutex
	current  *db.Conflicts
}

// interpret maps err as [db.Conflicts.Interpret] does with the declared
// conflicts, reading them through conn when they are missing or old. conn
// is the connection the failed call used: the pool, or the caller's
// transaction once the gate's savepoint rolled back, so that a request
// inside a transaction never waits for a second connection. A nil conn
// reads nothing: the caller's transaction is still aborted, and do()
// interprets again after the rollback. Should the read fail, the
// declarations loaded before stand (none: the violation is an invariant
// failure, as for an undeclared constraint).
func (c *conflicts) interpret(ctx context.Context, conn db.DBTX, err error) error {
	key, ok := db.ConflictKeyOf(err)
	if !ok {
		return db.InterpretError(err)
	}
	return c.get(ctx, conn, key).Interpret(err)
}

func (c *conflicts) get(ctx context.Context, conn db.DBTX, key db.ConflictKey) *db.Conflicts {
	c.mu.Lock()
	defer c.mu.Unlock()
	age := time.Since(c.loadedAt)
	_, declared := c.current.Lookup(key)
	if conn == nil || c.current != nil && age < conflictsMaxAge && (declared || age < conflictsMinReload) {
		return c.current
	}
	loaded, err := db.LoadConflicts(ctx, conn)
	if err != nil {
		slog.WarnContext(ctx, "bulwark: load declared conflicts", slog.String("error", err.Error()))
		return c.current
	}
	c.current, c.loadedAt = loaded, time.Now()
	return c.current
}
