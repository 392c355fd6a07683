package langtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
)

// TestDirectWrite writes guarded tables around the transition functions on
// the German server: the migration role's and an owner login's privileges
// allow it and the guard refuses it (BWI04), the application's and the
// jobs' logins lack the privilege (42501). Nothing changes either way.
func TestDirectWrite(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	w := newWorld(t)
	a := w.draft(t, w.alice)
	writes := []struct {
		name string
		sql  string
		args []any
	}{
		{"Delete", "DELETE FROM app.articles WHERE id = $1", []any{a.ID}},
		{"GrantRole", "INSERT INTO bulwark.principal_roles (principal_id, role) VALUES ($1, 'admin')", []any{w.nobody}},
		{"Insert", "INSERT INTO app.articles (author_id, title) VALUES ($1, 'direkt')", []any{w.alice}},
		{"Update", "UPDATE app.articles SET state = 'in_review' WHERE id = $1", []any{a.ID}},
	}

	for _, tc := range []struct {
		name     string
		url      string
		sqlState string
		check    func(t *testing.T, r refusal)
	}{
		{"MigrationRole", w.url, db.SQLStateDirectWrite, func(t *testing.T, r refusal) {
			r.requireOwnMessage(t, "outside a transition function")
		}},
		{"Owner", loginURL(t, w, "bulwark_owner"), db.SQLStateDirectWrite, func(t *testing.T, r refusal) {
			r.requireOwnMessage(t, "outside a transition function")
		}},
		{"App", loginURL(t, w, "bulwark_app"), pgerrcode.InsufficientPrivilege, func(t *testing.T, r refusal) {
			r.requireLayerMessage(t, "the database refused a statement that goes around the transition functions")
		}},
		{"Jobs", loginURL(t, w, "bulwark_jobs"), pgerrcode.InsufficientPrivilege, func(t *testing.T, r refusal) {
			r.requireLayerMessage(t, "the database refused a statement that goes around the transition functions")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, write := range writes {
				t.Run(write.name, func(t *testing.T) {
					before := w.snapshot(t, a)
					conn := dial(t, tc.url)
					_, err := conn.Exec(ctx, write.sql, write.args...)
					code := fault.CodeDirectWrite
					if tc.sqlState == pgerrcode.InsufficientPrivilege {
						code = fault.CodeBoundaryViolation
					}
					tc.check(t, requireRefused(t, err, tc.sqlState, fault.LayerInvariant, code))
					require.Equal(t, before, w.snapshot(t, a), "the write changed something")
				})
			}
		})
	}
}

// snapshot is what a direct write could change: the article, its log,
// how many articles there are and the nobody principal's roles.
type snapshot struct {
	article  db.AppArticle
	articles int
	log      int
	roles    []string
}

func (w *world) snapshot(t *testing.T, a db.AppArticle) snapshot {
	t.Helper()
	ctx := context.Background()
	var s snapshot
	var err error
	s.article, err = w.q.ArticleGetByID(ctx, w.pool, a.ID)
	require.NoError(t, err)
	entries, err := w.q.TransitionLogByEntity(ctx, w.pool, a.ID)
	require.NoError(t, err)
	s.log = len(entries)
	require.NoError(t, w.pool.QueryRow(ctx, "SELECT count(*) FROM app.articles").Scan(&s.articles))
	s.roles, err = w.q.PrincipalRoles(ctx, w.pool, w.nobody)
	require.NoError(t, err)
	return s
}

// loginURL returns a URL for w's database that logs in as a LOGIN member
// of group.
func loginURL(t *testing.T, w *world, group string) string {
	t.Helper()
	return bulwarktest.LoginAs(t, w.url, group)
}

// dial opens a session of its own, closed in t's Cleanup.
func dial(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	cfg.RuntimeParams["search_path"] = ""
	conn, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
