package authz_test

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
)

// roundTrips counts a pool's round trips two ways: as pgx reports them (a
// query, or a batch, each one exchange), and on the wire (every time the
// client, having written, waits to read). The two must agree, so that no
// hidden exchange (a prepare, a describe) goes uncounted.
type roundTrips struct {
	statements atomic.Int64 // queries and batches, from pgx's tracer
	wire       atomic.Int64 // write-then-read turns on the socket
}

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.statements.Add(1)
	return ctx
}

func (*roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.statements.Add(1)
	return ctx
}

func (*roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (*roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// count runs f and returns how many round trips it took, failing t when
// the two counts disagree.
func (r *roundTrips) count(t *testing.T, f func()) int64 {
	t.Helper()
	s, w := r.both(f)
	require.Equal(t, s, w, "pgx's count (%d) and the wire's (%d)", s, w)
	return s
}

// both runs f and returns pgx's count and the wire's.
func (r *roundTrips) both(f func()) (statements, wire int64) {
	s0, w0 := r.statements.Load(), r.wire.Load()
	f()
	return r.statements.Load() - s0, r.wire.Load() - w0
}

// countingConn counts the turns from writing to reading.
type countingConn struct {
	net.Conn
	n       *atomic.Int64
	written bool
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.written = true
	return c.Conn.Write(b)
}

func (c *countingConn) Read(b []byte) (int, error) {
	if c.written {
		c.written = false
		c.n.Add(1)
	}
	return c.Conn.Read(b)
}

// countedPool opens a pool of one connection on url whose round trips rt
// counts.
func countedPool(t *testing.T, url string, rt *roundTrips) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["search_path"] = ""
	cfg.ConnConfig.Tracer = rt
	cfg.MaxConns, cfg.MinConns = 1, 1
	dial := cfg.ConnConfig.DialFunc
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: conn, n: &rt.wire}, nil
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// articleRequest is a request that says everything about itself: its
// target, its key, the version it pinned.
type articleRequest struct {
	ID      uuid.UUID
	Key     string
	Version int32
}

func (r articleRequest) TargetID() uuid.UUID    { return r.ID }
func (r articleRequest) IdempotencyKey() string { return r.Key }
func (r articleRequest) PinnedVersion() int32   { return r.Version }

// submitTransition is the author's submit built with authz.Transition: a
// policy and a SQL call, nothing else.
func submitTransition() *authz.Action[db.AppArticle, articleRequest, db.AppArticle] {
	q := db.New()
	return authz.Transition("test.submit", "article.submit", q.ArticleGetByID,
		func(p *authz.Principal, a db.AppArticle, _ articleRequest) authz.Decision {
			if a.AuthorID != p.ID {
				return authz.Deny("not_author", "only the author submits an article")
			}
			if a.State != "draft" {
				return authz.Deny("not_draft", "only a draft can be submitted")
			}
			return authz.Allow()
		},
		func(ctx context.Context, conn db.DBTX, c authz.Call[db.AppArticle, articleRequest]) (db.AppArticle, error) {
			return q.ArticleSubmit(ctx, conn, db.ArticleSubmitParams{Actor: c.Actor(), ID: c.Snapshot.ID, ExpectedVersion: c.Snapshot.Version, IdemKey: c.IdemKey()})
		})
}

// readArticle is the author's read, built with authz.Read.
func readArticle() *authz.Action[db.AppArticle, authz.ByID, db.AppArticle] {
	return authz.Read("test.get", "", db.New().ArticleGetByID, func(p *authz.Principal, a db.AppArticle, _ authz.ByID) authz.Decision {
		if a.AuthorID != p.ID && a.State != "published" {
			return authz.Deny("not_visible", "only the author sees an unpublished article")
		}
		return authz.Allow()
	})
}

func TestRoundTrips(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	w := newWorld(t)
	// The grants listen on a pool of their own: only the gate's pool is
	// counted.
	grants := startGrants(t, w.pool, nil)

	type testBundle struct {
		author uuid.UUID
		gate   *authz.Gate
		rt     *roundTrips
	}

	setup := func(t *testing.T, opts *authz.GateOpts) *testBundle {
		t.Helper()
		rt := &roundTrips{}
		if opts == nil {
			opts = &authz.GateOpts{}
		}
		opts.Observer = &recorder{}
		b := &testBundle{author: w.newPrincipal(t, "author"), gate: authz.NewGate(countedPool(t, w.url, rt), grants, opts), rt: rt}
		// Warm up: the principal cache, and the connection's statement
		// cache (the first use of a statement describes it first).
		for range 2 {
			a := w.draft(t, b.author)
			_, err := authz.Do(ctx, b.gate, b.author, submitTransition(), articleRequest{ID: a.ID, Key: uuid.NewString()}, nil)
			require.NoError(t, err)
			_, err = authz.Do(ctx, b.gate, b.author, submitTransition(), articleRequest{ID: a.ID}, &authz.DoOpts{Snapshot: authz.Held(w.get(t, a.ID))})
			bulwarktest.RequireLayer(t, err, fault.LayerPolicy, "not_draft")
			_, err = authz.Do(ctx, b.gate, b.author, readArticle(), authz.ByID(a.ID), nil)
			require.NoError(t, err)
		}
		return b
	}

	t.Run("KeyedTransitionTwo", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		a := w.draft(t, b.author)
		var got db.AppArticle
		n := b.rt.count(t, func() {
			var err error
			got, err = authz.Do(ctx, b.gate, b.author, submitTransition(), articleRequest{ID: a.ID, Key: "submit-1", Version: a.Version}, nil)
			require.NoError(t, err)
		})
		require.Equal(t, int64(2), n, "the snapshot with the key check, then the function with the correlation id")
		require.Equal(t, "in_review", got.State)
		require.Equal(t, got, w.get(t, a.ID))
		entries := w.log(t, a.ID)
		require.NotEmpty(t, *entries[len(entries)-1].CorrelationID, "the correlation id travelled with the call")
	})

	t.Run("KeyedReplayTwo", func(t *testing.T) {
		t.Parallel()

		// The replay's snapshot says in_review, which the policy refuses:
		// the key check, sent with the snapshot, says the key was used,
		// and the function answers with the first result.
		b := setup(t, nil)
		a := w.draft(t, b.author)
		req := articleRequest{ID: a.ID, Key: "submit-replay"}
		first, err := authz.Do(ctx, b.gate, b.author, submitTransition(), req, nil)
		require.NoError(t, err)
		var again db.AppArticle
		n := b.rt.count(t, func() {
			again, err = authz.Do(ctx, b.gate, b.author, submitTransition(), req, nil)
			require.NoError(t, err)
		})
		require.Equal(t, int64(2), n)
		require.Equal(t, first, again)
	})

	t.Run("HeldSnapshotOne", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		a := w.draft(t, b.author)
		n := b.rt.count(t, func() {
			got, err := authz.Do(ctx, b.gate, b.author, submitTransition(), articleRequest{ID: a.ID, Key: "submit-held"}, &authz.DoOpts{Snapshot: authz.Held(a)})
			require.NoError(t, err)
			require.Equal(t, "in_review", got.State)
		})
		require.Equal(t, int64(1), n)
	})

	t.Run("HeldReplayTwo", func(t *testing.T) {
		t.Parallel()

		// A replay decided on the held draft it was first sent with: the
		// policy allows, the function answers the replay. On a held
		// in_review row the policy refuses, and the key check finds the
		// key: two round trips, the first result.
		b := setup(t, nil)
		a := w.draft(t, b.author)
		req := articleRequest{ID: a.ID, Key: "submit-held-replay"}
		first, err := authz.Do(ctx, b.gate, b.author, submitTransition(), req, &authz.DoOpts{Snapshot: authz.Held(a)})
		require.NoError(t, err)
		n := b.rt.count(t, func() {
			again, err := authz.Do(ctx, b.gate, b.author, submitTransition(), req, &authz.DoOpts{Snapshot: authz.Held(first)})
			require.NoError(t, err)
			require.Equal(t, first, again)
		})
		require.Equal(t, int64(2), n)
	})

	t.Run("CachedSnapshotOne", func(t *testing.T) {
		t.Parallel()

		b := setup(t, &authz.GateOpts{Snapshots: authz.FromCache})
		a := w.draft(t, b.author)
		_, err := authz.Do(ctx, b.gate, b.author, readArticle(), authz.ByID(a.ID), nil)
		require.NoError(t, err)
		n := b.rt.count(t, func() {
			got, err := authz.Do(ctx, b.gate, b.author, submitTransition(), articleRequest{ID: a.ID, Key: "submit-cached"}, nil)
			require.NoError(t, err)
			require.Equal(t, "in_review", got.State)
		})
		require.Equal(t, int64(1), n, "the read filled the cache; the transition reads nothing")
	})

	t.Run("StaleCacheIsAConflictThenDropped", func(t *testing.T) {
		t.Parallel()

		// Another session moves the row behind the cache's back: the
		// transition decided on the cached row is a conflict and writes
		// nothing, and the entry is dropped, so the next call reads the
		// primary and is right.
		b := setup(t, &authz.GateOpts{Snapshots: authz.FromCache})
		stale := func(key string) (db.AppArticle, int64, int64) {
			a := w.draft(t, b.author)
			_, err := authz.Do(ctx, b.gate, b.author, readArticle(), authz.ByID(a.ID), nil)
			require.NoError(t, err)
			require.NoError(t, w.touch(ctx, a.ID))
			_, err = authz.Do(ctx, b.gate, b.author, submitTransition(), articleRequest{ID: a.ID, Key: key + "-1"}, nil)
			bulwarktest.RequireLayer(t, err, fault.LayerConflict, fault.CodeStaleVersion)
			require.Equal(t, "draft", w.get(t, a.ID).State)
			var got db.AppArticle
			statements, wire := b.rt.both(func() {
				got, err = authz.Do(ctx, b.gate, b.author, submitTransition(), articleRequest{ID: a.ID, Key: key + "-2"}, nil)
				require.NoError(t, err)
			})
			require.Equal(t, "in_review", got.State)
			require.Equal(t, a.Version+2, got.Version)
			return got, statements, wire
		}
		// pgx drops a connection's prepared statements after an error in
		// them, so the first call after a conflict prepares the two
		// batches' statements again, unseen by pgx's tracer: two more
		// exchanges on the wire, once.
		_, statements, wire := stale("cache-stale")
		require.Equal(t, int64(2), statements)
		require.Equal(t, int64(4), wire)
		// On a connection whose statements are prepared, a cache miss
		// reads the primary: two.
		n := b.rt.count(t, func() {
			a := w.draft(t, b.author)
			_, err := authz.Do(ctx, b.gate, b.author, submitTransition(), articleRequest{ID: a.ID, Key: "cache-miss"}, nil)
			require.NoError(t, err)
		})
		require.Equal(t, int64(2), n, "a cache miss reads the primary: two round trips")
	})

	t.Run("ReadOne", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		a := w.draft(t, b.author)
		n := b.rt.count(t, func() {
			got, err := authz.Do(ctx, b.gate, b.author, readArticle(), authz.ByID(a.ID), nil)
			require.NoError(t, err)
			require.Equal(t, a, got)
		})
		require.Equal(t, int64(1), n)
	})

	t.Run("StaleHeldIsAConflictRetryDecidesOnFreshData", func(t *testing.T) {
		t.Parallel()

		b := setup(t, nil)
		a := w.draft(t, b.author)
		require.NoError(t, w.touch(ctx, a.ID)) // the held row is now stale
		req := articleRequest{ID: a.ID, Key: "submit-stale"}
		_, err := authz.Do(ctx, b.gate, b.author, submitTransition(), req, &authz.DoOpts{Snapshot: authz.Held(a)})
		bulwarktest.RequireLayer(t, err, fault.LayerConflict, fault.CodeStaleVersion)
		require.True(t, fault.IsRetryable(err))
		require.Equal(t, "draft", w.get(t, a.ID).State)

		got, err := authz.Do(ctx, b.gate, b.author, submitTransition(), req, &authz.DoOpts{Snapshot: authz.Held(a), Retry: &authz.RetryOpts{BaseDelay: 1}})
		require.NoError(t, err)
		require.Equal(t, "in_review", got.State)
		require.Equal(t, a.Version+2, got.Version)
	})
}

