package articles_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
)

// The three ways authorization decays, each as a test that it cannot here.

// TestStateInAPermissionIsRefused: a permission that encodes state cannot
// be registered, in Go or in SQL.
func TestStateInAPermissionIsRefused(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)

	registry, err := authz.NewRegistry(ctx, b.pool)
	require.NoError(t, err)
	for _, c := range []authz.Capability{"article.publish_draft", "article.edit_own", "article.publish_after_review", "article.approve_in_review"} {
		err := registry.Register(c)
		bulwarktest.RequireLayer(t, err, fault.LayerInvalid, "capability_refused")
		require.False(t, registry.Registered(c))
	}
	require.NoError(t, registry.Register(articles.Capabilities()...))

	_, err = b.pool.Exec(ctx, `SELECT bulwark.declare_capability('article.publish_draft', 'Publish a draft.')`)
	bulwarktest.RequireLayer(t, db.InterpretError(err), fault.LayerInvariant, fault.CodePreconditionFailed)
	_, err = b.pool.Exec(ctx, `SELECT bulwark.declare_capability('article.edit_own', 'Edit one''s own article.')`)
	bulwarktest.RequireLayer(t, db.InterpretError(err), fault.LayerInvariant, fault.CodePreconditionFailed)
	var count int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM bulwark.capabilities WHERE name IN ('article.publish_draft', 'article.edit_own')`).Scan(&count))
	require.Zero(t, count)
}

// injector is a pgx tracer that, once armed, runs a concurrent change right
// after the gate loaded its snapshot: the policy then decides on a state
// that is already stale.
type injector struct {
	mu     sync.Mutex
	armed  int // how many snapshot loads to interfere with
	change func(ctx context.Context)
}

type snapshotQueryKey struct{}

// isSnapshotLoad reports whether sql is one of the gate's snapshot loads
// (sqlc names every query in a leading comment).
func isSnapshotLoad(sql string) bool {
	return strings.Contains(sql, "name: ArticleGetByID") || strings.Contains(sql, "name: ArticleGetForPublish")
}

// TraceQueryStart marks a snapshot load sent on its own.
func (in *injector) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, snapshotQueryKey{}, isSnapshotLoad(data.SQL))
}

func (in *injector) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	if isSnapshot, _ := ctx.Value(snapshotQueryKey{}).(bool); isSnapshot && data.Err == nil {
		in.fire(ctx)
	}
}

// TraceBatchQuery sees a snapshot load sent in a batch with the gate's key
// check, once its result is read.
func (in *injector) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	if isSnapshotLoad(data.SQL) && data.Err == nil {
		in.fire(ctx)
	}
}

func (in *injector) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (in *injector) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

func (in *injector) fire(ctx context.Context) {
	in.mu.Lock()
	fire := in.armed > 0 && in.change != nil
	if fire {
		in.armed--
	}
	in.mu.Unlock()
	if fire {
		in.change(ctx)
	}
}

func (in *injector) arm(n int, change func(ctx context.Context)) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.armed, in.change = n, change
}

// TestStaleSnapshotIsAConflict: a policy that approved on a snapshot that
// then went stale. The mutation fails as a conflict and changes nothing;
// the retry helper decides again on the new state.
func TestStaleSnapshotIsAConflict(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	in := &injector{}
	b := setupWith(t, func(cfg *pgxpool.Config) { cfg.ConnConfig.Tracer = in })
	// The interfering change goes through its own pool, untraced.
	other := pgxpoolFor(t, b.pool)

	withdraw := func(id uuid.UUID) func(context.Context) {
		return func(ctx context.Context) {
			cur, err := b.q.ArticleGetByID(ctx, other, id)
			require.NoError(t, err)
			_, err = b.q.ArticleWithdraw(ctx, other, db.ArticleWithdrawParams{Actor: b.erin, ID: id, ExpectedVersion: cur.Version})
			require.NoError(t, err)
		}
	}

	t.Run("WithoutRetryTheConflictSurfaces", func(t *testing.T) {
		a := b.inState(t, articles.StateApproved)
		in.arm(1, withdraw(a.ID))
		_, err := b.svc.Publish(ctx, b.pat, articles.TransitionRequest{ID: a.ID}, nil)
		bulwarktest.RequireLayer(t, err, fault.LayerConflict, fault.CodeStaleVersion)
		after := b.get(t, a.ID)
		require.Equal(t, string(articles.StateDraft), after.State, "only the withdrawal happened")
		require.Nil(t, after.PublishedAt)
	})

	t.Run("RetryReevaluatesThePolicy", func(t *testing.T) {
		a := b.inState(t, articles.StateApproved)
		in.arm(1, withdraw(a.ID))
		_, err := b.svc.Retrying(nil).Publish(ctx, b.pat, articles.TransitionRequest{ID: a.ID}, nil)
		// The new state (draft) makes the request invalid: the policy says
		// so; the old mutation is never re-sent.
		bulwarktest.RequireLayer(t, err, fault.LayerPolicy, articles.CodeWrongState)
		require.Equal(t, string(articles.StateDraft), b.get(t, a.ID).State)
	})

	t.Run("RetrySucceedsWhenTheNewStateAllowsIt", func(t *testing.T) {
		a := b.inState(t, articles.StateApproved)
		in.arm(1, func(ctx context.Context) {
			// A harmless concurrent write that only moves the version.
			_, err := other.Exec(ctx, `BEGIN;
				SELECT bulwark.maintenance_begin('test: touch the row');
				UPDATE app.articles SET updated_at = pg_catalog.now() WHERE id = '`+a.ID.String()+`';
				COMMIT`)
			require.NoError(t, err)
		})
		got, err := b.svc.Retrying(nil).Publish(ctx, b.pat, articles.TransitionRequest{ID: a.ID}, nil)
		require.NoError(t, err)
		require.Equal(t, string(articles.StatePublished), got.State)
		require.Equal(t, a.Version+2, got.Version)
	})

	t.Run("APinnedVersionStaysAConflict", func(t *testing.T) {
		a := b.inState(t, articles.StateApproved)
		in.arm(1, withdraw(a.ID))
		_, err := b.svc.Retrying(nil).Publish(ctx, b.pat, articles.TransitionRequest{ID: a.ID, ExpectedVersion: a.Version}, nil)
		bulwarktest.RequireLayer(t, err, fault.LayerConflict, fault.CodeStaleVersion)
	})
}

func pgxpoolFor(t *testing.T, like *pgxpool.Pool) *pgxpool.Pool {
	t.Helper()
	cfg := like.Config()
	cfg.ConnConfig.Tracer = nil
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// TestSkippingTheGoLayers: a caller that calls the generated db function
// directly still meets the capability check (as permission) and the
// invariants (as invariant).
func TestSkippingTheGoLayers(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)

	a := b.inState(t, articles.StateDraft)
	_, err := b.q.ArticlePublish(ctx, b.pool, db.ArticlePublishParams{Actor: b.alice, ID: a.ID, ExpectedVersion: a.Version})
	bulwarktest.RequireLayer(t, db.InterpretError(err), fault.LayerPermission, fault.CodeMissingCapability)
	_, err = b.q.ArticlePublish(ctx, b.pool, db.ArticlePublishParams{Actor: b.pat, ID: a.ID, ExpectedVersion: a.Version})
	bulwarktest.RequireLayer(t, db.InterpretError(err), fault.LayerInvariant, fault.CodeIllegalTransition)
	require.Equal(t, 500, fault.HTTPStatus(db.InterpretError(err)))

	// The policy would have said "own article"; without it the database
	// refuses self-approval as separation of duties.
	own := b.inStateBy(t, b.sneaky, articles.StateInReview)
	_, err = b.svc.Approve(ctx, b.sneaky, articles.TransitionRequest{ID: own.ID}, nil)
	bulwarktest.RequireLayer(t, err, fault.LayerPolicy, articles.CodeOwnArticle)
	_, err = b.q.ArticleApprove(ctx, b.pool, db.ArticleApproveParams{Actor: b.sneaky, ID: own.ID, ExpectedVersion: own.Version})
	bulwarktest.RequireLayer(t, db.InterpretError(err), fault.LayerInvariant, fault.CodeSeparationOfDuties)
	require.Equal(t, own, b.get(t, own.ID))
}

// TestConcurrentPublishesThroughTheGate: sixteen publishers of one article.
// One wins; the others meet a conflict (they decided on the old snapshot)
// or the policy (they loaded the published one). None is an invariant
// failure: the layers above did their job.
func TestConcurrentPublishesThroughTheGate(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	a := b.inState(t, articles.StateApproved)
	logBefore := b.logLen(t, a.ID)

	const n = 16
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = b.svc.Publish(ctx, b.pat, articles.TransitionRequest{ID: a.ID}, nil)
		}()
	}
	close(start)
	wg.Wait()

	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case fault.IsRetryable(err):
			bulwarktest.RequireLayer(t, err, fault.LayerConflict, fault.CodeStaleVersion)
		default:
			bulwarktest.RequireLayer(t, err, fault.LayerPolicy, articles.CodeWrongState)
		}
	}
	require.Equal(t, 1, wins)
	require.Equal(t, logBefore+1, b.logLen(t, a.ID))
}

// TestCorrelationIDEndToEnd: the id in the context reaches the observer and
// the audit row.
func TestCorrelationIDEndToEnd(t *testing.T) {
	t.Parallel()

	b := setup(t)
	a := b.inState(t, articles.StateDraft)
	ctx := authz.WithCorrelationID(context.Background(), "req-e2e-1")
	_, err := b.svc.Submit(ctx, b.alice, articles.TransitionRequest{ID: a.ID}, nil)
	require.NoError(t, err)
	require.Equal(t, "req-e2e-1", b.records.lastFor(a.ID).CorrelationID)
	entries, err := b.q.TransitionLogByEntity(ctx, b.pool, a.ID)
	require.NoError(t, err)
	require.Equal(t, "req-e2e-1", *entries[len(entries)-1].CorrelationID)
}

// TestActionInCallersTransaction: the gate runs inside the caller's
// transaction, so the caller decides whether it commits.
func TestActionInCallersTransaction(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	a := b.inState(t, articles.StateDraft)

	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	_, err = b.svc.Submit(ctx, b.alice, articles.TransitionRequest{ID: a.ID}, &authz.DoOpts{Tx: tx})
	require.NoError(t, err)
	// A failure inside the same transaction rolls back to its savepoint and
	// leaves the transaction usable.
	_, err = b.svc.Submit(ctx, b.alice, articles.TransitionRequest{ID: a.ID}, &authz.DoOpts{Tx: tx})
	bulwarktest.RequireLayer(t, err, fault.LayerPolicy, articles.CodeWrongState)
	require.Equal(t, string(articles.StateDraft), b.get(t, a.ID).State, "not visible before commit")
	require.NoError(t, tx.Rollback(ctx))
	require.Equal(t, a, b.get(t, a.ID))

	tx, err = b.pool.Begin(ctx)
	require.NoError(t, err)
	_, err = b.svc.Submit(ctx, b.alice, articles.TransitionRequest{ID: a.ID}, &authz.DoOpts{Tx: tx})
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	require.Equal(t, string(articles.StateInReview), b.get(t, a.ID).State)
}

// TestIdempotentRetryThroughTheGate: a request retried with the same key is
// answered with the first result, not judged again by a policy on the
// state the first attempt produced; concurrent retries apply once.
func TestIdempotentRetryThroughTheGate(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)

	a := b.inState(t, articles.StateApproved)
	req := articles.TransitionRequest{ID: a.ID, IdemKey: "publish-1"}
	first, err := b.svc.Publish(ctx, b.pat, req, nil)
	require.NoError(t, err)
	again, err := b.svc.Publish(ctx, b.pat, req, nil)
	require.NoError(t, err, "a retry is answered, not refused as wrong_state")
	require.Equal(t, first.Version, again.Version)
	require.True(t, first.UpdatedAt.Equal(again.UpdatedAt))
	require.Equal(t, 5, b.logLen(t, a.ID))

	// A retry that carries the version the client saw (now stale) is
	// answered too: the gate compares versions only for new requests.
	pinned, err := b.svc.Publish(ctx, b.pat, articles.TransitionRequest{ID: a.ID, ExpectedVersion: 4, IdemKey: "publish-1"}, nil)
	require.NoError(t, err)
	require.Equal(t, first.Version, pinned.Version)
	require.Equal(t, 5, b.logLen(t, a.ID))

	// The same key for another request is a conflict, never a re-apply.
	other := b.inState(t, articles.StateApproved)
	_, err = b.svc.Publish(ctx, b.pat, articles.TransitionRequest{ID: other.ID, IdemKey: "publish-1"}, nil)
	bulwarktest.RequireLayer(t, err, fault.LayerConflict, fault.CodeIdempotencyKeyReused)
	require.Equal(t, other, b.get(t, other.ID))

	// Sixteen concurrent retries of one request apply once.
	c := b.inState(t, articles.StateApproved)
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = b.svc.Publish(ctx, b.pat, articles.TransitionRequest{ID: c.ID, IdemKey: "publish-c"}, nil)
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		// Who decided on the approved snapshot and raced the winner meets
		// the row lock, then the stored result; nobody is refused.
		require.NoError(t, err)
	}
	require.Equal(t, 5, b.logLen(t, c.ID))
}

// TestCallersTransactionNeedsNoSecondConnection: inside the caller's
// transaction the gate reads the principal through that transaction, so
// requests holding every connection of the pool still finish.
func TestCallersTransactionNeedsNoSecondConnection(t *testing.T) {
	t.Parallel()

	b := setupWith(t, func(cfg *pgxpool.Config) { cfg.MaxConns = 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = db.WithTx(ctx, b.pool, func(tx pgx.Tx) error {
				// Both transactions hold a connection before either asks
				// the gate for anything.
				time.Sleep(100 * time.Millisecond)
				_, err := b.svc.Create(ctx, b.alice, articles.CreateRequest{Title: "In a transaction"}, &authz.DoOpts{Tx: tx})
				return err
			})
		}()
	}
	close(start)
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
}
