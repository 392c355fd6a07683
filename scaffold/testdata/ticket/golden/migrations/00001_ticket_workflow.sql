-- Support tickets: the smallest machine, with one create and a transition
-- from two states. The ticket machine in schema help_desk, put behind the
-- boundary with the core's declarations and bulwark.guard().
-- Scaffolded by `bulwark new` from declaration.json. Extend it by hand
-- (preconditions with bulwark.declare_check, more set rules, constraints,
-- indexes) before it is merged: a merged migration is never edited.

-- +goose Up
-- Fail fast rather than queue behind a long transaction and block every
-- session that then queues behind this migration's locks.
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';
CREATE SCHEMA help_desk AUTHORIZATION bulwark_owner;

SET LOCAL ROLE bulwark_owner;

-- bulwark.guard grants USAGE on the schema to the application and job roles.
REVOKE ALL ON SCHEMA help_desk FROM PUBLIC;
COMMENT ON SCHEMA help_desk IS 'Support tickets: the smallest machine, with one create and a transition from two states.';

SELECT bulwark.declare_capability('ticket.create', 'Open a support ticket.');
SELECT bulwark.declare_capability('ticket.wait', 'Put a ticket on hold for the customer.');
SELECT bulwark.declare_capability('ticket.close', 'Close a ticket.');

SELECT bulwark.declare_role('agent', ARRAY['ticket.create', 'ticket.wait', 'ticket.close']);

SELECT bulwark.declare_machine('ticket', 'open', ARRAY['open', 'pending', 'closed']);
SELECT bulwark.declare_transition('ticket', 'wait', 'open', 'pending', 'ticket.wait');
SELECT bulwark.declare_transition('ticket', 'close', 'open', 'closed', 'ticket.close');
SELECT bulwark.declare_transition('ticket', 'close', 'pending', 'closed');
SELECT bulwark.declare_action('ticket', 'open', 'create', 'ticket.create');

CREATE TABLE help_desk.tickets (
    id         uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    payload    jsonb,
    state      text NOT NULL DEFAULT 'open',
    subject    text NOT NULL,
    version    integer NOT NULL DEFAULT 1,
    CONSTRAINT ticket_subject_length CHECK (pg_catalog.char_length(subject) <= 200),
    CONSTRAINT ticket_version_positive CHECK (version > 0)
);

COMMENT ON TABLE help_desk.tickets IS 'Support tickets: the smallest machine, with one create and a transition from two states. Guarded by the ticket state machine: change rows only through the help_desk.ticket_* functions.';
COMMENT ON COLUMN help_desk.tickets.state IS 'open, pending or closed.';
COMMENT ON COLUMN help_desk.tickets.version IS 'Optimistic-concurrency token: the engine bumps it on every write.';

-- What TicketListByState pages through.
CREATE INDEX ticket_state_created ON help_desk.tickets (state, created_at, id);

-- Generates the engine (help_desk.ticket_apply) and the table's boundary and
-- audit triggers; grants SELECT to the application and job roles, DML to the
-- engine alone; records the constraints for bulwark verify.
SELECT bulwark.guard('help_desk.tickets', 'ticket', 'state');

------------------------------------------------------------------------------
-- The rules of each action, in the documented order of the engine's checks
------------------------------------------------------------------------------


-- open: its arguments, then what it writes.
SELECT bulwark.declare_arg_check('ticket', 'open', $$p_args ->> 'subject' IS NOT NULL$$, '22004', $$'subject is required'$$);
SELECT bulwark.declare_arg_check('ticket', 'open', $$pg_catalog.char_length(p_args ->> 'subject') <= 200$$, '22001', $$'subject is longer than 200 characters'$$);
SELECT bulwark.declare_set('ticket', 'open', 'subject', $$p_args ->> 'subject'$$);
SELECT bulwark.declare_set('ticket', 'open', 'payload', $$NULLIF(p_args -> 'payload', 'null'::jsonb)$$);

------------------------------------------------------------------------------
-- The SQL API: one typed wrapper of the engine per action (what sqlc calls)
------------------------------------------------------------------------------

-- +goose StatementBegin
CREATE FUNCTION help_desk.ticket_close(p_actor uuid, p_id uuid, p_expected_version integer, p_idem_key text)
RETURNS help_desk.tickets LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN help_desk.ticket_apply('close', p_actor, p_id, p_expected_version, p_idem_key); END $$;
-- +goose StatementEnd
SELECT bulwark.declare_api('help_desk.ticket_close(uuid, uuid, integer, text)', 'ticket', 'close');

-- +goose StatementBegin
CREATE FUNCTION help_desk.ticket_open(p_actor uuid, p_subject text, p_payload jsonb, p_idem_key text)
RETURNS help_desk.tickets LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN help_desk.ticket_apply('open', p_actor, NULL, NULL, p_idem_key, pg_catalog.jsonb_build_object('subject', p_subject, 'payload', p_payload)); END $$;
-- +goose StatementEnd
SELECT bulwark.declare_api('help_desk.ticket_open(uuid, text, jsonb, text)', 'ticket', 'open');

-- +goose StatementBegin
CREATE FUNCTION help_desk.ticket_wait(p_actor uuid, p_id uuid, p_expected_version integer, p_note text, p_idem_key text)
RETURNS help_desk.tickets LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN help_desk.ticket_apply('wait', p_actor, p_id, p_expected_version, p_idem_key, NULL, p_note); END $$;
-- +goose StatementEnd
SELECT bulwark.declare_api('help_desk.ticket_wait(uuid, uuid, integer, text, text)', 'ticket', 'wait');

RESET ROLE;

-- +goose Down
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';
SET LOCAL ROLE bulwark_owner;

SELECT bulwark.unguard('help_desk.tickets');
-- The schema's owner drops what it holds: the table and the wrappers.
DROP SCHEMA help_desk CASCADE;
SELECT bulwark.undeclare_machine('ticket');

-- Capabilities and roles are cluster-wide names another domain may
-- share: only those no remaining machine or role uses go.
-- +goose StatementBegin
DO $down$
BEGIN
    PERFORM bulwark.maintenance_begin('migration 00001_ticket_workflow down: remove the ticket domain');
    DELETE FROM bulwark.role_capabilities AS rc
    WHERE rc.capability IN ('ticket.create', 'ticket.wait', 'ticket.close')
      AND NOT EXISTS (SELECT FROM bulwark.actions AS a WHERE a.capability = rc.capability);
    DELETE FROM bulwark.principal_roles AS pr
    WHERE pr.role IN ('agent')
      AND NOT EXISTS (SELECT FROM bulwark.role_capabilities AS rc WHERE rc.role = pr.role);
    DELETE FROM bulwark.roles AS r
    WHERE r.name IN ('agent')
      AND NOT EXISTS (SELECT FROM bulwark.role_capabilities AS rc WHERE rc.role = r.name);
    DELETE FROM bulwark.capabilities AS c
    WHERE c.name IN ('ticket.create', 'ticket.wait', 'ticket.close')
      AND NOT EXISTS (SELECT FROM bulwark.actions AS a WHERE a.capability = c.name)
      AND NOT EXISTS (SELECT FROM bulwark.role_capabilities AS rc WHERE rc.capability = c.name);
    PERFORM bulwark.maintenance_end();
END
$down$;
-- +goose StatementEnd

RESET ROLE;
