package authz_test

import (
	"context"
	"fmt"
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
	"github.com/bulwarkdb/bulwark/db"
)

// world is a database of its own whose principals and articles are made
// through the real transition functions, acting as the bootstrap principal.
// Subtests that share a world keep apart by using principals and articles
// of their own.
type world struct {
	boot uuid.UUID
	pool *pgxpool.Pool
	q    *db.Queries
	url  string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	url := bulwarktest.NewDatabase(t)
	w := &world{pool: newPool(t, url, nil), q: db.New(), url: url}
	boot, err := w.q.PrincipalGetByName(context.Background(), w.pool, "bootstrap")
	require.NoError(t, err)
	w.boot = boot.ID
	return w
}

// newPool opens a pool on url whose sessions have an empty search_path, as
// the harness's do, tracing queries with tracer when it is not nil.
func newPool(t *testing.T, url string, tracer pgx.QueryTracer) *pgxpool.Pool {
	t.Helper()
	return bulwarktest.Pool(t, url, &bulwarktest.PoolOpts{ConfigFunc: func(cfg *pgxpool.Config) {
		cfg.ConnConfig.Tracer = tracer
		// Room for a gate's transaction, a concurrent change on another
		// session, and the concurrency tests' readers.
		cfg.MaxConns = 24
	}})
}

// startGrants returns a listening Grants on pool, stopped in t's Cleanup.
func startGrants(t *testing.T, pool *pgxpool.Pool, opts *authz.GrantsOpts) *authz.Grants {
	t.Helper()
	grants := authz.NewGrants(pool, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, grants.Start(ctx))
	t.Cleanup(grants.Stop)
	return grants
}

// newPrincipal creates a human principal holding roles, named so that
// the subtests sharing a world keep apart.
func (w *world) newPrincipal(t *testing.T, roles ...string) uuid.UUID {
	t.Helper()
	return bulwarktest.Principal(t, w.pool, bulwarktest.UniqueName("principal"), roles...)
}

// maintenance runs sql with args in a transaction under the maintenance
// switch. The core has no transition function for what these tests need
// (deactivating a principal, a grant that notifies no one), and the switch
// is the sanctioned, logged way around that.
func (w *world) maintenance(t *testing.T, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	err := db.WithTx(ctx, w.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT bulwark.maintenance_begin('authz test fixture')"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, sql, args...)
		return err
	})
	require.NoError(t, err)
}

// unnotified runs sql as the superuser with triggers off: a write whose
// notification is lost.
func (w *world) unnotified(t *testing.T, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	err := db.WithTx(ctx, w.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, sql, args...)
		return err
	})
	require.NoError(t, err)
}

// deactivate marks the principal inactive; the principals trigger notifies
// its id.
func (w *world) deactivate(t *testing.T, id uuid.UUID) {
	t.Helper()
	w.maintenance(t, "UPDATE bulwark.principals SET active = false WHERE id = $1", id)
}

// draft returns a new draft by author, who must hold article.create.
func (w *world) draft(t *testing.T, author uuid.UUID) db.AppArticle {
	t.Helper()
	a, err := w.q.ArticleCreate(context.Background(), w.pool, db.ArticleCreateParams{Actor: author, Title: "A title", Body: "Body."})
	require.NoError(t, err)
	return a
}

// inReview returns a new article by author, submitted for review.
func (w *world) inReview(t *testing.T, author uuid.UUID) db.AppArticle {
	t.Helper()
	a := w.draft(t, author)
	a, err := w.q.ArticleSubmit(context.Background(), w.pool, db.ArticleSubmitParams{Actor: author, ID: a.ID, ExpectedVersion: a.Version})
	require.NoError(t, err)
	return a
}

func (w *world) get(t *testing.T, id uuid.UUID) db.AppArticle {
	t.Helper()
	a, err := w.q.ArticleGetByID(context.Background(), w.pool, id)
	require.NoError(t, err)
	return a
}

func (w *world) log(t *testing.T, id uuid.UUID) []db.BulwarkTransitionLog {
	t.Helper()
	entries, err := w.q.TransitionLogByEntity(context.Background(), w.pool, id)
	require.NoError(t, err)
	return entries
}

