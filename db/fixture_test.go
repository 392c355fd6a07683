package db_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
)

// world is a migrated database with a cast of principals, made through the
// real grant functions.
type world struct {
	admin     uuid.UUID
	alice     uuid.UUID // author
	bob       uuid.UUID // author
	erin      uuid.UUID // editor
	nobody    uuid.UUID // no roles
	pat       uuid.UUID // publisher
	pool      *pgxpool.Pool
	q         *db.Queries
	sneaky    uuid.UUID // author and editor: may review, never their own
	url       string
	principal map[string]uuid.UUID
}

func newWorld(t *testing.T) *world {
	t.Helper()
	url := bulwarktest.NewDatabase(t)
	pool := poolFor(t, url)
	q := db.New()
	w := &world{pool: pool, q: q, url: url, principal: map[string]uuid.UUID{}}
	w.admin = w.newPrincipal(t, "admin", "admin")
	w.alice = w.newPrincipal(t, "alice", "author")
	w.bob = w.newPrincipal(t, "bob", "author")
	w.erin = w.newPrincipal(t, "erin", "editor")
	w.pat = w.newPrincipal(t, "pat", "publisher")
	w.nobody = w.newPrincipal(t, "nobody")
	w.sneaky = w.newPrincipal(t, "sneaky", "author", "editor")
	return w
}

// poolFor opens a pool on url with room for the concurrency tests'
// sessions.
func poolFor(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	return bulwarktest.Pool(t, url, &bulwarktest.PoolOpts{
		ConfigFunc: func(cfg *pgxpool.Config) { cfg.MaxConns = 24 },
	})
}

func (w *world) newPrincipal(t *testing.T, name string, roles ...string) uuid.UUID {
	t.Helper()
	id := bulwarktest.Principal(t, w.pool, name, roles...)
	w.principal[name] = id
	return id
}

var slugSeq struct {
	sync.Mutex
	n int
}

func nextSlug() string {
	slugSeq.Lock()
	defer slugSeq.Unlock()
	slugSeq.n++
	return fmt.Sprintf("article-%d", slugSeq.n)
}

// draft returns a complete draft by alice (title, slug, summary, body).
func (w *world) draft(t *testing.T) db.AppArticle {
	t.Helper()
	ctx := context.Background()
	a, err := w.q.ArticleCreate(ctx, w.pool, db.ArticleCreateParams{Actor: w.alice, Title: "A title", Body: "Body."})
	require.NoError(t, err)
	slug, summary := nextSlug(), "A summary."
	a, err = w.q.ArticleEdit(ctx, w.pool, db.ArticleEditParams{
		Actor: w.alice, ID: a.ID, ExpectedVersion: a.Version, Slug: &slug, Summary: &summary,
	})
	require.NoError(t, err)
	return a
}

func (w *world) inReview(t *testing.T) db.AppArticle {
	t.Helper()
	a := w.draft(t)
	a, err := w.q.ArticleSubmit(context.Background(), w.pool, db.ArticleSubmitParams{Actor: w.alice, ID: a.ID, ExpectedVersion: a.Version})
	require.NoError(t, err)
	return a
}

func (w *world) approved(t *testing.T) db.AppArticle {
	t.Helper()
	a := w.inReview(t)
	a, err := w.q.ArticleApprove(context.Background(), w.pool, db.ArticleApproveParams{Actor: w.erin, ID: a.ID, ExpectedVersion: a.Version})
	require.NoError(t, err)
	return a
}

func (w *world) published(t *testing.T) db.AppArticle {
	t.Helper()
	a := w.approved(t)
	a, err := w.q.ArticlePublish(context.Background(), w.pool, db.ArticlePublishParams{Actor: w.pat, ID: a.ID, ExpectedVersion: a.Version})
	require.NoError(t, err)
	return a
}

func (w *world) archived(t *testing.T) db.AppArticle {
	t.Helper()
	a := w.draft(t)
	a, err := w.q.ArticleArchive(context.Background(), w.pool, db.ArticleArchiveParams{Actor: w.alice, ID: a.ID, ExpectedVersion: a.Version})
	require.NoError(t, err)
	return a
}

func (w *world) get(t *testing.T, id uuid.UUID) db.AppArticle {
	t.Helper()
	a, err := w.q.ArticleGetByID(context.Background(), w.pool, id)
	require.NoError(t, err)
	return a
}

func (w *world) logCount(t *testing.T, id uuid.UUID) int {
	t.Helper()
	entries, err := w.q.TransitionLogByEntity(context.Background(), w.pool, id)
	require.NoError(t, err)
	return len(entries)
}

// requireUnchanged asserts that the article and its log are as they were.
func (w *world) requireUnchanged(t *testing.T, before db.AppArticle, logBefore int) {
	t.Helper()
	require.Equal(t, before, w.get(t, before.ID), "the row changed")
	require.Equal(t, logBefore, w.logCount(t, before.ID), "the log changed")
}

// requireLayer asserts that err, a raw error of the generated code,
// interpreted as the layers above interpret it, names layer and code.
func requireLayer(t *testing.T, err error, layer fault.Layer, code string) {
	t.Helper()
	bulwarktest.RequireLayer(t, db.InterpretError(err), layer, code)
}

// release starts n goroutines that wait for one signal, then run fn, and
// returns their errors once all are done.
func release(n int, fn func(i int) error) []error {
	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}
