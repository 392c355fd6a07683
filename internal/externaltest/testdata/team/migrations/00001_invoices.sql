-- The team's invoices, behind bulwark's boundary: declarations, the table,
-- bulwark.guard (which generates the domain's engine, billing.invoice_apply)
-- and one typed wrapper per action.

-- +goose Up
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';

CREATE SCHEMA billing AUTHORIZATION bulwark_owner;
SET LOCAL ROLE bulwark_owner;

SELECT bulwark.declare_capability('invoice.issue', 'Issue an invoice.');
SELECT bulwark.declare_capability('invoice.pay', 'Record an invoice as paid.');
SELECT bulwark.declare_role('accountant', ARRAY['invoice.issue', 'invoice.pay']);
SELECT bulwark.declare_machine('invoice', 'open', ARRAY['open', 'paid']);
SELECT bulwark.declare_action('invoice', 'issue', 'create', 'invoice.issue');
SELECT bulwark.declare_transition('invoice', 'pay', 'open', 'paid', 'invoice.pay');
SELECT bulwark.declare_arg_check('invoice', 'issue', $$(p_args ->> 'total') ~ '^[0-9]{1,9}(\.[0-9]{1,2})?$'$$, '22023',
    $$'total must be an amount with at most two decimals'$$);
SELECT bulwark.declare_set('invoice', 'issue', 'total', $$(p_args ->> 'total')::numeric$$);

CREATE TABLE billing.invoices (
    id      uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    state   text NOT NULL DEFAULT 'open',
    version integer NOT NULL DEFAULT 1,
    total   numeric NOT NULL,
    CONSTRAINT invoice_total_positive CHECK (total > 0)
);
SELECT bulwark.guard('billing.invoices', 'invoice', 'state');
GRANT SELECT ON billing.invoices TO bulwark_app;

-- +goose StatementBegin
CREATE FUNCTION billing.invoice_issue(p_actor uuid, p_total text, p_idem_key text)
RETURNS billing.invoices LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN billing.invoice_apply('issue', p_actor, NULL, NULL, p_idem_key, pg_catalog.jsonb_build_object('total', p_total)); END $$;
-- +goose StatementEnd
SELECT bulwark.declare_api('billing.invoice_issue(uuid, text, text)', 'invoice', 'issue');

-- +goose StatementBegin
CREATE FUNCTION billing.invoice_pay(p_actor uuid, p_id uuid, p_expected_version integer, p_idem_key text)
RETURNS billing.invoices LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN billing.invoice_apply('pay', p_actor, p_id, p_expected_version, p_idem_key); END $$;
-- +goose StatementEnd
SELECT bulwark.declare_api('billing.invoice_pay(uuid, uuid, integer, text)', 'invoice', 'pay');

RESET ROLE;

-- +goose Down
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';
SET LOCAL ROLE bulwark_owner;

SELECT bulwark.unguard('billing.invoices');
DROP SCHEMA billing CASCADE;
SELECT bulwark.undeclare_machine('invoice');

-- +goose StatementBegin
DO $down$
BEGIN
    PERFORM bulwark.maintenance_begin('invoices down: remove the invoice domain');
    DELETE FROM bulwark.principal_roles WHERE role = 'accountant';
    DELETE FROM bulwark.role_capabilities WHERE capability LIKE 'invoice.%';
    DELETE FROM bulwark.roles WHERE name = 'accountant';
    DELETE FROM bulwark.capabilities WHERE name LIKE 'invoice.%';
    PERFORM bulwark.maintenance_end();
END
$down$;
-- +goose StatementEnd

RESET ROLE;
