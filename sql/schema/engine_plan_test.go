package schema_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEngineLookupsUseTheKeyIndex pins the plans of the idempotency key
// look-ups. PL/pgSQL keeps a statement's plan for the session, so a plan
// made while bulwark.idempotency_keys had one page (a fresh database, just
// analyzed) scanned the whole table on every later call of that pooled
// connection, however large the table grew: the bench measured 50 µs for
// the apply function's look-up and 160 µs for the gate's, rising with
// every key. The two look-ups plan with sequential scans off (and nothing
// else does: see TestEngineRulesRunAsDeclared).
func TestEngineLookupsUseTheKeyIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	conn := connect(t)

	var writer, id string
	require.NoError(t, conn.QueryRow(ctx, `
		SELECT p.id::text, (app.article_create(p.id, 'Title', 'body', 'create-1')).id::text
		FROM (SELECT bulwark.declare_principal('human', 'writer', ARRAY['author'], NULL) AS id) AS p`).Scan(&writer, &id))
	version := 1
	edit := func(t *testing.T, n int) {
		t.Helper()
		key := fmt.Sprintf("edit-%d", n)
		require.NoError(t, conn.QueryRow(ctx,
			`SELECT (app.article_edit($1, $2, $3, $4, NULL, NULL, NULL, $5)).version`,
			writer, id, version, key, key).Scan(&version))
		var used bool
		require.NoError(t, conn.QueryRow(ctx, `SELECT bulwark.idempotency_key_used($1, $2)`, writer, key).Scan(&used))
		require.True(t, used)
	}

	for n := range 10 {
		edit(t, n)
	}
	// The table now has a page or so: what the planner sees right after
	// migrating and a first autovacuum. ANALYZE also drops the session's
	// plans, so the next calls plan afresh on these statistics.
	_, err := conn.Exec(ctx, `ANALYZE bulwark.idempotency_keys`)
	require.NoError(t, err)

	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	for n := 10; n < 30; n++ {
		edit(t, n)
	}
	var seqScans, idxScans int64
	require.NoError(t, conn.QueryRow(ctx, `
		SELECT coalesce(s.seq_scan, 0), coalesce(s.idx_scan, 0)
		FROM pg_catalog.pg_stat_xact_user_tables AS s
		WHERE s.relid = 'bulwark.idempotency_keys'::regclass`).Scan(&seqScans, &idxScans))
	require.Zero(t, seqScans, "a key look-up scanned bulwark.idempotency_keys")
	require.GreaterOrEqual(t, idxScans, int64(40), "each edit and each idempotency_key_used looks its key up by the index")
}
