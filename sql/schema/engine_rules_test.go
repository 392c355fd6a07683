package schema_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestEngineRulesRunAsDeclared builds a small machine whose rules the
// generated apply function must run exactly as written: a rule's SQL goes
// into the function verbatim (a newline inside a literal stays one), and a
// rule's query plans with the session's settings, not with the ones the
// engine uses for its own key look-up.
func TestEngineRulesRunAsDeclared(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	conn := connect(t)

	_, err := conn.Exec(ctx, `
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
		-- A backslash in a rule's literal: '\s' is white space only with
		-- standard_conforming_strings on.
		SELECT bulwark.declare_arg_check('rvm', 'touch', $$coalesce(p_note, '') !~ '\s'$$, '22Z02', $$'no white space'$$);
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

	t.Run("LiteralsReadAlikeInEverySession", func(t *testing.T) {
		// A caller's session cannot change what a rule's literal means
		// (with standard_conforming_strings off, '\s' would be 's').
		_, err := conn.Exec(ctx, `SET standard_conforming_strings = off`)
		require.NoError(t, err)
		defer func() { _, _ = conn.Exec(ctx, `RESET standard_conforming_strings`) }()
		require.Equal(t, "22Z02", sqlState(apply("touch", "", "a b")))
		require.NoError(t, apply("touch", "", "ss"))
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

// TestEngineRulesCompileWhenDeclared declares rules with the mistakes a
// migration makes (a misspelt column, an unqualified one, an unknown
// variable or function, a check that is no boolean, an assignment of the
// wrong type, an after rule calling nothing) and requires each to be refused at its declaration with
// the SQLSTATE of the mistake, leaving the rules and the generated engine
// as they were; rules that use every name the engine gives them are
// accepted. Then a column renamed under a declared rule is reported by
// bulwark.rule_problems.
func TestEngineRulesCompileWhenDeclared(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	conn := connect(t)

	_, err := conn.Exec(ctx, `
		CREATE SCHEMA rc AUTHORIZATION bulwark_owner;
		SET ROLE bulwark_owner;
		SELECT bulwark.declare_capability('rc.act', 'act on rc rows');
		SELECT bulwark.declare_machine('rcm', 'a', ARRAY['a', 'b']);
		SELECT bulwark.declare_action('rcm', 'mk', 'create', 'rc.act');
		SELECT bulwark.declare_transition('rcm', 'go', 'a', 'b', 'rc.act');
		CREATE TABLE rc.rcm (
		    id uuid PRIMARY KEY, state text NOT NULL DEFAULT 'a', version integer NOT NULL DEFAULT 1,
		    label text NOT NULL DEFAULT '', done_at timestamptz
		);
		-- Declared before guard(): compiled when the table is known.
		SELECT bulwark.declare_check('rcm', 'go', $$r.label <> p_note$$, 'BWI02', $$'label is ' || r.label$$);
		SELECT bulwark.guard('rc.rcm', 'rcm', 'state');
		RESET ROLE`)
	require.NoError(t, err)

	engine := func() (rules int, src string) {
		require.NoError(t, conn.QueryRow(ctx, `
			SELECT (SELECT count(*) FROM bulwark.action_rules WHERE machine = 'rcm'),
			       pg_catalog.pg_get_functiondef('rc.rcm_apply(text, uuid, uuid, integer, text, jsonb, text)'::regprocedure)`,
		).Scan(&rules, &src))
		return rules, src
	}
	declare := func(sql string) error {
		_, err := conn.Exec(ctx, "SET ROLE bulwark_owner; "+sql+"; RESET ROLE")
		_, _ = conn.Exec(ctx, "RESET ROLE")
		return err
	}

	rulesBefore, srcBefore := engine()
	for _, tc := range []struct {
		name, sql, code string
	}{
		{"MisspeltColumn", `SELECT bulwark.declare_check('rcm', 'go', $$r.lable <> ''$$, 'BWI02', $$'x'$$)`, "42703"},
		{"UnqualifiedColumn", `SELECT bulwark.declare_check('rcm', 'go', $$label <> ''$$, 'BWI02', $$'x'$$)`, "42702"},
		{"UnknownVariable", `SELECT bulwark.declare_arg_check('rcm', 'go', $$p_argz ? 'x'$$, '22023', $$'x'$$)`, "42703"},
		{"EngineInternalVariable", `SELECT bulwark.declare_arg_check('rcm', 'go', $$v_cap IS NOT NULL$$, '22023', $$'x'$$)`, "42703"},
		{"NotABoolean", `SELECT bulwark.declare_check('rcm', 'go', $$r.label$$, 'BWI02', $$'x'$$)`, "42804"},
		{"MessageTypo", `SELECT bulwark.declare_check('rcm', 'go', $$true$$, 'BWI02', $$'label ' || r.lable$$)`, "42703"},
		{"UnknownFunction", `SELECT bulwark.declare_check('rcm', NULL, $$rc.missing(r.label)$$, 'BWI02', $$'x'$$)`, "42883"},
		{"SetWrongType", `SELECT bulwark.declare_set('rcm', 'go', 'done_at', $$p_note$$)`, "42804"},
		{"SetUnknownColumn", `SELECT bulwark.declare_set('rcm', 'go', 'finished_at', $$pg_catalog.now()$$)`, "42703"},
		{"AfterCallsNothing", `SELECT bulwark.declare_after('rcm', 'go', $$PERFORM rc.enqueue(r)$$)`, "42883"},
		// Only the engine's names: not the probe's target or its own.
		{"CreateSetNamesTheUpdateTarget", `SELECT bulwark.declare_set('rcm', 'mk', 'label', $$t__.label$$)`, "42P01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.code, sqlState(declare(tc.sql)))
			rules, src := engine()
			require.Equal(t, rulesBefore, rules)
			require.Equal(t, srcBefore, src)
		})
	}

	t.Run("EveryNameARuleMayUse", func(t *testing.T) {
		require.NoError(t, declare(`
			SELECT bulwark.declare_arg_check('rcm', 'go',
			    $$p_action = 'go' AND p_actor IS NOT NULL AND p_id IS NOT NULL AND p_expected_version > 0
			      AND coalesce(p_idem_key, '') <> 'x' AND NOT (coalesce(p_args, '{}') ? 'forbidden') AND coalesce(p_note, '') <> 'x'$$,
			    '22023', $$'refused ' || p_action$$);
			SELECT bulwark.declare_check('rcm', 'go', $$v_to = 'b' AND r.version > 0$$, 'BWI02', $$format('%s at %s', r.id, r.version)$$);
			SELECT bulwark.declare_set('rcm', 'go', 'done_at', $$pg_catalog.now()$$);
			SELECT bulwark.declare_set('rcm', 'mk', 'label', $$coalesce(p_args ->> 'label', '')$$);
			-- An untyped literal takes the column's type, as in the
			-- engine's INSERT ... VALUES.
			SELECT bulwark.declare_set('rcm', 'mk', 'done_at', 'NULL')`))
		var problems int
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM bulwark.rule_problems('rcm')`).Scan(&problems))
		require.Zero(t, problems)
		// An after statement is a PERFORM, with its own FROM and WHERE.
		require.NoError(t, declare(`
			SELECT bulwark.declare_after('rcm', 'go', $$PERFORM pg_catalog.pg_notify('rc', r.label) WHERE r.version > 0$$);
			SELECT bulwark.declare_after('rcm', 'go',
			    $$PERFORM pg_catalog.pg_notify('rc', o.label) FROM rc.rcm AS o WHERE o.id = r.id AND o.state = v_to$$)`))
	})

	t.Run("RowsThatAreNotOneExpression", func(t *testing.T) {
		// An owner writing the table directly, around declare_rule, still
		// cannot store a second statement for the probe or the engine, nor
		// an after rule that is anything but a call (the engine splices it
		// in as a statement: an assignment would forge its result).
		for _, row := range []string{
			`('rcm', 'go', 'row_check', 'true) IS FALSE; CREATE TABLE rc.planted (); PREPARE p (int) AS SELECT (true', 'BWI02', $m$'x'$m$)`,
			`('rcm', 'go', 'after', $b$r.state = 'b'$b$, NULL, NULL)`,
			`('rcm', 'go', 'after', $b$EXECUTE 'SELECT 1'$b$, NULL, NULL)`,
		} {
			_, err := conn.Exec(ctx, `
				BEGIN;
				SET LOCAL ROLE bulwark_owner;
				SELECT bulwark.maintenance_begin('test: a rule around declare_rule');
				INSERT INTO bulwark.action_rules (machine, action, kind, body, sqlstate, message) VALUES `+row)
			require.Equal(t, "23514", sqlState(err), row)
			_, err = conn.Exec(ctx, `ROLLBACK`)
			require.NoError(t, err)
		}
	})

	t.Run("OnlyTheOwnerProbes", func(t *testing.T) {
		// A probe parses owner-written text as the engine (a literal of
		// an array of a domain runs the domain's CHECK): the application
		// and job roles may not ask for one.
		for _, role := range []string{"bulwark_app", "bulwark_jobs"} {
			_, err := conn.Exec(ctx, `SET ROLE `+role+`; SELECT * FROM bulwark.rule_problems(NULL)`)
			require.Equal(t, "42501", sqlState(err), role)
			_, err = conn.Exec(ctx, `RESET ROLE`)
			require.NoError(t, err)
		}
	})

	t.Run("ProbesLeaveNoLockAndNoStatement", func(t *testing.T) {
		tx, err := conn.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = tx.Exec(ctx, `SELECT * FROM bulwark.rule_problems(NULL)`)
		require.NoError(t, err)
		var locks, statements int
		require.NoError(t, tx.QueryRow(ctx, `
			SELECT (SELECT count(*) FROM pg_catalog.pg_locks
			        WHERE pid = pg_catalog.pg_backend_pid() AND relation = 'rc.rcm'::regclass AND mode <> 'AccessShareLock'),
			       (SELECT count(*) FROM pg_catalog.pg_prepared_statements WHERE name LIKE 'bulwark%')`).Scan(&locks, &statements))
		require.Zero(t, locks, "a set rule's probe is an UPDATE: its lock ends with it")
		require.Zero(t, statements)
	})

	t.Run("ALockTimeoutIsNotTheRules", func(t *testing.T) {
		other, err := pgx.Connect(ctx, conn.Config().ConnString())
		require.NoError(t, err)
		defer func() { _ = other.Close(ctx) }()
		tx, err := other.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = tx.Exec(ctx, `LOCK TABLE rc.rcm IN SHARE MODE`)
		require.NoError(t, err)

		_, err = conn.Exec(ctx, `SET lock_timeout = '200ms'`)
		require.NoError(t, err)
		defer func() { _, _ = conn.Exec(ctx, `RESET lock_timeout`) }()
		// The probe could not take its lock: an error of the call, not a
		// problem of a rule (verify: could not run, not drift).
		_, err = conn.Exec(ctx, `SELECT * FROM bulwark.rule_problems('rcm')`)
		require.Equal(t, "55P03", sqlState(err))
	})

	t.Run("ColumnRenamedUnderARule", func(t *testing.T) {
		_, err := conn.Exec(ctx, `ALTER TABLE rc.rcm RENAME COLUMN label TO title`)
		require.NoError(t, err)
		rows, err := conn.Query(ctx, `SELECT kind, error_code FROM bulwark.rule_problems('rcm') ORDER BY rule_id`)
		require.NoError(t, err)
		type problem struct{ Kind, Code string }
		got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[problem])
		require.NoError(t, err)
		// The check of before guard() (body and message), the set of mk,
		// the two after statements that name the label.
		require.Equal(t, []problem{{"row_check", "42703"}, {"set", "42703"}, {"after", "42703"}, {"after", "42703"}}, got)
		// So is the next declaration of the machine, whatever rule it adds.
		require.Equal(t, "42703", sqlState(declare(`SELECT bulwark.declare_set('rcm', 'go', 'done_at', $$NULL$$)`)))
	})
}