// stepCounter is a StepObserver that records the steps of each call, as
// started and ended.
type stepCounter struct {
	recorder
	mu    sync.Mutex
	steps []string
}

func (s *stepCounter) StartCall(ctx context.Context, _ authz.CallInfo) context.Context { return ctx }

func (s *stepCounter) StartRetry(ctx context.Context, _ authz.CallInfo) (context.Context, func(int, error)) {
	return ctx, func(int, error) {}
}

func (s *stepCounter) StartStep(ctx context.Context, step authz.Step) (context.Context, func(authz.StepResult)) {
	s.mu.Lock()
	s.steps = append(s.steps, "start "+string(step))
	s.mu.Unlock()
	return ctx, func(authz.StepResult) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.steps = append(s.steps, "end "+string(step))
	}
}

func (s *stepCounter) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	steps := s.steps
	s.steps = nil
	return steps
}

func TestStepsEndOnce(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	w := newWorld(t)
	author := w.newPrincipal(t, "author")
	obs := &stepCounter{}
	gate := authz.NewGate(w.pool, startGrants(t, w.pool, nil), &authz.GateOpts{Observer: obs})

	a := w.draft(t, author)
	_, err := authz.Do(ctx, gate, author, submitTransition(), articleRequest{ID: a.ID, Key: "steps-1"}, nil)
	require.NoError(t, err)
	require.Equal(t, []string{
		"start permission", "end permission", "start snapshot", "end snapshot",
		"start policy", "end policy", "start transition", "end transition",
	}, obs.take())

	// A held row the policy refuses is looked at again on the primary,
	// which refuses too.
	b := w.inReview(t, author)
	_, err = authz.Do(ctx, gate, author, submitTransition(), articleRequest{ID: b.ID}, &authz.DoOpts{Snapshot: authz.Held(b)})
	bulwarktest.RequireLayer(t, err, fault.LayerPolicy, "not_draft")
	require.Equal(t, []string{
		"start permission", "end permission", "start snapshot", "end snapshot",
		"start policy", "end policy", "start snapshot", "end snapshot", "start policy", "end policy",
	}, obs.take())
}
