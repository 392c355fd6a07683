package schema_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/drift"
	"github.com/bulwarkdb/bulwark/internal/pgtest"
	"github.com/bulwarkdb/bulwark/verify"
)

// secondDomain is what a team writes in its own migration to put a domain
// behind the boundary: declarations, a table, bulwark.guard, and one
// transition function built from the core's helpers. No core SQL copied.
const secondDomain = `
CREATE SCHEMA billing AUTHORIZATION bulwark_owner;
SET LOCAL ROLE bulwark_owner;
REVOKE ALL ON SCHEMA billing FROM PUBLIC;
GRANT USAGE ON SCHEMA billing TO bulwark_app, bulwark_jobs;
SELECT bulwark.declare_machine('invoice', 'open', ARRAY['open', 'paid', 'void']);
SELECT bulwark.declare_transition('invoice', 'pay', 'open', 'paid');
SELECT bulwark.declare_transition('invoice', 'void', 'open', 'void');
SELECT bulwark.declare_capability('invoice.pay', 'Record an invoice as paid.');
SELECT bulwark.declare_role('accountant', ARRAY['invoice.pay']);
CREATE TABLE billing.invoices (
    id      uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    state   text NOT NULL DEFAULT 'open',
    version integer NOT NULL DEFAULT 1,
    total   numeric NOT NULL,
    CONSTRAINT invoice_total_positive CHECK (total > 0)
);
SELECT bulwark.guard('billing.invoices', 'invoice', 'state');
GRANT SELECT ON billing.invoices TO bulwark_app, bulwark_jobs;
CREATE FUNCTION billing.invoice_pay(p_actor uuid, p_id uuid, p_expected_version integer, p_idem_key text)
RETURNS billing.invoices
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_boundary text := bulwark.boundary_enter();
    v_invoice  billing.invoices;
    v_replay   jsonb;
BEGIN
    PERFORM bulwark.require_capability(p_actor, 'invoice.pay');
    SELECT * INTO v_invoice FROM billing.invoices AS i WHERE i.id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM bulwark.raise('BWN01', 'no such invoice');
    END IF;
    v_replay := bulwark.idempotency_claim(p_actor, p_idem_key, pg_catalog.jsonb_build_object('fn', 'invoice_pay', 'id', p_id));
    IF v_replay IS NOT NULL THEN
        PERFORM bulwark.boundary_leave(v_boundary);
        RETURN pg_catalog.jsonb_populate_record(NULL::billing.invoices, v_replay);
    END IF;
    PERFORM bulwark.require_version('invoice', p_id, v_invoice.version, p_expected_version);
    PERFORM bulwark.transition_begin(p_actor, 'pay', p_idem_key, NULL);
    UPDATE billing.invoices AS i
    SET state = bulwark.transition_target('invoice', 'pay', v_invoice.state)
    WHERE i.id = p_id
    RETURNING i.* INTO v_invoice;
    PERFORM bulwark.transition_end();
    PERFORM bulwark.idempotency_complete(p_actor, p_idem_key, pg_catalog.to_jsonb(v_invoice));
    PERFORM bulwark.boundary_leave(v_boundary);
    RETURN v_invoice;
END;
$$;
REVOKE EXECUTE ON FUNCTION billing.invoice_pay(uuid, uuid, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION billing.invoice_pay(uuid, uuid, integer, text) TO bulwark_app, bulwark_jobs;
RESET ROLE;
`

