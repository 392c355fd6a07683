-- Expense claims, from draft to payment. The expense machine in schema
-- expenses, put behind the boundary with the core's declarations and
-- bulwark.guard().
-- Scaffolded by `bulwark new` from declaration.json. Extend it by hand
-- (preconditions with bulwark.declare_check, more set rules, constraints,
-- indexes) before it is merged: a merged migration is never edited.

-- +goose Up
-- Fail fast rather than queue behind a long transaction and block every
-- session that then queues behind this migration's locks.
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';
CREATE SCHEMA expenses AUTHORIZATION bulwark_owner;

SET LOCAL ROLE bulwark_owner;

-- bulwark.guard grants USAGE on the schema to the application and job roles.
REVOKE ALL ON SCHEMA expenses FROM PUBLIC;
COMMENT ON SCHEMA expenses IS 'Expense claims, from draft to payment.';

SELECT bulwark.declare_capability('expense.create', 'Create an expense claim.');
SELECT bulwark.declare_capability('expense.edit', 'Change an expense claim''s amount or description.');
SELECT bulwark.declare_capability('expense.submit', 'Submit an expense claim for approval.');
SELECT bulwark.declare_capability('expense.review', 'Approve or reject an expense claim.');
SELECT bulwark.declare_capability('expense.pay', 'Record an expense claim as paid.');

SELECT bulwark.declare_role('claimant', ARRAY['expense.create', 'expense.edit', 'expense.submit']);
SELECT bulwark.declare_role('approver', ARRAY['expense.review']);
SELECT bulwark.declare_role('director', ARRAY['expense.review']);
SELECT bulwark.declare_role('treasurer', ARRAY['expense.pay']);

SELECT bulwark.declare_machine('expense', 'draft', ARRAY['draft', 'submitted', 'approved', 'rejected', 'paid']);
SELECT bulwark.declare_transition('expense', 'submit', 'draft', 'submitted', 'expense.submit');
SELECT bulwark.declare_transition('expense', 'approve', 'submitted', 'approved', 'expense.review');
SELECT bulwark.declare_transition('expense', 'reject', 'submitted', 'rejected', 'expense.review');
SELECT bulwark.declare_transition('expense', 'pay', 'approved', 'paid', 'expense.pay');
SELECT bulwark.declare_action('expense', 'create', 'create', 'expense.create');
SELECT bulwark.declare_action('expense', 'edit', 'update', 'expense.edit');

CREATE TABLE expenses.claims (
    id           uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    amount_cents bigint NOT NULL,
    approved_by  uuid REFERENCES bulwark.principals (id),
    claimant_id  uuid NOT NULL REFERENCES bulwark.principals (id),
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    description  text NOT NULL,
    paid_at      timestamptz,
    state        text NOT NULL DEFAULT 'draft',
    version      integer NOT NULL DEFAULT 1,
    CONSTRAINT expense_description_length CHECK (pg_catalog.char_length(description) <= 500),
    CONSTRAINT expense_version_positive CHECK (version > 0)
);

COMMENT ON TABLE expenses.claims IS 'Expense claims, from draft to payment. Guarded by the expense state machine: change rows only through the expenses.expense_* functions.';
COMMENT ON COLUMN expenses.claims.state IS 'draft, submitted, approved, rejected or paid.';
COMMENT ON COLUMN expenses.claims.version IS 'Optimistic-concurrency token: the engine bumps it on every write.';
COMMENT ON COLUMN expenses.claims.amount_cents IS 'The amount claimed, in cents.';
COMMENT ON COLUMN expenses.claims.approved_by IS 'The approver; never the claimant.';
COMMENT ON COLUMN expenses.claims.claimant_id IS 'Who claims the expense.';
COMMENT ON COLUMN expenses.claims.description IS 'What the expense was for.';
COMMENT ON COLUMN expenses.claims.paid_at IS 'When the treasurer recorded the payment.';

-- What ExpenseListByState pages through.
CREATE INDEX expense_state_created ON expenses.claims (state, created_at, id);
CREATE INDEX expense_approved_by ON expenses.claims (approved_by);
CREATE INDEX expense_claimant_id ON expenses.claims (claimant_id);

-- Generates the engine (expenses.expense_apply) and the table's boundary and
-- audit triggers; grants SELECT to the application and job roles, DML to the
-- engine alone; records the constraints for bulwark verify.
SELECT bulwark.guard('expenses.claims', 'expense', 'state');

------------------------------------------------------------------------------
-- The rules of each action, in the documented order of the engine's checks
------------------------------------------------------------------------------


-- approve: what it writes.
SELECT bulwark.declare_set('expense', 'approve', 'approved_by', 'p_actor');

-- create: its arguments, then what it writes.
SELECT bulwark.declare_arg_check('expense', 'create', $$p_args ->> 'amount_cents' IS NOT NULL$$, '22004', $$'amount_cents is required'$$);
SELECT bulwark.declare_arg_check('expense', 'create', $$p_args ->> 'description' IS NOT NULL$$, '22004', $$'description is required'$$);
SELECT bulwark.declare_arg_check('expense', 'create', $$pg_catalog.char_length(p_args ->> 'description') <= 500$$, '22001', $$'description is longer than 500 characters'$$);
SELECT bulwark.declare_set('expense', 'create', 'claimant_id', 'p_actor');
SELECT bulwark.declare_set('expense', 'create', 'amount_cents', $$(p_args ->> 'amount_cents')::bigint$$);
SELECT bulwark.declare_set('expense', 'create', 'description', $$p_args ->> 'description'$$);

