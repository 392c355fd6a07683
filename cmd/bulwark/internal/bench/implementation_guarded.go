package bench

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bulwarkdb/bulwark/db"
)

// guardedTable is what the gate and db implementations share: the guarded
// app.articles, its rows made and read through the SQL API.
type guardedTable struct {
	pool *pgxpool.Pool
	q    *db.Queries
}

func (g *guardedTable) guarded() bool { return true }

// newArticle creates the draft and gives it a slug and summary, through
// the transition functions, so that it can be published once approved.
func (g *guardedTable) newArticle(ctx context.Context, author uuid.UUID, slug string) (uuid.UUID, Snapshot, error) {
	a, err := g.newRow(ctx, author, slug)
	if err != nil {
		return uuid.Nil, Snapshot{}, err
	}
	return a.ID, Snapshot{State: a.State, Version: a.Version}, nil
}

// newRow is newArticle, returning the row.
func (g *guardedTable) newRow(ctx context.Context, author uuid.UUID, slug string) (db.AppArticle, error) {
	a, err := g.q.ArticleCreate(ctx, g.pool, db.ArticleCreateParams{
		Actor: author,
		Title: "Bench article " + slug,
		Body:  "A body to review.",
	})
	if err != nil {
		return db.AppArticle{}, fmt.Errorf("create article: %w", db.InterpretError(err))
	}
	summary := "What " + slug + " is about."
	a, err = g.q.ArticleEdit(ctx, g.pool, db.ArticleEditParams{
		Actor:           author,
		ID:              a.ID,
		ExpectedVersion: a.Version,
		Slug:            &slug,
		Summary:         &summary,
	})
	if err != nil {
		return db.AppArticle{}, fmt.Errorf("edit article %s: %w", a.ID, db.InterpretError(err))
	}
	return a, nil
}

func (g *guardedTable) finals(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]Snapshot, error) {
	return readFinals(ctx, g.pool, `SELECT id, state, version FROM app.articles WHERE id = ANY($1::uuid[])`, ids)
}

// order places each claim at the transition log row its request wrote,
// found by article, actor and idempotency key (every request has a key of
// its own, and a retry shares it). The log's ids increase in commit order
// per article, because each writer holds the article's row lock.
func (g *guardedTable) order(ctx context.Context, claims []Claim) error {
	type logKey struct {
		actor, article uuid.UUID
		key            string
	}
	var ids []uuid.UUID
	seen := make(map[uuid.UUID]bool)
	for _, c := range claims {
		if !seen[c.Article] {
			seen[c.Article] = true
			ids = append(ids, c.Article)
		}
	}
	rows, err := g.pool.Query(ctx, `
		SELECT l.id, l.actor_id, l.entity_id, l.idempotency_key
		FROM bulwark.transition_log AS l
		WHERE l.entity_id = ANY($1::uuid[])
		  AND l.actor_id IS NOT NULL
		  AND l.idempotency_key IS NOT NULL`, ids)
	if err != nil {
		return fmt.Errorf("read transition log: %w", err)
	}
	defer rows.Close()
	seqs := make(map[logKey]int64)
	for rows.Next() {
		var id int64
		var k logKey
		if err := rows.Scan(&id, &k.actor, &k.article, &k.key); err != nil {
			return fmt.Errorf("read transition log: %w", err)
		}
		// Two log rows for one request would mean the idempotency key
		// failed: the claim takes the first, and the second is a write no
		// client was told about, which the check finds at the chain's end.
		if prev, ok := seqs[k]; !ok || id < prev {
			seqs[k] = id
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read transition log: %w", err)
	}
	for i := range claims {
		c := &claims[i]
		c.Seq = seqs[logKey{actor: c.Actor, article: c.Article, key: c.Key}]
	}
	return nil
}

// readFinals runs query (id, state, version of the rows whose id is in
// $1) and returns the rows by id.
func readFinals(ctx context.Context, pool *pgxpool.Pool, query string, ids []uuid.UUID) (map[uuid.UUID]Snapshot, error) {
	rows, err := pool.Query(ctx, query, ids)
	if err != nil {
		return nil, fmt.Errorf("read final rows: %w", err)
	}
	defer rows.Close()
	finals := make(map[uuid.UUID]Snapshot, len(ids))
	for rows.Next() {
		var id uuid.UUID
		var s Snapshot
		if err := rows.Scan(&id, &s.State, &s.Version); err != nil {
			return nil, fmt.Errorf("read final rows: %w", err)
		}
		finals[id] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read final rows: %w", err)
	}
	return finals, nil
}