// TestSecondDomain puts a second domain behind the boundary with only the
// core's declarations and helpers, and checks that it gets the same
// guarantees: the state machine, the write guard, the audit log,
// idempotency, the capability re-check, and a clean verify.
func TestSecondDomain(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)

	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, secondDomain)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))

	sqlState := func(err error) string {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			return pgErr.Code
		}
		return ""
	}

	// The owner cannot insert an invoice directly: the write guard.
	_, err = conn.Exec(ctx, `INSERT INTO billing.invoices (total) VALUES (10)`)
	require.Equal(t, "BWI04", sqlState(err))
	// Under the maintenance switch it can (seed data), logged; and the
	// state machine still refuses a paid invoice at creation.
	_, err = conn.Exec(ctx, `BEGIN; SELECT bulwark.maintenance_begin('seed an invoice');
		INSERT INTO billing.invoices (id, total) VALUES ('00000000-0000-0000-0000-000000000001', 10); COMMIT`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `BEGIN; SELECT bulwark.maintenance_begin('seed a paid invoice');
		INSERT INTO billing.invoices (total, state) VALUES (10, 'paid'); COMMIT`)
	require.Equal(t, "BWI01", sqlState(err))
	_, err = conn.Exec(ctx, `ROLLBACK`)
	require.NoError(t, err)

	// A principal with the capability pays through the function, as the
	// application role; without it, BWP01.
	app, err := pgx.Connect(ctx, pgtest.LoginAs(t, url, "bulwark_app"))
	require.NoError(t, err)
	defer app.Close(ctx)
	// Principals are made by bootstrap, which acts only from the migration
	// role's session.
	var accountant, nobody string
	require.NoError(t, conn.QueryRow(ctx, `SELECT bulwark.principal_create(bulwark.principal_id('bootstrap'), 'human', 'acc')`).Scan(&accountant))
	require.NoError(t, conn.QueryRow(ctx, `SELECT bulwark.principal_create(bulwark.principal_id('bootstrap'), 'human', 'nobody')`).Scan(&nobody))
	_, err = conn.Exec(ctx, `SELECT bulwark.role_grant(bulwark.principal_id('bootstrap'), $1, 'accountant')`, accountant)
	require.NoError(t, err)
	_, err = app.Exec(ctx, `SELECT bulwark.role_grant(bulwark.principal_id('bootstrap'), $1, 'admin')`, nobody)
	require.Equal(t, "BWP01", sqlState(err), "an application credential cannot act as bootstrap")

	const id = "00000000-0000-0000-0000-000000000001"
	_, err = app.Exec(ctx, `SELECT * FROM billing.invoice_pay($1, $2, 1, NULL)`, nobody, id)
	require.Equal(t, "BWP01", sqlState(err))
	_, err = app.Exec(ctx, `UPDATE billing.invoices SET state = 'paid' WHERE id = $1`, id)
	require.Equal(t, "42501", sqlState(err))
	var state string
	var version int
	require.NoError(t, app.QueryRow(ctx, `SELECT state, version FROM billing.invoice_pay($1, $2, 1, 'pay-1')`, accountant, id).Scan(&state, &version))
	require.Equal(t, "paid", state)
	require.Equal(t, 2, version)
	// A retry with the key replays; paying again is an illegal transition.
	require.NoError(t, app.QueryRow(ctx, `SELECT version FROM billing.invoice_pay($1, $2, 1, 'pay-1')`, accountant, id).Scan(&version))
	require.Equal(t, 2, version)
	var nothing any
	err = app.QueryRow(ctx, `SELECT * FROM billing.invoice_pay($1, $2, 2, NULL)`, accountant, id).Scan(&nothing)
	require.Equal(t, "BWI01", sqlState(err))

	var logged int
	require.NoError(t, app.QueryRow(ctx, `
		SELECT count(*) FROM bulwark.transition_log
		WHERE machine = 'invoice' AND entity_id = $1 AND transition IN ('maintenance_insert', 'pay')`, id).Scan(&logged))
	require.Equal(t, 2, logged)

	// And verify holds the second domain to the same contract.
	report, err := verify.Run(ctx, conn, &verify.Opts{MigrationRoles: drift.MigrationRoles(t, url, nil, "")})
	require.NoError(t, err)
	require.True(t, report.OK, "%v", report.Failures())
	_, err = conn.Exec(ctx, `ALTER TABLE billing.invoices DROP CONSTRAINT invoice_total_positive`)
	require.NoError(t, err)
	report, err = verify.Run(ctx, conn, &verify.Opts{MigrationRoles: drift.MigrationRoles(t, url, nil, "")})
	require.NoError(t, err)
	require.Equal(t, []string{"constraints billing.invoices.invoice_total_positive"}, report.Failures())
}
