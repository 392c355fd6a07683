package bench

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bulwarkdb/bulwark/db"
)

// The copy's SQL. It lives here, not in sql/queries, on purpose: it is
// the code bulwark exists to replace, and it writes bench.articles, an
// unguarded copy that only the bench's own database has. The guarded
// table would refuse every statement below.
const (
	// copyEdit is an edit: the body changes, the state does not.
	copyEdit = `
		UPDATE bench.articles AS a
		SET body = $2::text,
		    updated_at = pg_catalog.now(),
		    version = a.version + 1
		WHERE a.id = $1::uuid
		RETURNING a.state, a.version`

	// copyInsert copies a guarded article's row, so that both tables
	// start from the same rows.
	copyInsert = `
		INSERT INTO bench.articles
		SELECT * FROM app.articles AS a WHERE a.id = $1::uuid
		RETURNING state, version`

	// copySelect is the naive implementation's read.
	copySelect = `SELECT a.state, a.author_id, a.version FROM bench.articles AS a WHERE a.id = $1::uuid`

	// copyTransition sets what app.article_apply sets for a transition.
	// The version bump stands in for the guarded table's trigger: taken
	// under the row lock, it numbers the commits, which the check needs.
	copyTransition = `
		UPDATE bench.articles AS a
		SET state = $2::text,
		    approved_by = CASE
		        WHEN $2::text = 'approved' THEN $3::uuid
		        WHEN $2::text = 'draft' THEN NULL
		        ELSE a.approved_by
		    END,
		    published_at = CASE WHEN $2::text = 'published' THEN pg_catalog.now() ELSE a.published_at END,
		    updated_at = pg_catalog.now(),
		    version = a.version + 1
		WHERE a.id = $1::uuid
		RETURNING a.state, a.version`
)

// copyTable is what the naive and raw implementations share:
// bench.articles, a copy of app.articles with the same columns, checks
// and indexes and none of bulwark's triggers.
type copyTable struct {
	pool   *pgxpool.Pool
	source *guardedTable // makes each starting row, then copied
}

func (c *copyTable) guarded() bool { return false }

func (c *copyTable) newArticle(ctx context.Context, author uuid.UUID, slug string) (uuid.UUID, Snapshot, error) {
	id, _, err := c.source.newArticle(ctx, author, slug)
	if err != nil {
		return uuid.Nil, Snapshot{}, err
	}
	var s Snapshot
	if err := c.pool.QueryRow(ctx, copyInsert, id).Scan(&s.State, &s.Version); err != nil {
		return uuid.Nil, Snapshot{}, fmt.Errorf("copy article %s: %w", id, db.InterpretError(err))
	}
	return id, s, nil
}

func (c *copyTable) finals(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]Snapshot, error) {
	return readFinals(ctx, c.pool, `SELECT id, state, version FROM bench.articles WHERE id = ANY($1::uuid[])`, ids)
}

// order does nothing: each claim's Seq is the version its UPDATE
// returned.
func (c *copyTable) order(context.Context, []Claim) error { return nil }

// write applies req's step with one UPDATE and no checks.
func (c *copyTable) write(ctx context.Context, req request) (Snapshot, error) {
	var s Snapshot
	var err error
	if req.action.Step == stepEdit {
		err = c.pool.QueryRow(ctx, copyEdit, req.article, req.body()).Scan(&s.State, &s.Version)
	} else {
		err = c.pool.QueryRow(ctx, copyTransition, req.article, req.action.To, req.actor).Scan(&s.State, &s.Version)
	}
	if err != nil {
		return Snapshot{}, db.InterpretError(err)
	}
	return s, nil
}