-- edit: its arguments, then what it writes.
SELECT bulwark.declare_arg_check('expense', 'edit', $$pg_catalog.char_length(p_args ->> 'description') <= 500$$, '22001', $$'description is longer than 500 characters'$$);
SELECT bulwark.declare_set('expense', 'edit', 'amount_cents', $$coalesce((p_args ->> 'amount_cents')::bigint, r.amount_cents)$$);
SELECT bulwark.declare_set('expense', 'edit', 'description', $$coalesce(p_args ->> 'description', r.description)$$);

------------------------------------------------------------------------------
-- The SQL API: one typed wrapper of the engine per action (what sqlc calls)
------------------------------------------------------------------------------

-- +goose StatementBegin
CREATE FUNCTION expenses.expense_approve(p_actor uuid, p_id uuid, p_expected_version integer, p_idem_key text)
RETURNS expenses.claims LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN expenses.expense_apply('approve', p_actor, p_id, p_expected_version, p_idem_key); END $$;
-- +goose StatementEnd
SELECT bulwark.declare_api('expenses.expense_approve(uuid, uuid, integer, text)', 'expense', 'approve');

-- +goose StatementBegin
CREATE FUNCTION expenses.expense_create(p_actor uuid, p_amount_cents bigint, p_description text, p_idem_key text)
RETURNS expenses.claims LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN expenses.expense_apply('create', p_actor, NULL, NULL, p_idem_key, pg_catalog.jsonb_build_object('amount_cents', p_amount_cents, 'description', p_description)); END $$;
-- +goose StatementEnd
SELECT bulwark.declare_api('expenses.expense_create(uuid, bigint, text, text)', 'expense', 'create');

-- +goose StatementBegin
CREATE FUNCTION expenses.expense_edit(p_actor uuid, p_id uuid, p_expected_version integer, p_amount_cents bigint, p_description text, p_idem_key text)
RETURNS expenses.claims LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN expenses.expense_apply('edit', p_actor, p_id, p_expected_version, p_idem_key, pg_catalog.jsonb_build_object('amount_cents', p_amount_cents, 'description', p_description)); END $$;
-- +goose StatementEnd
SELECT bulwark.declare_api('expenses.expense_edit(uuid, uuid, integer, bigint, text, text)', 'expense', 'edit');

-- +goose StatementBegin
CREATE FUNCTION expenses.expense_pay(p_actor uuid, p_id uuid, p_expected_version integer, p_idem_key text)
RETURNS expenses.claims LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN expenses.expense_apply('pay', p_actor, p_id, p_expected_version, p_idem_key); END $$;
-- +goose StatementEnd
SELECT bulwark.declare_api('expenses.expense_pay(uuid, uuid, integer, text)', 'expense', 'pay');

-- +goose StatementBegin
CREATE FUNCTION expenses.expense_reject(p_actor uuid, p_id uuid, p_expected_version integer, p_note text, p_idem_key text)
RETURNS expenses.claims LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN expenses.expense_apply('reject', p_actor, p_id, p_expected_version, p_idem_key, NULL, p_note); END $$;
-- +goose StatementEnd
SELECT bulwark.declare_api('expenses.expense_reject(uuid, uuid, integer, text, text)', 'expense', 'reject');

-- +goose StatementBegin
CREATE FUNCTION expenses.expense_submit(p_actor uuid, p_id uuid, p_expected_version integer, p_idem_key text)
RETURNS expenses.claims LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN expenses.expense_apply('submit', p_actor, p_id, p_expected_version, p_idem_key); END $$;
-- +goose StatementEnd
SELECT bulwark.declare_api('expenses.expense_submit(uuid, uuid, integer, text)', 'expense', 'submit');

RESET ROLE;

-- +goose Down
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';
SET LOCAL ROLE bulwark_owner;

SELECT bulwark.unguard('expenses.claims');
-- The schema's owner drops what it holds: the table and the wrappers.
DROP SCHEMA expenses CASCADE;
SELECT bulwark.undeclare_machine('expense');

-- Capabilities and roles are cluster-wide names another domain may
-- share: only those no remaining machine or role uses go.
-- +goose StatementBegin
DO $down$
BEGIN
    PERFORM bulwark.maintenance_begin('migration 00001_expense_workflow down: remove the expense domain');
    DELETE FROM bulwark.role_capabilities AS rc
    WHERE rc.capability IN ('expense.create', 'expense.edit', 'expense.submit', 'expense.review', 'expense.pay')
      AND NOT EXISTS (SELECT FROM bulwark.actions AS a WHERE a.capability = rc.capability);
    DELETE FROM bulwark.principal_roles AS pr
    WHERE pr.role IN ('claimant', 'approver', 'director', 'treasurer')
      AND NOT EXISTS (SELECT FROM bulwark.role_capabilities AS rc WHERE rc.role = pr.role);
    DELETE FROM bulwark.roles AS r
    WHERE r.name IN ('claimant', 'approver', 'director', 'treasurer')
      AND NOT EXISTS (SELECT FROM bulwark.role_capabilities AS rc WHERE rc.role = r.name);
    DELETE FROM bulwark.capabilities AS c
    WHERE c.name IN ('expense.create', 'expense.edit', 'expense.submit', 'expense.review', 'expense.pay')
      AND NOT EXISTS (SELECT FROM bulwark.actions AS a WHERE a.capability = c.name)
      AND NOT EXISTS (SELECT FROM bulwark.role_capabilities AS rc WHERE rc.capability = c.name);
    PERFORM bulwark.maintenance_end();
END
$down$;
-- +goose StatementEnd

RESET ROLE;
