package langtest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
)

// germanSeverity is how the German message catalog names an ERROR. The
// tests compare it only to prove where an error came from; nothing under
// test may read it.
const germanSeverity = "FEHLER"

// world is a migrated database on the German server, the article service
// over it and a cast of principals made through the real grant functions.
type world struct {
	alice  uuid.UUID // author
	erin   uuid.UUID // editor
	nobody uuid.UUID // no roles
	pat    uuid.UUID // publisher
	pool   *pgxpool.Pool
	q      *db.Queries
	sneaky uuid.UUID // author and editor: reviews, never their own
	svc    *articles.Service
	url    string // the migration role's
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()

	url := bulwarktest.NewDatabase(t)
	pool := bulwarktest.Pool(t, url, nil)

	gate := authz.NewGate(pool, authz.NewGrants(pool, nil), &authz.GateOpts{
		Observer: &authz.SlogObserver{Logger: slog.New(slog.DiscardHandler)},
	})
	svc, err := articles.NewService(ctx, gate, nil)
	require.NoError(t, err)

	w := &world{pool: pool, q: db.New(), svc: svc, url: url}
	principal := func(name string, roles ...string) uuid.UUID {
		t.Helper()
		return bulwarktest.Principal(t, pool, name, roles...)
	}
	w.alice = principal("alice", "author")
	w.erin = principal("erin", "editor")
	w.nobody = principal("nobody")
	w.pat = principal("pat", "publisher")
	w.sneaky = principal("sneaky", "author", "editor")
	return w
}

var slugSeq atomic.Int64

func nextSlug() string { return fmt.Sprintf("artikel-%d", slugSeq.Add(1)) }

func ptr[T any](v T) *T { return &v }

// draft returns a complete draft (title, slug, summary, body) by author,
// made through the generated queries.
func (w *world) draft(t *testing.T, author uuid.UUID) db.AppArticle {
	t.Helper()
	ctx := context.Background()
	a, err := w.q.ArticleCreate(ctx, w.pool, db.ArticleCreateParams{Actor: author, Title: "Ein Titel", Body: "Text."})
	require.NoError(t, err)
	a, err = w.q.ArticleEdit(ctx, w.pool, db.ArticleEditParams{
		Actor: author, ID: a.ID, ExpectedVersion: a.Version, Slug: ptr(nextSlug()), Summary: ptr("Eine Zusammenfassung."),
	})
	require.NoError(t, err)
	return a
}

// inReview returns a draft by author, submitted.
func (w *world) inReview(t *testing.T, author uuid.UUID) db.AppArticle {
	t.Helper()
	a := w.draft(t, author)
	a, err := w.q.ArticleSubmit(context.Background(), w.pool, db.ArticleSubmitParams{Actor: author, ID: a.ID, ExpectedVersion: a.Version})
	require.NoError(t, err)
	return a
}

// approved returns an article by alice, approved by erin.
func (w *world) approved(t *testing.T) db.AppArticle {
	t.Helper()
	a := w.inReview(t, w.alice)
	a, err := w.q.ArticleApprove(context.Background(), w.pool, db.ArticleApproveParams{Actor: w.erin, ID: a.ID, ExpectedVersion: a.Version})
	require.NoError(t, err)
	return a
}

// published returns an article by alice, published by pat.
func (w *world) published(t *testing.T) db.AppArticle {
	t.Helper()
	a := w.approved(t)
	a, err := w.q.ArticlePublish(context.Background(), w.pool, db.ArticlePublishParams{Actor: w.pat, ID: a.ID, ExpectedVersion: a.Version})
	require.NoError(t, err)
	return a
}

// refusal is what a caller gets back from the database in German: the
// raw error and its interpretation.
type refusal struct {
	err   *fault.Error
	pgErr *pgconn.PgError
}

// requireRefused asserts that raw is the German server's refusal with
// sqlState, that db.InterpretError puts it in layer with code (matching
// the layer's sentinel and no other), and that the cause survives.
func requireRefused(t *testing.T, raw error, sqlState string, layer fault.Layer, code string) refusal {
	t.Helper()
	return requireRefusedWith(t, nil, raw, sqlState, layer, code)
}

// requireRefusedWith is requireRefused interpreting raw with the declared
// conflicts.
func requireRefusedWith(t *testing.T, conflicts *db.Conflicts, raw error, sqlState string, layer fault.Layer, code string) refusal {
	t.Helper()
	require.Error(t, raw, "want SQLSTATE %s", sqlState)

	var pgErr *pgconn.PgError
	require.True(t, errors.As(raw, &pgErr), "not a database error: %v", raw)
	require.Equal(t, sqlState, pgErr.Code, "SQLSTATE of %v", raw)
	require.Equal(t, "ERROR", pgErr.SeverityUnlocalized)
	require.Equal(t, germanSeverity, pgErr.Severity, "the server does not speak German")

	err := fmt.Errorf("act: %w", conflicts.Interpret(raw))
	var e *fault.Error
	require.True(t, errors.As(err, &e), "not a layered error: %v", err)
	require.Equal(t, layer, e.Layer, "layer of %v", err)
	require.Equal(t, code, e.Code, "code of %v", err)
	require.Equal(t, sqlState, e.SQLState)
	require.ErrorIs(t, err, layer.Sentinel())
	for _, other := range fault.Layers() {
		if other != layer {
			require.NotErrorIs(t, err, other.Sentinel())
		}
	}
	require.ErrorIs(t, err, raw, "the cause survives")
	return refusal{err: e, pgErr: pgErr}
}

// requireOwnMessage asserts that the caller sees bulwark's own sentence,
// raised by the database and shown as it was raised.
func (r refusal) requireOwnMessage(t *testing.T, want string) {
	t.Helper()
	require.Contains(t, r.pgErr.Message, want, "bulwark's message")
	require.Equal(t, r.pgErr.Message, r.err.Reason)
	require.Contains(t, r.err.Error(), want)
}

// requireLayerMessage asserts that the caller sees the db layer's sentence
// want and none of the server's German text.
func (r refusal) requireLayerMessage(t *testing.T, want string) {
	t.Helper()
	require.Equal(t, want, r.err.Reason)
	require.NotContains(t, r.err.Error(), r.pgErr.Message, "server text reached the caller")
}
