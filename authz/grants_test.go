package authz_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/fault"
)

// notifyWithin bounds how long a committed grant change may take to reach
// a listening Grants. Notifications arrive in milliseconds; the bound is
// generous so that a loaded machine does not fail the test.
const notifyWithin = 2 * time.Second

func TestGrants(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	type testBundle struct {
		loads *queryCounter // PrincipalGrants queries on pool
		pool  *pgxpool.Pool
		world *world
	}

	// Each subtest gets a database of its own: notifications reach every
	// listener of a database, and another subtest's "*" would empty this
	// one's cache and make its counts lie.
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		w := newWorld(t)
		loads := &queryCounter{contains: "-- name: PrincipalGrants "}
		return &testBundle{loads: loads, pool: newPool(t, w.url, loads), world: w}
	}

	// can loads the principal and reports whether it holds c.
	can := func(t *testing.T, grants *authz.Grants, id uuid.UUID, c authz.Capability) bool {
		t.Helper()
		p, err := grants.Principal(ctx, id)
		require.NoError(t, err)
		return p.Can(c)
	}

	t.Run("CachesNothingWithoutStart", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		id := bundle.world.newPrincipal(t, "author")
		grants := authz.NewGrants(bundle.pool, nil)
		for range 3 {
			require.True(t, can(t, grants, id, "article.create"))
		}
		require.EqualValues(t, 3, bundle.loads.count())

		// Nor after Stop.
		require.NoError(t, grants.Start(ctx))
		grants.Stop()
		before := bundle.loads.count()
		for range 3 {
			require.True(t, can(t, grants, id, "article.create"))
		}
		require.EqualValues(t, 3, bundle.loads.count()-before)
	})

	t.Run("CachesWhileListening", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		id := bundle.world.newPrincipal(t, "author")
		grants := startGrants(t, bundle.pool, nil)
		for range 10 {
			require.True(t, can(t, grants, id, "article.create"))
		}
		require.EqualValues(t, 1, bundle.loads.count())

		grants.Invalidate(id)
		require.True(t, can(t, grants, id, "article.create"))
		require.EqualValues(t, 2, bundle.loads.count())

		grants.InvalidateAll()
		require.True(t, can(t, grants, id, "article.create"))
		require.EqualValues(t, 3, bundle.loads.count())
	})

	t.Run("ConcurrentReadersNeverSeeRevoked", func(t *testing.T) {
		t.Parallel()

		// The principal holds article.archive through three roles; the
		// roles are revoked one by one while 16 readers load it.
		bundle := setup(t)
		roles := []string{"admin", "publisher", "author"}
		id := bundle.world.newPrincipal(t, roles...)
		grants := startGrants(t, bundle.pool, nil)

		const readers = 16
		var (
			base    = time.Now()
			settled atomic.Int64 // nanoseconds after base; 0 until the revoke settled
			stop    atomic.Bool
			calls   atomic.Int64
			stale   atomic.Int64
			wg      sync.WaitGroup
			errs    = make(chan error, readers)
			begin   = make(chan struct{})
		)
		for range readers {
			wg.Go(func() {
				<-begin
				for !stop.Load() {
					began := time.Since(base)
					p, err := grants.Principal(ctx, id)
					if err != nil {
						errs <- err
						return
					}
					calls.Add(1)
					if s := settled.Load(); s != 0 && int64(began) > s && p.Can("article.archive") {
						stale.Add(1)
					}
				}
			})
		}
		close(begin)
		for i, role := range roles {
			time.Sleep(20 * time.Millisecond)
			bulwarktest.Revoke(t, bundle.world.pool, id, role)
			if i < len(roles)-1 {
				// Still held through the roles left.
				require.True(t, can(t, grants, id, "article.archive"))
			}
		}
		delay, ok := eventually(notifyWithin, func() bool { return !can(t, grants, id, "article.archive") })
		require.True(t, ok, "the last revoke had no effect after %v", delay)
		// A load that began before the commit may be cached until the
		// notification arrives; past this grace, none may be.
		time.Sleep(100 * time.Millisecond)
		settled.Store(int64(time.Since(base)))
		time.Sleep(100 * time.Millisecond)
		stop.Store(true)
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.Zero(t, stale.Load(), "reads that began after the revoke settled still saw the capability")
		require.Positive(t, calls.Load())
		t.Logf("%d reads by %d readers; last revoke took effect after %v", calls.Load(), readers, delay)
	})

	t.Run("InactivePrincipalHasNoCapabilities", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		id := bundle.world.newPrincipal(t, "author", "editor")
		bundle.world.deactivate(t, id)
		grants := authz.NewGrants(bundle.pool, nil)

		p, err := grants.Principal(ctx, id)
		require.NoError(t, err)
		require.Equal(t, id, p.ID)
		require.False(t, p.Active)
		require.Empty(t, p.Capabilities)
		require.False(t, p.Can("article.create"))
		require.False(t, p.HasRole("author"), "an inactive principal holds no role either")
	})

	t.Run("LoadRacingRevokeIsNotCached", func(t *testing.T) {
		t.Parallel()

		// A load reads the principal, then stalls while a revoke commits
		// and its notification arrives. It may return what it read (it
		// began first), but must not cache it: with the default MaxAge a
		// cached copy would outlive the revoke by 30s.
		w := newWorld(t)
		hold := &holdFirstLoad{held: make(chan struct{}), release: make(chan struct{})}
		id := w.newPrincipal(t, "author", "publisher")
		grants := startGrants(t, newPool(t, w.url, hold), nil)

		type result struct {
			p   *authz.Principal
			err error
		}
		first := make(chan result, 1)
		go func() {
			p, err := grants.Principal(ctx, id)
			first <- result{p, err}
		}()
		<-hold.held
		bulwarktest.Revoke(t, w.pool, id, "publisher")
		// The notification takes milliseconds; a slow CI machine gets a
		// second.
		time.Sleep(time.Second)
		close(hold.release)
		r := <-first
		require.NoError(t, r.err)
		require.True(t, r.p.Can("article.publish"), "the stalled load read before the revoke")

		require.False(t, can(t, grants, id, "article.publish"), "the stalled load was cached")
	})

	t.Run("LoadsCapabilitiesAndRoles", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		id := bundle.world.newPrincipal(t, "editor", "author")
		grants := authz.NewGrants(bundle.pool, nil)

		p, err := grants.Principal(ctx, id)
		require.NoError(t, err)
		require.Equal(t, id, p.ID)
		require.True(t, p.Active)
		require.Equal(t, authz.PrincipalHuman, p.Kind)
		require.NotEmpty(t, p.Name)
		require.Equal(t, []authz.Capability{
			"article.archive", "article.create", "article.edit", "article.review", "article.submit",
		}, p.Capabilities)
		require.Equal(t, []string{"author", "editor"}, p.Roles)
		require.True(t, p.Can("article.review"))
		require.False(t, p.Can("article.publish"))
		require.True(t, p.HasRole("editor"))
		require.False(t, p.HasRole("publisher"))

		boot, err := grants.Principal(ctx, bundle.world.boot)
		require.NoError(t, err)
		require.Equal(t, authz.PrincipalService, boot.Kind)
		require.True(t, boot.Can("role.grant"))

		var nobody *authz.Principal
		require.False(t, nobody.Can("article.create"))
		require.False(t, nobody.HasRole("author"))
	})

	t.Run("MaxAgeBoundsUnnotifiedChange", func(t *testing.T) {
		t.Parallel()

		// Every write of principal_roles notifies, maintenance included; a
		// lost notification is simulated by a superuser writing with
		// triggers off (session_replication_role = replica): it reaches no
		// listener, and only MaxAge ends the cached answer.
		// Generous, so a slow machine still loads and writes within half.
		const maxAge = 2 * time.Second
		bundle := setup(t)
		id := bundle.world.newPrincipal(t, "author")
		grants := startGrants(t, bundle.pool, &authz.GrantsOpts{MaxAge: maxAge})

		loaded := time.Now()
		require.False(t, can(t, grants, id, "article.publish"))
		bundle.world.unnotified(t, "INSERT INTO bulwark.principal_roles (principal_id, role) VALUES ($1, 'publisher')", id)
		require.Less(t, time.Since(loaded), maxAge/2, "the machine is too slow for this test's timing")
		require.False(t, can(t, grants, id, "article.publish"), "the cached principal is served until MaxAge")
		require.EqualValues(t, 1, bundle.loads.count())

		_, ok := eventually(maxAge+notifyWithin, func() bool { return can(t, grants, id, "article.publish") })
		require.True(t, ok, "the grant never appeared")
		require.GreaterOrEqual(t, time.Since(loaded), maxAge, "the grant appeared before MaxAge, without a notification")
	})

	t.Run("NotifiedDeactivationEmptiesTheCache", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		id := bundle.world.newPrincipal(t, "author")
		bystander := bundle.world.newPrincipal(t, "author")
		grants := startGrants(t, bundle.pool, nil)
		require.True(t, can(t, grants, id, "article.create"))
		require.True(t, can(t, grants, bystander, "article.create"))
		require.EqualValues(t, 2, bundle.loads.count())

		bundle.world.deactivate(t, id)
		delay, ok := eventually(notifyWithin, func() bool {
			p, err := grants.Principal(ctx, id)
			require.NoError(t, err)
			return !p.Active
		})
		require.True(t, ok, "the deactivation had no effect after %v", delay)
		require.False(t, can(t, grants, id, "article.create"))

		// The principals trigger names the principal: the bystander stays
		// cached.
		before := bundle.loads.count()
		require.True(t, can(t, grants, bystander, "article.create"))
		require.Equal(t, before, bundle.loads.count(), "the bystander was dropped too")
		t.Logf("deactivation took effect after %v", delay)
	})

	t.Run("NotifiedGrantTakesEffect", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		id := bundle.world.newPrincipal(t, "author")
		grants := startGrants(t, bundle.pool, nil)
		require.False(t, can(t, grants, id, "article.publish"))
		require.False(t, can(t, grants, id, "article.publish"))
		require.EqualValues(t, 1, bundle.loads.count(), "cached before the grant")

		bulwarktest.Grant(t, bundle.world.pool, id, "publisher")
		delay, ok := eventually(notifyWithin, func() bool { return can(t, grants, id, "article.publish") })
		require.True(t, ok, "the grant had no effect after %v", delay)
		t.Logf("grant took effect after %v", delay)
	})

	t.Run("NotifiedRevokeTakesEffect", func(t *testing.T) {
		t.Parallel()

		// The default MaxAge (30s) is far beyond the bound: only the
		// notification can end the cached answer in time.
		bundle := setup(t)
		id := bundle.world.newPrincipal(t, "author", "publisher")
		grants := startGrants(t, bundle.pool, nil)
		require.True(t, can(t, grants, id, "article.publish"))
		require.True(t, can(t, grants, id, "article.publish"))
		require.EqualValues(t, 1, bundle.loads.count(), "cached before the revoke")

		bulwarktest.Revoke(t, bundle.world.pool, id, "publisher") // returns once committed
		delay, ok := eventually(notifyWithin, func() bool { return !can(t, grants, id, "article.publish") })
		require.True(t, ok, "the revoke had no effect after %v", delay)
		require.True(t, can(t, grants, id, "article.create"), "the other role stays")
		t.Logf("revoke-to-effect delay: %v", delay)
	})

	t.Run("NotifiedRoleChangeTakesEffect", func(t *testing.T) {
		t.Parallel()

		// A role gaining a capability notifies "*" (role_capabilities
		// trigger).
		bundle := setup(t)
		role := bulwarktest.UniqueName("role")
		_, err := bundle.world.pool.Exec(ctx, "SELECT bulwark.declare_role($1, ARRAY['article.create'])", role)
		require.NoError(t, err)
		id := bundle.world.newPrincipal(t, role)
		grants := startGrants(t, bundle.pool, nil)
		require.False(t, can(t, grants, id, "article.publish"))

		_, err = bundle.world.pool.Exec(ctx, "SELECT bulwark.declare_role($1, ARRAY['article.publish'])", role)
		require.NoError(t, err)
		delay, ok := eventually(notifyWithin, func() bool { return can(t, grants, id, "article.publish") })
		require.True(t, ok, "the role change had no effect after %v", delay)
	})

	t.Run("StartHonorsContext", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		id := bundle.world.newPrincipal(t, "author")
		grants := authz.NewGrants(bundle.pool, nil)
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		err := grants.Start(cancelled)
		require.ErrorIs(t, err, context.Canceled)

		for range 2 {
			require.True(t, can(t, grants, id, "article.create"))
		}
		require.EqualValues(t, 2, bundle.loads.count(), "a failed Start caches nothing")
		grants.Stop()
	})

	t.Run("StopIsIdempotent", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		grants := authz.NewGrants(bundle.pool, nil)
		grants.Stop() // without Start
		require.NoError(t, grants.Start(ctx))
		grants.Stop()
		grants.Stop()

		// It can start again.
		id := bundle.world.newPrincipal(t, "author")
		require.NoError(t, grants.Start(ctx))
		defer grants.Stop()
		for range 2 {
			require.True(t, can(t, grants, id, "article.create"))
		}
		require.EqualValues(t, 1, bundle.loads.count())
	})

	t.Run("UnknownPrincipal", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		grants := authz.NewGrants(bundle.pool, nil)
		p, err := grants.Principal(ctx, uuid.New())
		require.Nil(t, p)
		bulwarktest.RequireLayer(t, err, fault.LayerPermission, authz.CodeUnknownPrincipal)
		require.ErrorIs(t, err, fault.ErrPermission)
		require.Equal(t, 403, fault.HTTPStatus(err))
	})
}

type holdKey struct{}

// holdFirstLoad is a tracer that stalls the first PrincipalGrants query
// after it has read its row: it closes held, then waits for release.
type holdFirstLoad struct {
	held    chan struct{}
	once    sync.Once
	release chan struct{}
}

func (h *holdFirstLoad) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if strings.Contains(data.SQL, "-- name: PrincipalGrants ") {
		return context.WithValue(ctx, holdKey{}, true)
	}
	return ctx
}

// TraceQueryEnd runs once the row is scanned.
func (h *holdFirstLoad) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	if ctx.Value(holdKey{}) == nil {
		return
	}
	h.once.Do(func() {
		close(h.held)
		<-h.release
	})
}
