package scaffold_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/drift"
	"github.com/bulwarkdb/bulwark/internal/pgtest"
	"github.com/bulwarkdb/bulwark/scaffold"
	"github.com/bulwarkdb/bulwark/sql/schema"
	"github.com/bulwarkdb/bulwark/verify"
)

// declarationsSnapshot is everything a domain's migration declares or
// creates, outside its own schema too: the declaration tables of the core,
// the schemas, functions and triggers. Equal before Up and after Down
// means the Down removed all the Up added.
const declarationsSnapshot = `
SELECT pg_catalog.jsonb_build_object(
    'action_rules', (SELECT pg_catalog.jsonb_agg(t ORDER BY t::text) FROM bulwark.action_rules AS t),
    'actions', (SELECT pg_catalog.jsonb_agg(t ORDER BY t::text) FROM bulwark.actions AS t),
    'api_functions', (SELECT pg_catalog.jsonb_agg(t ORDER BY t::text) FROM bulwark.api_functions AS t),
    'callable_functions', (SELECT pg_catalog.jsonb_agg(t ORDER BY t::text) FROM bulwark.callable_functions AS t),
    'capabilities', (SELECT pg_catalog.jsonb_agg(t ORDER BY t::text) FROM bulwark.capabilities AS t),
    'contract_constraints', (SELECT pg_catalog.jsonb_agg(t ORDER BY t::text) FROM bulwark.contract_constraints AS t),
    'guarded_tables', (SELECT pg_catalog.jsonb_agg(t ORDER BY t::text) FROM bulwark.guarded_tables AS t),
    'machines', (SELECT pg_catalog.jsonb_agg(t ORDER BY t::text) FROM bulwark.machines AS t),
    'principal_roles', (SELECT pg_catalog.jsonb_agg(t ORDER BY t::text) FROM bulwark.principal_roles AS t),
    'role_capabilities', (SELECT pg_catalog.jsonb_agg(t ORDER BY t::text) FROM bulwark.role_capabilities AS t),
    'roles', (SELECT pg_catalog.jsonb_agg(t ORDER BY t::text) FROM bulwark.roles AS t),
    'states', (SELECT pg_catalog.jsonb_agg(t ORDER BY t::text) FROM bulwark.states AS t),
    'transitions', (SELECT pg_catalog.jsonb_agg(t ORDER BY t::text) FROM bulwark.transitions AS t),
    'schemas', (SELECT pg_catalog.jsonb_agg(n.nspname ORDER BY n.nspname) FROM pg_catalog.pg_namespace AS n),
    'functions', (SELECT pg_catalog.jsonb_agg(p.oid::regprocedure::text ORDER BY p.oid::regprocedure::text)
                  FROM pg_catalog.pg_proc AS p
                  WHERE p.pronamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)),
    'triggers', (SELECT pg_catalog.jsonb_agg(g.tgrelid::regclass::text || ' ' || g.tgname ORDER BY 1)
                 FROM pg_catalog.pg_trigger AS g WHERE NOT g.tgisinternal)
)::text`

