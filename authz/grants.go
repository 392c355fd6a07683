package authz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgxlisten"

	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
)

// grantsChannel is the channel the grant functions and the capability and
// principal triggers notify, with a principal id or "*" for everyone.
const grantsChannel = "bulwark_grants"

// GrantsOpts are options for [NewGrants]. A nil *GrantsOpts means defaults.
type GrantsOpts struct {
	// Logger receives listener errors. Default slog.Default().
	Logger *slog.Logger
	// MaxAge bounds how long a cached principal is trusted, even if a
	// notification were lost. Default 30s.
	MaxAge time.Duration
	// Observer sees cache hits and misses and how soon grant changes take
	// effect. Default: none.
	Observer GrantsObserver
	// ReconnectDelay is how long the listener waits before reconnecting.
	// Default 1s. While it is disconnected nothing is cached.
	ReconnectDelay time.Duration
}

// Grants loads principals and their effective capabilities from the
// database and caches them while it listens for changes. The grant
// functions notify at commit, so a revoked role stops working as soon as the
// notification arrives; MaxAge bounds the delay if one were lost. Without
// [Grants.Start], or while the listener is disconnected, nothing is cached
// and every call reads the database.
type Grants struct {
	cache      map[uuid.UUID]cachedPrincipal
	generation uint64 // bumped by every invalidation; guards loads that raced one
	listening  atomic.Bool
	logger     *slog.Logger
	maxAge     time.Duration
	mu         sync.Mutex
	observer   GrantsObserver
	pool       *pgxpool.Pool
	reconnect  time.Duration
	stop       func()
}

type cachedPrincipal struct {
	loadedAt  time.Time
	principal *Principal
}

// NewGrants returns a Grants reading through pool.
func NewGrants(pool *pgxpool.Pool, opts *GrantsOpts) *Grants {
	if opts == nil {
		opts = &GrantsOpts{}
	}
	g := &Grants{
		cache:     map[uuid.UUID]cachedPrincipal{},
		logger:    opts.Logger,
		maxAge:    opts.MaxAge,
		observer:  opts.Observer,
		pool:      pool,
		reconnect: opts.ReconnectDelay,
	}
	if g.logger == nil {
		g.logger = slog.Default()
	}
	if g.maxAge <= 0 {
		g.maxAge = 30 * time.Second
	}
	if g.reconnect <= 0 {
		g.reconnect = time.Second
	}
	return g
}

// Start begins listening for grant changes on a dedicated connection and
// returns once the first LISTEN is in place, or with ctx's error. Caching
// starts then. Call Stop to end it.
func (g *Grants) Start(ctx context.Context) error {
	listenCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ready := make(chan struct{})
	var readyOnce sync.Once
	listener := &pgxlisten.Listener{
		Connect: func(ctx context.Context) (*pgx.Conn, error) {
			return pgx.ConnectConfig(ctx, g.pool.Config().ConnConfig.Copy())
		},
		LogError: func(ctx context.Context, err error) {
			// The connection is gone or broken: notifications may be
			// missed from now on, so stop trusting the cache.
			g.listening.Store(false)
			g.InvalidateAll()
			if ctx.Err() == nil {
				g.logger.WarnContext(ctx, "bulwark: grants listener", slog.String("error", err.Error()))
			}
		},
		ReconnectDelay: g.reconnect,
	}
	listener.Handle(grantsChannel, &grantsHandler{grants: g, ready: func() { readyOnce.Do(func() { close(ready) }) }})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = listener.Listen(listenCtx)
	}()
	g.stop = func() {
		cancel()
		<-done
		g.listening.Store(false)
		g.InvalidateAll()
	}
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		g.stop()
		return fmt.Errorf("start grants listener: %w", ctx.Err())
	}
}

// Stop ends listening and caching. It is safe to call without Start.
func (g *Grants) Stop() {
	if g.stop != nil {
		g.stop()
	}
}

type grantsHandler struct {
	grants *Grants
	ready  func()
}

// HandleBacklog runs after every (re)connect: whatever changed while no one
// listened is unknown, so the cache starts empty.
func (h *grantsHandler) HandleBacklog(context.Context, string, *pgx.Conn) error {
	h.grants.InvalidateAll()
	h.grants.listening.Store(true)
	h.ready()
	return nil
}

func (h *grantsHandler) HandleNotification(ctx context.Context, n *pgconn.Notification, conn *pgx.Conn) error {
	id, err := uuid.Parse(n.Payload)
	if err != nil {
		h.grants.InvalidateAll()
		h.grants.observeInvalidation(ctx, conn, uuid.Nil)
		return nil
	}
	h.grants.Invalidate(id)
	h.grants.observeInvalidation(ctx, conn, id)
	return nil
}

// Invalidate drops one principal from the cache.
func (g *Grants) Invalidate(id uuid.UUID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.generation++
	delete(g.cache, id)
}

// InvalidateAll empties the cache.
func (g *Grants) InvalidateAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.generation++
	clear(g.cache)
}

// Principal returns the principal with its effective capabilities. An
// unknown principal is a permission *fault.Error (code unknown_principal): it may
// attempt nothing. An inactive one is returned with no capabilities.
func (g *Grants) Principal(ctx context.Context, id uuid.UUID) (*Principal, error) {
	return g.PrincipalOn(ctx, g.pool, id)
}

// PrincipalOn is Principal reading through conn on a cache miss: the gate
// passes the caller's transaction, so a request inside one never needs a
// second connection from the pool (two such requests on a pool of two would
// otherwise wait on each other forever).
func (g *Grants) PrincipalOn(ctx context.Context, conn db.DBTX, id uuid.UUID) (*Principal, error) {
	g.mu.Lock()
	generation := g.generation
	if c, ok := g.cache[id]; ok && g.listening.Load() && time.Since(c.loadedAt) < g.maxAge {
		g.mu.Unlock()
		g.observeLookup(ctx, true)
		return c.principal.clone(), nil
	}
	g.mu.Unlock()
	g.observeLookup(ctx, false)

	loadedAt := time.Now()
	row, err := db.New().PrincipalGrants(ctx, conn, id)
	if err != nil {
		err = db.InterpretError(err)
		if errors.Is(err, fault.ErrNotFound) {
			// The cause is the bare "no rows": an unknown principal is a
			// permission failure, and must not also match fault.ErrNotFound.
			return nil, permissionError(CodeUnknownPrincipal, fmt.Sprintf("unknown principal %s", id), pgx.ErrNoRows)
		}
		return nil, fmt.Errorf("load principal %s: %w", id, err)
	}
	// Sorted here, not only by the query: the database's collation may
	// order names otherwise, and HasRole searches by bytes.
	p := &Principal{ID: row.ID, Active: row.Active, Kind: PrincipalKind(row.Kind), Name: row.Name, Roles: slices.Sorted(slices.Values(row.Roles))}
	if p.Active {
		for _, c := range row.Capabilities {
			p.Capabilities = append(p.Capabilities, Capability(c))
		}
		slices.Sort(p.Capabilities)
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	// A load that raced an invalidation may hold what was just revoked.
	if g.generation == generation && g.listening.Load() {
		g.cache[id] = cachedPrincipal{loadedAt: loadedAt, principal: p.clone()}
	}
	return p, nil
}
