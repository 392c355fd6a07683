package auditlog_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/bulwarktest"
)

// testBundle is the reference database (the article workflow) with a cast,
// the service on a login member of bulwark_app, and the migration role's
// pool for the fixtures that break history on purpose.
type testBundle struct {
	admin *pgxpool.Pool
	alice uuid.UUID // author
	app   *pgxpool.Pool
	erin  uuid.UUID // editor
	pat   uuid.UUID // publisher
	seq   atomic.Int64
	svc   *articles.Service
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := context.Background()
	url := bulwarktest.NewDatabase(t)
	b := &testBundle{admin: pool(t, url), app: pool(t, bulwarktest.LoginAs(t, url, bulwarktest.RoleApp))}
	b.alice = bulwarktest.Principal(t, b.admin, "alice", "author")
	b.erin = bulwarktest.Principal(t, b.admin, "erin", "editor")
	b.pat = bulwarktest.Principal(t, b.admin, "pat", "publisher")
	var err error
	gate := authz.NewGate(b.app, nil, &authz.GateOpts{Observer: &authz.SlogObserver{Logger: slog.New(slog.DiscardHandler)}})
	b.svc, err = articles.NewService(ctx, gate, nil)
	require.NoError(t, err)
	return b
}

func pool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	return bulwarktest.Pool(t, url, nil)
}

// article makes a complete draft by alice and walks it to state through
// the service: every write logged as the engine logs it.
func (b *testBundle) article(t *testing.T, state articles.State) articles.Article {
	t.Helper()
	ctx := context.Background()
	a, err := b.svc.Create(ctx, b.alice, articles.CreateRequest{Title: "Boundaries", Body: "Body."}, nil)
	require.NoError(t, err)
	slug, summary := fmt.Sprintf("boundaries-%d", b.seq.Add(1)), "Summary."
	a, err = b.svc.Edit(ctx, b.alice, articles.EditRequest{ID: a.ID, Slug: &slug, Summary: &summary}, nil)
	require.NoError(t, err)
	step := func(f func(context.Context, uuid.UUID, articles.TransitionRequest, *authz.DoOpts) (articles.Article, error), actor uuid.UUID) {
		t.Helper()
		a, err = f(ctx, actor, articles.TransitionRequest{ID: a.ID}, nil)
		require.NoError(t, err)
	}
	switch state {
	case articles.StateDraft:
	case articles.StateInReview:
		step(b.svc.Submit, b.alice)
	case articles.StateApproved:
		step(b.svc.Submit, b.alice)
		step(b.svc.Approve, b.erin)
	case articles.StatePublished:
		step(b.svc.Submit, b.alice)
		step(b.svc.Approve, b.erin)
		step(b.svc.Publish, b.pat)
	case articles.StateArchived:
		step(b.svc.Submit, b.alice)
		step(b.svc.Approve, b.erin)
		step(b.svc.Publish, b.pat)
		step(b.svc.Archive, b.pat)
	}
	require.Equal(t, string(state), a.State)
	return a
}

// maintenance runs stmts under the maintenance switch in one transaction
// of the migration role, as a careless backfill would.
func (b *testBundle) maintenance(t *testing.T, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	tx, err := b.admin.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `SELECT bulwark.maintenance_begin('backfill of review states')`)
	require.NoError(t, err)
	for _, s := range stmts {
		_, err := tx.Exec(ctx, s)
		require.NoError(t, err, s)
	}
	require.NoError(t, tx.Commit(ctx))
}

// acknowledge explains a gap in an article's history as a migration does:
// bulwark.history_acknowledge as the owner, in a transaction of its own.
func (b *testBundle) acknowledge(t *testing.T, id uuid.UUID, reason string) {
	t.Helper()
	ctx := context.Background()
	tx, err := b.admin.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `SET LOCAL ROLE `+bulwarktest.RoleOwner)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `SELECT bulwark.history_acknowledge('app.articles', $1, $2)`, id, reason)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
}

// quietly runs stmts under the maintenance switch with the audit trigger
// off: writes that leave no log row.
func (b *testBundle) quietly(t *testing.T, stmts ...string) {
	t.Helper()
	all := append([]string{`ALTER TABLE app.articles DISABLE TRIGGER bulwark_90_audit`}, stmts...)
	b.maintenance(t, append(all, `ALTER TABLE app.articles ENABLE TRIGGER bulwark_90_audit`)...)
}