// TestGeneratedMigration applies each generated migration as a line of its
// own (package schema) to a database with the core alone migrated; runs its
// wrappers as the application role; holds it to bulwark verify; and
// proves that its Down removes everything its Up added, and that Up runs
// again after it.
func TestGeneratedMigration(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	sqlState := func(err error) string {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			return pgErr.Code
		}
		return ""
	}

	// principal makes a principal with roles, as bootstrap from the
	// migration role's session.
	principal := func(t *testing.T, conn *pgx.Conn, name string, roles ...string) string {
		t.Helper()
		var id string
		require.NoError(t, conn.QueryRow(ctx,
			`SELECT bulwark.principal_create(bulwark.principal_id('bootstrap'), 'human', $1)`, name).Scan(&id))
		for _, r := range roles {
			_, err := conn.Exec(ctx, `SELECT bulwark.role_grant(bulwark.principal_id('bootstrap'), $1, $2)`, id, r)
			require.NoError(t, err)
		}
		return id
	}

	for name, tc := range map[string]struct {
		// walkFunc runs the wrappers as the application role; owner is
		// the migration role's session, for principals.
		walkFunc func(t *testing.T, owner, app *pgx.Conn)
	}{
		"expense": {walkFunc: func(t *testing.T, owner, app *pgx.Conn) {
			cara := principal(t, owner, "cara", "claimant")
			alex := principal(t, owner, "alex", "approver")
			var id, state, claimant string
			var version int
			require.NoError(t, app.QueryRow(ctx,
				`SELECT id, state, version, claimant_id FROM expenses.expense_create($1, 4200, 'Train to Lyon', 'claim-1')`, cara,
			).Scan(&id, &state, &version, &claimant))
			require.Equal(t, []any{"draft", 1, cara}, []any{state, version, claimant})
			// The create's arguments are checked before any write.
			_, err := app.Exec(ctx, `SELECT * FROM expenses.expense_create($1, NULL, 'x', NULL)`, cara)
			require.Equal(t, "22004", sqlState(err))
			// An update changes what it is given and keeps the rest.
			var amount int64
			var description string
			require.NoError(t, app.QueryRow(ctx,
				`SELECT version, amount_cents, description FROM expenses.expense_edit($1, $2, 1, 4300, NULL, NULL)`, cara, id,
			).Scan(&version, &amount, &description))
			require.Equal(t, []any{2, int64(4300), "Train to Lyon"}, []any{version, amount, description})
			require.NoError(t, app.QueryRow(ctx, `SELECT version FROM expenses.expense_submit($1, $2, 2, NULL)`, cara, id).Scan(&version))
			// The capability, the version and the edge, in that order.
			_, err = app.Exec(ctx, `SELECT * FROM expenses.expense_approve($1, $2, 3, NULL)`, cara, id)
			require.Equal(t, "BWP01", sqlState(err))
			_, err = app.Exec(ctx, `SELECT * FROM expenses.expense_approve($1, $2, 2, NULL)`, alex, id)
			require.Equal(t, "BWC01", sqlState(err))
			var approvedBy string
			require.NoError(t, app.QueryRow(ctx,
				`SELECT state, approved_by FROM expenses.expense_approve($1, $2, 3, NULL)`, alex, id).Scan(&state, &approvedBy))
			require.Equal(t, []any{"approved", alex}, []any{state, approvedBy})
			_, err = app.Exec(ctx, `SELECT * FROM expenses.expense_reject($1, $2, 4, 'late', NULL)`, alex, id)
			require.Equal(t, "BWI01", sqlState(err))
			// The table refuses the application role's own writes.
			_, err = app.Exec(ctx, `UPDATE expenses.claims SET state = 'paid' WHERE id = $1`, id)
			require.Equal(t, "42501", sqlState(err))
			// A replay of the create's key returns the first row.
			var again string
			require.NoError(t, app.QueryRow(ctx,
				`SELECT id FROM expenses.expense_create($1, 4200, 'Train to Lyon', 'claim-1')`, cara).Scan(&again))
			require.Equal(t, id, again)
		}},
		"ticket": {walkFunc: func(t *testing.T, owner, app *pgx.Conn) {
			agent := principal(t, owner, "agnes", "agent")
			var id, payload string
			require.NoError(t, app.QueryRow(ctx,
				`SELECT id, payload::text FROM help_desk.ticket_open($1, 'Printer on fire', '{"floor": 3}', NULL)`, agent,
			).Scan(&id, &payload))
			require.JSONEq(t, `{"floor": 3}`, payload)
			_, err := app.Exec(ctx, `SELECT * FROM help_desk.ticket_open($1, repeat('x', 201), NULL, NULL)`, agent)
			require.Equal(t, "22001", sqlState(err))
			var state, note string
			require.NoError(t, app.QueryRow(ctx, `SELECT state FROM help_desk.ticket_wait($1, $2, 1, 'asked for the model', NULL)`, agent, id).Scan(&state))
			require.Equal(t, "pending", state)
			require.NoError(t, app.QueryRow(ctx, `
				SELECT note FROM bulwark.transition_log
				WHERE machine = 'ticket' AND entity_id = $1 AND transition = 'wait'`, id).Scan(&note))
			require.Equal(t, "asked for the model", note)
			// close has two source states; pending is one.
			require.NoError(t, app.QueryRow(ctx, `SELECT state FROM help_desk.ticket_close($1, $2, 2, NULL)`, agent, id).Scan(&state))
			require.Equal(t, "closed", state)
			var nullPayload *string
			require.NoError(t, app.QueryRow(ctx,
				`SELECT payload::text FROM help_desk.ticket_open($1, 'Quiet', NULL, NULL)`, agent).Scan(&nullPayload))
			require.Nil(t, nullPayload)
		}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			files, err := scaffold.Generate(load(t, name), nil)
			require.NoError(t, err)
			migrations := fstest.MapFS{}
			for _, f := range files {
				if m, ok := cutPrefix(f.Path, "migrations/"); ok {
					migrations[m] = &fstest.MapFile{Data: f.Data}
				}
			}
			require.Len(t, migrations, 1)

			// The core alone, then the domain's line: no other domain.
			url := pgtest.EmptyDatabase(t)
			owner, err := pgx.Connect(ctx, url)
			require.NoError(t, err)
			t.Cleanup(func() { owner.Close(ctx) })
			cfg, err := pgx.ParseConfig(url)
			require.NoError(t, err)
			db := stdlib.OpenDB(*cfg)
			t.Cleanup(func() { db.Close() })
			_, err = schema.Up(ctx, db, schema.Core())
			require.NoError(t, err)
			// As the generated migrations.go names it.
			d := load(t, name)
			line, err := schema.Own(fs.FS(migrations), &schema.OwnOpts{Name: d.Schema, VersionTable: "public." + d.Schema + "_goose_version"})
			require.NoError(t, err)

			snapshot := func() map[string]string {
				var raw string
				require.NoError(t, owner.QueryRow(ctx, declarationsSnapshot).Scan(&raw))
				var parts map[string]json.RawMessage
				require.NoError(t, json.Unmarshal([]byte(raw), &parts))
				out := map[string]string{}
				for k, v := range parts {
					out[k] = string(v)
				}
				return out
			}
			before := snapshot()

			results, err := schema.Up(ctx, db, schema.Core(), line)
			require.NoError(t, err)
			require.Len(t, results, 1)
			plpgsqlCheck(t, owner, d)
			app, err := pgx.Connect(ctx, pgtest.LoginAs(t, url, "bulwark_app"))
			require.NoError(t, err)
			tc.walkFunc(t, owner, app)
			app.Close(ctx)

			report, err := verify.Run(ctx, owner, &verify.Opts{Lines: []*schema.Line{line}, MigrationRoles: drift.MigrationRoles(t, url, nil, "")})
			require.NoError(t, err)
			require.True(t, report.OK, "verify: %v", report.Failures())

			_, err = schema.DownTo(ctx, db, line, 0)
			require.NoError(t, err)
			after := snapshot()
			for k := range before {
				require.JSONEq(t, before[k], after[k], "%s: the Down left something of the Up behind, or removed more", k)
			}

			// And it can be applied again.
			_, err = schema.Up(ctx, db, schema.Core(), line)
			require.NoError(t, err)
		})
	}
}