// touch edits the article's title as its author on a session of its own,
// committing a new version behind the back of whoever loaded the old one.
func (w *world) touch(ctx context.Context, id uuid.UUID) error {
	a, err := w.q.ArticleGetByID(ctx, w.pool, id)
	if err != nil {
		return err
	}
	title := "Touched at version " + fmt.Sprint(a.Version)
	_, err = w.q.ArticleEdit(ctx, w.pool, db.ArticleEditParams{Actor: a.AuthorID, ID: id, ExpectedVersion: a.Version, Title: &title})
	return err
}

// submitAsAuthor submits the article as its author on a session of its own.
func (w *world) submitAsAuthor(ctx context.Context, id uuid.UUID) error {
	a, err := w.q.ArticleGetByID(ctx, w.pool, id)
	if err != nil {
		return err
	}
	_, err = w.q.ArticleSubmit(ctx, w.pool, db.ArticleSubmitParams{Actor: a.AuthorID, ID: id, ExpectedVersion: a.Version})
	return err
}

// submitRequest asks to submit an article for review.
type submitRequest struct {
	ArticleID uuid.UUID
}

// submitHooks instrument [submitAction]: they count loads and policy runs,
// and AfterLoadFunc runs after each load, between snapshot and transition.
type submitHooks struct {
	// AfterLoadFunc receives the 1-based number of the load.
	AfterLoadFunc func(ctx context.Context, load int, snapshot db.AppArticle) error
	// IgnoreState makes the policy defective: it lets a non-draft through,
	// so the database has to refuse.
	IgnoreState bool

	loads    atomic.Int32
	policies atomic.Int32
}

// submitAction is a synthetic action over the real article tables: the
// author submits a draft for review. It uses package db only, never package
// articles.
func submitAction(h *submitHooks) *authz.Action[db.AppArticle, submitRequest, db.AppArticle] {
	if h == nil {
		h = &submitHooks{}
	}
	q := db.New()
	return &authz.Action[db.AppArticle, submitRequest, db.AppArticle]{
		Name:       "test.submit",
		Capability: "article.submit",
		ValidateFunc: func(req submitRequest) error {
			if req.ArticleID == uuid.Nil {
				return authz.Invalid("article_id_missing", "an article id is required")
			}
			return nil
		},
		LoadFunc: func(ctx context.Context, conn db.DBTX, req submitRequest) (db.AppArticle, error) {
			a, err := q.ArticleGetByID(ctx, conn, req.ArticleID)
			if err != nil {
				return a, err
			}
			n := h.loads.Add(1)
			if h.AfterLoadFunc != nil {
				if err := h.AfterLoadFunc(ctx, int(n), a); err != nil {
					return a, fmt.Errorf("after load: %w", err)
				}
			}
			return a, nil
		},
		PolicyFunc: func(p *authz.Principal, a db.AppArticle, _ submitRequest) authz.Decision {
			h.policies.Add(1)
			if a.AuthorID != p.ID {
				return authz.Deny("not_author", "only the author submits an article")
			}
			if a.State != "draft" && !h.IgnoreState {
				return authz.Deny("not_draft", "only a draft can be submitted")
			}
			return authz.Allow()
		},
		ActFunc: func(ctx context.Context, conn db.DBTX, c authz.Call[db.AppArticle, submitRequest]) (db.AppArticle, error) {
			return q.ArticleSubmit(ctx, conn, db.ArticleSubmitParams{
				Actor: c.Principal.ID, ID: c.Snapshot.ID, ExpectedVersion: c.Snapshot.Version,
			})
		},
		TargetFunc: func(req submitRequest) string { return req.ArticleID.String() },
	}
}

// recorder is an Observer that keeps every record.
type recorder struct {
	mu      sync.Mutex
	records []authz.Record
}

func (r *recorder) Observe(_ context.Context, rec authz.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec)
}

func (r *recorder) all() []authz.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]authz.Record(nil), r.records...)
}

// only returns the one record, failing t if there is not exactly one.
func (r *recorder) only(t *testing.T) authz.Record {
	t.Helper()
	records := r.all()
	require.Len(t, records, 1, "one record per gate call")
	return records[0]
}

// queryCounter counts the queries whose SQL contains a substring.
type queryCounter struct {
	contains string
	n        atomic.Int64
}

func (c *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if strings.Contains(data.SQL, c.contains) {
		c.n.Add(1)
	}
	return ctx
}

func (*queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *queryCounter) count() int64 { return c.n.Load() }

// eventually calls cond until it holds, for at most within, and returns how
// long that took and whether it held.
func eventually(within time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) > within {
			return time.Since(start), false
		}
		time.Sleep(200 * time.Microsecond)
	}
}
