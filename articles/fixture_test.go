package articles_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
)

// testBundle is a migrated database, a gate over it and a cast of
// principals made through the real grant functions.
type testBundle struct {
	admin   uuid.UUID
	alice   uuid.UUID // author
	bob     uuid.UUID // author
	erin    uuid.UUID // editor
	nobody  uuid.UUID // no roles
	pat     uuid.UUID // publisher
	pool    *pgxpool.Pool
	q       *db.Queries
	records *recorder
	svc     *articles.Service
	gate    *authz.Gate
	sneaky  uuid.UUID // author and editor
	seq     atomic.Int64
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

// lastFor returns the latest record about target.
func (r *recorder) lastFor(target uuid.UUID) authz.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.records) - 1; i >= 0; i-- {
		if r.records[i].Target == target.String() {
			return r.records[i]
		}
	}
	return authz.Record{}
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupWith(t, nil)
}

// setupWith is setup with a hook to adjust the gate's pool configuration
// (a tracer, say).
func setupWith(t *testing.T, configure func(*pgxpool.Config)) *testBundle {
	t.Helper()
	ctx := context.Background()
	pool := bulwarktest.Pool(t, bulwarktest.NewDatabase(t), &bulwarktest.PoolOpts{ConfigFunc: configure})
	q := db.New()
	rec := &recorder{}
	grants := authz.NewGrants(pool, nil)
	gate := authz.NewGate(pool, grants, &authz.GateOpts{Observer: multiObserver{rec, &authz.SlogObserver{Logger: slog.New(slog.DiscardHandler)}}})
	svc, err := articles.NewService(ctx, gate, nil)
	require.NoError(t, err)
	b := &testBundle{gate: gate, pool: pool, q: q, records: rec, svc: svc}
	b.admin = b.newPrincipal(t, "admin", "admin")
	b.alice = b.newPrincipal(t, "alice", "author")
	b.bob = b.newPrincipal(t, "bob", "author")
	b.erin = b.newPrincipal(t, "erin", "editor")
	b.pat = b.newPrincipal(t, "pat", "publisher")
	b.nobody = b.newPrincipal(t, "nobody")
	b.sneaky = b.newPrincipal(t, "sneaky", "author", "editor")
	return b
}

type multiObserver []authz.Observer

func (m multiObserver) Observe(ctx context.Context, rec authz.Record) {
	for _, o := range m {
		o.Observe(ctx, rec)
	}
}

func (b *testBundle) newPrincipal(t *testing.T, name string, roles ...string) uuid.UUID {
	t.Helper()
	return bulwarktest.Principal(t, b.pool, name, roles...)
}

func (b *testBundle) slug() string { return fmt.Sprintf("slug-%d", b.seq.Add(1)) }

func ptr[T any](v T) *T { return &v }

// draft returns a complete draft by author.
func (b *testBundle) draft(t *testing.T, author uuid.UUID) articles.Article {
	t.Helper()
	ctx := context.Background()
	a, err := b.svc.Create(ctx, author, articles.CreateRequest{Title: "Title", Body: "Body"}, nil)
	require.NoError(t, err)
	a, err = b.svc.Edit(ctx, author, articles.EditRequest{ID: a.ID, Slug: ptr(b.slug()), Summary: ptr("Summary")}, nil)
	require.NoError(t, err)
	return a
}

// inState returns an article by alice in the given state, walked there
// through the service.
func (b *testBundle) inState(t *testing.T, state articles.State) articles.Article {
	t.Helper()
	return b.inStateBy(t, b.alice, state)
}

// inStateBy returns an article by author in the given state.
func (b *testBundle) inStateBy(t *testing.T, author uuid.UUID, state articles.State) articles.Article {
	t.Helper()
	ctx := context.Background()
	a := b.draft(t, author)
	step := func(f func(context.Context, uuid.UUID, articles.TransitionRequest, *authz.DoOpts) (articles.Article, error), actor uuid.UUID) {
		t.Helper()
		var err error
		a, err = f(ctx, actor, articles.TransitionRequest{ID: a.ID}, nil)
		require.NoError(t, err)
	}
	switch state {
	case articles.StateDraft:
	case articles.StateInReview:
		step(b.svc.Submit, author)
	case articles.StateApproved:
		step(b.svc.Submit, author)
		step(b.svc.Approve, b.erin)
	case articles.StatePublished:
		step(b.svc.Submit, author)
		step(b.svc.Approve, b.erin)
		step(b.svc.Publish, b.pat)
	case articles.StateArchived:
		step(b.svc.Archive, author)
	}
	require.Equal(t, string(state), a.State)
	return a
}

func (b *testBundle) get(t *testing.T, id uuid.UUID) articles.Article {
	t.Helper()
	a, err := b.q.ArticleGetByID(context.Background(), b.pool, id)
	require.NoError(t, err)
	return a
}

func (b *testBundle) logLen(t *testing.T, id uuid.UUID) int {
	t.Helper()
	entries, err := b.q.TransitionLogByEntity(context.Background(), b.pool, id)
	require.NoError(t, err)
	return len(entries)
}