// plpgsqlCheck runs plpgsql_check over the PL/pgSQL the migration made:
// its wrappers and the engine generated for its machine. The analyzer is
// optional: skipped where it is not installed, unless
// BULWARK_REQUIRE_PLPGSQL_CHECK is set (CI sets it).
func plpgsqlCheck(t *testing.T, conn *pgx.Conn, d *scaffold.Declaration) {
	t.Helper()
	ctx := context.Background()
	var available bool
	require.NoError(t, conn.QueryRow(ctx,
		`SELECT EXISTS (SELECT FROM pg_catalog.pg_available_extensions WHERE name = 'plpgsql_check')`).Scan(&available))
	if !available {
		if os.Getenv("BULWARK_REQUIRE_PLPGSQL_CHECK") != "" {
			t.Fatal("plpgsql_check is not installed (BULWARK_REQUIRE_PLPGSQL_CHECK is set)")
		}
		t.Log("plpgsql_check is not installed: the generated PL/pgSQL is not analyzed")
		return
	}
	// Dropped again after the check: the test compares the catalog before
	// Up and after Down.
	_, err := conn.Exec(ctx, `CREATE EXTENSION plpgsql_check`)
	require.NoError(t, err)
	defer func() {
		_, err := conn.Exec(ctx, `DROP EXTENSION plpgsql_check`)
		require.NoError(t, err)
	}()
	rows, err := conn.Query(ctx, `
		WITH targets AS (
			SELECT p.oid AS fn, coalesce(t.tgrelid, 0) AS rel
			FROM pg_catalog.pg_proc AS p
			JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang AND l.lanname = 'plpgsql'
			LEFT JOIN pg_catalog.pg_trigger AS t ON t.tgfoid = p.oid AND NOT t.tgisinternal
			WHERE (p.pronamespace = $1::regnamespace
			       OR (p.pronamespace = 'bulwark'::regnamespace AND p.proname IN ($2, $3)))
			  AND (p.prorettype <> 'pg_catalog.trigger'::pg_catalog.regtype OR t.tgrelid IS NOT NULL)
		)
		SELECT DISTINCT targets.fn::regprocedure::text || ': ' || c.level || ' ' || coalesce(c.sqlstate, '') || ' ' || c.message
		FROM targets
		CROSS JOIN LATERAL plpgsql_check_function_tb(targets.fn, targets.rel,
			fatal_errors => false, extra_warnings => true, security_warnings => true) AS c
		WHERE c.level IN ('error', 'warning', 'warning extra', 'security')`,
		d.Schema, "trg_"+d.Machine+"_boundary", "trg_"+d.Machine+"_audit")
	require.NoError(t, err)
	findings, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Empty(t, findings)
	var checked int
	require.NoError(t, conn.QueryRow(ctx, `
		SELECT count(*) FROM pg_catalog.pg_proc AS p WHERE p.pronamespace = $1::regnamespace`, d.Schema).Scan(&checked))
	require.Greater(t, checked, len(d.Transitions), "the wrappers and the engine are in scope")
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return "", false
}
