package schema_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/pgtest"
)

// TestEngineRulesRunAsDeclared builds a small machine whose rules the
// generated apply function must run exactly as written: a rule's SQL goes
// into the function verbatim (a newline inside a literal stays one), and a
// rule's query plans with the session's settings, not with the ones the
// engine uses for its own key look-up.
func TestEngineRulesRunAsDeclared(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	conn, err := pgx.Connect(ctx, pgtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(ctx) })

	_, err = conn.Exec(ctx, `
		CREATE SCHEMA rv AUTHORIZATION bulwark_owner;
		SET ROLE bulwark_owner;
		SELECT bulwark.declare_capability('rv.act', 'act on rv rows');
		SELECT bulwark.declare_role('rv_actor', ARRAY['rv.act']);
		SELECT bulwark.declare_machine('rvm', 'a', ARRAY['a', 'b']);
		SELECT bulwark.declare_action('rvm', 'mk', 'create', 'rv.act');
		SELECT bulwark.declare_action('rvm', 'note', 'update', 'rv.act');
		SELECT bulwark.declare_action('rvm', 'touch', 'update', 'rv.act');
		CREATE TABLE rv.rvm (id uuid PRIMARY KEY, state text NOT NULL DEFAULT 'a', version integer NOT NULL DEFAULT 1);
		SELECT bulwark.guard('rv.rvm', 'rvm', 'state');
		-- A literal with a newline in it, in a rule of one action.
		SELECT bulwark.declare_arg_check('rvm', 'note', 'coalesce(p_note, '''') <> ''forbidden
note''', '22Z01', '''that note is forbidden''');
		-- A rule of no action: it sees the session's planner settings.
		SELECT bulwark.declare_arg_check('rvm', NULL, $$pg_catalog.current_setting('enable_seqscan') = 'on'$$,
		    '22023', $$'the rule saw enable_seqscan ' || pg_catalog.current_setting('enable_seqscan')$$);
		SELECT bulwark.declare_check('rvm', NULL, $$pg_catalog.current_setting('enable_seqscan') = 'on'$$,
		    'BWI02', $$'the rule saw enable_seqscan ' || pg_catalog.current_setting('enable_seqscan')$$);
		RESET ROLE`)
	require.NoError(t, err)

	var actor, id string
	require.NoError(t, conn.QueryRow(ctx, `
		SELECT p.id::text, (rv.rvm_apply('mk', p.id, NULL, NULL, NULL, '{}')).id::text
		FROM (SELECT bulwark.declare_principal('human', 'rv_tester', ARRAY['rv_actor'], NULL) AS id) AS p`).Scan(&actor, &id))

	apply := func(action, key, note string) error {
		_, err := conn.Exec(ctx, `SELECT rv.rvm_apply($1, $2, $3, v.version, nullif($4, ''), '{}', $5)
			FROM rv.rvm AS v WHERE v.id = $3`, action, actor, id, key, note)
		return err
	}
	version := func() int {
		var v int
		require.NoError(t, conn.QueryRow(ctx, `SELECT version FROM rv.rvm WHERE id = $1`, id).Scan(&v))
		return v
	}

	t.Run("NewlineInsideALiteral", func(t *testing.T) {
		require.Equal(t, "22Z01", sqlState(apply("note", "", "forbidden\nnote")))
		// The text the rule would hold if the generator had indented it.
		require.NoError(t, apply("note", "", "forbidden\n    note"))
	})

	t.Run("RuleQueriesKeepTheSessionsSettings", func(t *testing.T) {
		before := version()
		// Keyed, so the engine's own look-up (planned with sequential
		// scans off) runs between the arg checks and the row checks; both
		// must see "on".
		require.NoError(t, apply("touch", "touch-1", ""))
		require.Equal(t, before+1, version())
		var setting string
		require.NoError(t, conn.QueryRow(ctx, `SELECT current_setting('enable_seqscan')`).Scan(&setting))
		require.Equal(t, "on", setting)
	})
}
