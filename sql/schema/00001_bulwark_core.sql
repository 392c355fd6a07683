-- The reusable enforcement core: roles, principals, capabilities, state
-- machines as data, the write guard, the audit log, idempotency and the
-- maintenance switch. A domain puts its tables behind the boundary from its
-- own migration with bulwark.declare_* and bulwark.guard(); it copies no SQL.

-- +goose Up
-- Fail fast rather than queue behind a long transaction and block every
-- session that then queues behind this migration's locks.
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';

-- Roles are cluster-wide while this migration runs per database, so they are
-- created idempotently; a concurrent migration of another database may win
-- the race, which is fine.
-- +goose StatementBegin
DO $roles$
DECLARE
    v_role text;
BEGIN
    FOREACH v_role IN ARRAY ARRAY['bulwark_owner', 'bulwark_app', 'bulwark_jobs'] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = v_role) THEN
            BEGIN
                EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', v_role);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
    -- The migration role creates objects as bulwark_owner (SET ROLE below),
    -- so it must be a member. A superuser already is.
    IF NOT pg_catalog.pg_has_role(current_user, 'bulwark_owner', 'MEMBER') THEN
        EXECUTE pg_catalog.format('GRANT bulwark_owner TO %I', current_user);
    END IF;
END
$roles$;
-- +goose StatementEnd

CREATE SCHEMA bulwark AUTHORIZATION bulwark_owner;

-- Everything below is created by, and so owned by, bulwark_owner. Each
-- migration ends with RESET ROLE so goose records its version as the
-- migration role.
SET LOCAL ROLE bulwark_owner;

-- Functions are executable by PUBLIC unless revoked; new functions of
-- bulwark_owner start without that grant. Each function is also revoked
-- explicitly below, because verify checks the object, not the default.
ALTER DEFAULT PRIVILEGES FOR ROLE bulwark_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

REVOKE ALL ON SCHEMA bulwark FROM PUBLIC;
GRANT USAGE ON SCHEMA bulwark TO bulwark_app, bulwark_jobs;

COMMENT ON SCHEMA bulwark IS 'The bulwark enforcement core: principals, capabilities, state machines, audit log.';

------------------------------------------------------------------------------
-- Principals and capabilities
------------------------------------------------------------------------------

CREATE TABLE bulwark.principals (
    id         uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    active     boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    db_role    text,
    kind       text NOT NULL,
    name       text NOT NULL,
    CONSTRAINT principal_db_role CHECK (db_role IN ('bulwark_app', 'bulwark_jobs', 'bulwark_owner')),
    CONSTRAINT principal_kind CHECK (kind IN ('human', 'service')),
    CONSTRAINT principal_name_format CHECK (
        pg_catalog.char_length(name) BETWEEN 1 AND 200
        AND name = pg_catalog.btrim(name)
        AND name !~ '[[:cntrl:]]'
    ),
    CONSTRAINT principal_name_unique UNIQUE (name)
);

COMMENT ON TABLE bulwark.principals IS 'Who can act: humans and services. An inactive principal has no capabilities.';
COMMENT ON COLUMN bulwark.principals.kind IS 'human or service.';
COMMENT ON COLUMN bulwark.principals.db_role IS 'The database role a session must belong to for this principal to act: humans act through services (bulwark_app), the job principals through job runners (bulwark_jobs), bootstrap only from the migration role (bulwark_owner). NULL: from any session that may call the functions.';
COMMENT ON COLUMN bulwark.principals.active IS 'False disables every capability without touching grants.';

CREATE TABLE bulwark.capabilities (
    name          text PRIMARY KEY,
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    deprecated_at timestamptz,
    description   text NOT NULL,
    CONSTRAINT capability_name_format CHECK (
        name ~ '^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$'
        AND pg_catalog.char_length(name) <= 100
    ),
    CONSTRAINT capability_description_present CHECK (pg_catalog.char_length(pg_catalog.btrim(description)) BETWEEN 1 AND 1000)
);

COMMENT ON TABLE bulwark.capabilities IS 'What a principal may attempt, as resource.action. Never encodes state or condition; immutable once created, can only be deprecated.';

CREATE TABLE bulwark.capability_qualifiers (
    word text PRIMARY KEY,
    CONSTRAINT capability_qualifier_format CHECK (word ~ '^[a-z][a-z0-9]*$')
);

COMMENT ON TABLE bulwark.capability_qualifiers IS 'Words that make a capability name encode a condition (own, any, after...). The single source for the database and the Go registry.';

CREATE TABLE bulwark.roles (
    name       text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT role_name_format CHECK (name ~ '^[a-z][a-z0-9_]*$' AND pg_catalog.char_length(name) <= 100)
);

COMMENT ON TABLE bulwark.roles IS 'Domain roles: named bundles of capabilities. Not PostgreSQL roles.';

CREATE TABLE bulwark.role_capabilities (
    role       text NOT NULL REFERENCES bulwark.roles (name),
    capability text NOT NULL REFERENCES bulwark.capabilities (name),
    PRIMARY KEY (role, capability)
);

CREATE INDEX role_capabilities_capability ON bulwark.role_capabilities (capability);

CREATE TABLE bulwark.principal_roles (
    principal_id uuid NOT NULL REFERENCES bulwark.principals (id),
    role         text NOT NULL REFERENCES bulwark.roles (name),
    granted_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    granted_by   uuid REFERENCES bulwark.principals (id),
    PRIMARY KEY (principal_id, role)
);

CREATE INDEX principal_roles_role ON bulwark.principal_roles (role);

CREATE VIEW bulwark.principal_capabilities AS
SELECT DISTINCT
    pr.principal_id,
    rc.capability
FROM bulwark.principal_roles AS pr
JOIN bulwark.role_capabilities AS rc ON rc.role = pr.role
JOIN bulwark.principals AS p ON p.id = pr.principal_id
WHERE p.active;

COMMENT ON VIEW bulwark.principal_capabilities IS 'Each active principal''s effective capabilities through its roles.';

------------------------------------------------------------------------------
-- State machines as data
------------------------------------------------------------------------------

CREATE TABLE bulwark.machines (
    name          text PRIMARY KEY,
    initial_state text NOT NULL,
    CONSTRAINT machine_name_format CHECK (name ~ '^[a-z][a-z0-9_]*$' AND pg_catalog.char_length(name) <= 100)
);

COMMENT ON TABLE bulwark.machines IS 'A state machine: its states and transitions are data, enforced by trigger on every guarded table that uses it.';

CREATE TABLE bulwark.states (
    machine text NOT NULL REFERENCES bulwark.machines (name),
    name    text NOT NULL,
    PRIMARY KEY (machine, name),
    CONSTRAINT state_name_format CHECK (name ~ '^[a-z][a-z0-9_]*$' AND pg_catalog.char_length(name) <= 100)
);

-- Declared after bulwark.states exists; deferred because a machine and its
-- states are inserted in one transaction.
ALTER TABLE bulwark.machines
    ADD CONSTRAINT machine_initial_state_declared
    FOREIGN KEY (name, initial_state) REFERENCES bulwark.states (machine, name)
    DEFERRABLE INITIALLY DEFERRED;

CREATE TABLE bulwark.transitions (
    machine    text NOT NULL,
    from_state text NOT NULL,
    to_state   text NOT NULL,
    name       text NOT NULL,
    -- One edge per (from, to) pair, so the audit trigger can name any state
    -- change without guessing.
    PRIMARY KEY (machine, from_state, to_state),
    CONSTRAINT transition_name_unique_per_source UNIQUE (machine, name, from_state),
    CONSTRAINT transition_name_format CHECK (name ~ '^[a-z][a-z0-9_]*$' AND pg_catalog.char_length(name) <= 100),
    CONSTRAINT transition_from_declared FOREIGN KEY (machine, from_state) REFERENCES bulwark.states (machine, name),
    CONSTRAINT transition_to_declared FOREIGN KEY (machine, to_state) REFERENCES bulwark.states (machine, name)
);

COMMENT ON TABLE bulwark.transitions IS 'The legal state changes of each machine. A state change that is not listed here is refused (BWI01) whoever writes.';

CREATE TABLE bulwark.guarded_tables (
    relation     regclass PRIMARY KEY,
    guarded_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    machine      text NOT NULL REFERENCES bulwark.machines (name),
    state_column text NOT NULL
);

COMMENT ON TABLE bulwark.guarded_tables IS 'Registry of tables behind the boundary, filled by bulwark.guard(); read by bulwark verify.';

------------------------------------------------------------------------------
-- Audit log and idempotency
------------------------------------------------------------------------------

CREATE TABLE bulwark.transition_log (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id        uuid,
    at              timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    correlation_id  text,
    db_user         text NOT NULL DEFAULT session_user,
    entity_id       uuid,
    from_state      text,
    idempotency_key text,
    machine         text NOT NULL,
    note            text,
    to_state        text,
    transition      text NOT NULL
);

COMMENT ON TABLE bulwark.transition_log IS 'Append-only audit of every write to a guarded table and of grants; written by trigger. Ids increase in commit order per entity because the writer holds the entity''s row lock.';
COMMENT ON COLUMN bulwark.transition_log.from_state IS 'NULL on creation.';
COMMENT ON COLUMN bulwark.transition_log.db_user IS 'The database login that made the call: who asserted actor_id.';
COMMENT ON COLUMN bulwark.transition_log.correlation_id IS 'The caller''s correlation id (transaction setting bulwark.correlation_id), tying this row to the Go decision record.';
COMMENT ON COLUMN bulwark.transition_log.actor_id IS 'The principal that acted; NULL only for maintenance writes, whose note names the database user.';

CREATE INDEX transition_log_entity ON bulwark.transition_log (entity_id, id);

CREATE TABLE bulwark.idempotency_keys (
    actor_id     uuid NOT NULL REFERENCES bulwark.principals (id),
    key          text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    request_hash bytea NOT NULL,
    result       jsonb,
    PRIMARY KEY (actor_id, key),
    CONSTRAINT idempotency_key_format CHECK (pg_catalog.char_length(key) BETWEEN 1 AND 200 AND key !~ '[[:cntrl:]]')
);

COMMENT ON TABLE bulwark.idempotency_keys IS 'Idempotency keys, scoped per actor: the request they were first used with and the result it returned.';

------------------------------------------------------------------------------
-- Internal helpers (not executable by PUBLIC, bulwark_app or bulwark_jobs)
------------------------------------------------------------------------------

-- +goose StatementBegin
CREATE FUNCTION bulwark.raise(p_sqlstate text, p_message text, p_detail text DEFAULT NULL, p_hint text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- RAISE refuses NULL options, hence one branch per combination.
    IF p_detail IS NULL AND p_hint IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = p_sqlstate, MESSAGE = p_message;
    ELSIF p_hint IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = p_sqlstate, MESSAGE = p_message, DETAIL = p_detail;
    ELSIF p_detail IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = p_sqlstate, MESSAGE = p_message, HINT = p_hint;
    END IF;
    RAISE EXCEPTION USING ERRCODE = p_sqlstate, MESSAGE = p_message, DETAIL = p_detail, HINT = p_hint;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION bulwark.in_transition()
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_stack text;
BEGIN
    IF coalesce(pg_catalog.current_setting('bulwark.transition', true), '') <> 'on' THEN
        RETURN false;
    END IF;
    -- The flag is a setting, and a session can SET it by hand. So also
    -- require that the write happens inside a PL/pgSQL function owned by
    -- bulwark_owner (a transition function), found on the call stack: a
    -- statement typed at a session, or a DO block, has no such frame.
    GET DIAGNOSTICS v_stack = PG_CONTEXT;
    RETURN EXISTS (
        SELECT
        FROM pg_catalog.regexp_matches(v_stack, 'PL/pgSQL function ([^\n]*?\)) line', 'g') AS frame (m)
        JOIN pg_catalog.pg_proc AS p ON p.oid = pg_catalog.to_regprocedure(frame.m[1])
        WHERE p.proowner = 'bulwark_owner'::regrole
          AND p.prorettype <> 'pg_catalog.trigger'::pg_catalog.regtype
          AND p.oid <> 'bulwark.in_transition()'::pg_catalog.regprocedure
    );
END;
$$;
-- +goose StatementEnd

-- The boundary flag: on exactly while a transition function runs. The
-- functions set it on entry and restore it on exit; an error rolls it back
-- with the transaction or savepoint. (A function-level SET clause would be
-- neater, but PostgreSQL 15 lets only superusers pin custom settings that
-- way.) Setting it by hand is possible for the owner and is exactly what the
-- maintenance switch exists to make visible; the application roles have no
-- DML privileges for it to unlock.
-- +goose StatementBegin
CREATE FUNCTION bulwark.boundary_enter()
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_prev text := coalesce(pg_catalog.current_setting('bulwark.transition', true), '');
BEGIN
    PERFORM pg_catalog.set_config('bulwark.transition', 'on', true);
    RETURN v_prev;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION bulwark.boundary_leave(p_prev text)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_catalog.set_config('bulwark.transition', coalesce(p_prev, ''), true) $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION bulwark.maintenance_reason()
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
-- The switch is bound to the transaction that opened it: a value left from
-- another transaction does not count.
AS $$
    SELECT CASE
        WHEN pg_catalog.split_part(coalesce(pg_catalog.current_setting('bulwark.maintenance', true), ''), ':', 1)
             = pg_catalog.txid_current()::text
        THEN pg_catalog.substr(
            pg_catalog.current_setting('bulwark.maintenance', true),
            pg_catalog.strpos(pg_catalog.current_setting('bulwark.maintenance', true), ':') + 1)
    END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION bulwark.context_value(p_name text)
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT nullif(pg_catalog.current_setting('bulwark.' || p_name, true), '') $$;
-- +goose StatementEnd

-- Transition functions describe the change they are about to make, for the
-- audit trigger to record. The values are transaction-local and cleared by
-- bulwark.transition_end(); an error rolls them back with the transaction
-- (or savepoint).
-- +goose StatementBegin
CREATE FUNCTION bulwark.transition_begin(p_actor uuid, p_transition text, p_idem_key text, p_note text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_catalog.set_config('bulwark.actor', coalesce(p_actor::text, ''), true);
    PERFORM pg_catalog.set_config('bulwark.transition_name', coalesce(p_transition, ''), true);
    PERFORM pg_catalog.set_config('bulwark.idem_key', coalesce(p_idem_key, ''), true);
    PERFORM pg_catalog.set_config('bulwark.note', coalesce(p_note, ''), true);
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION bulwark.transition_end()
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.set_config('bulwark.actor', '', true),
           pg_catalog.set_config('bulwark.transition_name', '', true),
           pg_catalog.set_config('bulwark.idem_key', '', true),
           pg_catalog.set_config('bulwark.note', '', true);
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION bulwark.log_append(
    p_machine text,
    p_entity_id uuid,
    p_from_state text,
    p_to_state text,
    p_transition text,
    p_actor uuid,
    p_idem_key text,
    p_note text
)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO bulwark.transition_log (
        actor_id,
        correlation_id,
        entity_id,
        from_state,
        idempotency_key,
        machine,
        note,
        to_state,
        transition
    ) VALUES (
        p_actor,
        pg_catalog.left(bulwark.context_value('correlation_id'), 200),
        p_entity_id,
        p_from_state,
        p_idem_key,
        p_machine,
        p_note,
        p_to_state,
        p_transition
    );
$$;
-- +goose StatementEnd

-- Principals without the capability, unknown principals and inactive ones
-- are all refused the same way: none of them may attempt the action.
-- +goose StatementBegin
CREATE FUNCTION bulwark.require_capability(p_actor uuid, p_capability text)
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_db_role text;
BEGIN
    IF p_actor IS NULL OR NOT EXISTS (
        SELECT
        FROM bulwark.principal_capabilities AS pc
        WHERE pc.principal_id = p_actor
          AND pc.capability = p_capability
    ) THEN
        PERFORM bulwark.raise(
            'BWP01',
            pg_catalog.format('principal %s lacks capability %s', coalesce(p_actor::text, '(none)'), p_capability),
            pg_catalog.format('capability=%s', p_capability));
    END IF;
    -- p_actor is asserted by the caller: the service authenticated the
    -- person. The binding limits whom a session may assert: a job runner's
    -- credentials cannot act as a person or as bootstrap, a service's
    -- cannot act as the scheduler. (session_user: inside a SECURITY
    -- DEFINER function current_user is the owner.)
    SELECT p.db_role INTO v_db_role FROM bulwark.principals AS p WHERE p.id = p_actor;
    IF v_db_role IS NOT NULL AND NOT pg_catalog.pg_has_role(session_user, v_db_role, 'MEMBER') THEN
        PERFORM bulwark.raise(
            'BWP01',
            pg_catalog.format('principal %s acts only from a session in %s, not as %s', p_actor, v_db_role, session_user),
            pg_catalog.format('capability=%s', p_capability));
    END IF;
END;
$$;
-- +goose StatementEnd

-- Raises BWC01 when an entity's current version is not the one the caller
-- decided on: the optimistic-concurrency check every transition function
-- makes after locking the row (and after answering an idempotent replay).
-- A NULL expected version checks nothing.
-- +goose StatementBegin
CREATE FUNCTION bulwark.require_version(p_entity text, p_id uuid, p_current integer, p_expected integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_expected IS NOT NULL AND p_current IS DISTINCT FROM p_expected THEN
        PERFORM bulwark.raise(
            'BWC01',
            pg_catalog.format('%s %s is at version %s, not %s', p_entity, p_id, p_current, p_expected),
            pg_catalog.format('current_version=%s', p_current));
    END IF;
END;
$$;
-- +goose StatementEnd

-- Returns the state that transition p_transition of p_machine leads to
-- from p_from, or raises BWI01: the check every transition function makes
-- before it writes (the state-machine trigger would refuse the write too,
-- but only a state change, and with a less precise message).
-- +goose StatementBegin
CREATE FUNCTION bulwark.transition_target(p_machine text, p_transition text, p_from text)
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_to text;
BEGIN
    SELECT t.to_state INTO v_to
    FROM bulwark.transitions AS t
    WHERE t.machine = p_machine
      AND t.name = p_transition
      AND t.from_state = p_from;
    IF NOT FOUND THEN
        PERFORM bulwark.raise(
            'BWI01',
            pg_catalog.format('cannot %s a %s in state %s', p_transition, p_machine, coalesce(p_from, 'NULL')),
            pg_catalog.format('state=%s', p_from));
    END IF;
    RETURN v_to;
END;
$$;
-- +goose StatementEnd

-- The one rule for capability names, used by the capabilities trigger, by
-- machine declarations (a new state must not make an existing name illegal),
-- by the Go registry and by bulwark verify. NULL means the name is fine.
-- +goose StatementBegin
CREATE FUNCTION bulwark.capability_name_problem(p_name text)
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tokens text;
    v_word   text;
BEGIN
    IF p_name IS NULL OR p_name !~ '^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$' OR pg_catalog.char_length(p_name) > 100 THEN
        RETURN 'a capability is named resource.action in lower case (at most 100 characters)';
    END IF;
    -- Compare whole words: '_article_publish_draft_' contains '_draft_'.
    v_tokens := '_' || pg_catalog.replace(p_name, '.', '_') || '_';
    SELECT q.word INTO v_word
    FROM bulwark.capability_qualifiers AS q
    WHERE pg_catalog.strpos(v_tokens, '_' || q.word || '_') > 0
    -- Byte order, as the Go registry sorts, whatever the database collation.
    ORDER BY q.word COLLATE "C"
    LIMIT 1;
    IF FOUND THEN
        RETURN pg_catalog.format('"%s" encodes a condition ("%s"); a capability names only what may be attempted', p_name, v_word);
    END IF;
    SELECT s.name INTO v_word
    FROM bulwark.states AS s
    WHERE pg_catalog.strpos(v_tokens, '_' || s.name || '_') > 0
    ORDER BY s.name COLLATE "C"
    LIMIT 1;
    IF FOUND THEN
        RETURN pg_catalog.format('"%s" encodes the state "%s"; state belongs to policies and invariants, not capabilities', p_name, v_word);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

------------------------------------------------------------------------------
-- Trigger functions
------------------------------------------------------------------------------

-- Refuses writes that do not come from a transition function, whoever makes
-- them (the table owner and superusers included), except under the
-- maintenance switch. TG_ARGV[0] = 'audited' when the table's audit trigger
-- records the write; otherwise maintenance writes are logged here.
-- +goose StatementBegin
CREATE FUNCTION bulwark.trg_write_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_reason text;
    v_row    jsonb;
BEGIN
    IF bulwark.in_transition() THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    v_reason := bulwark.maintenance_reason();
    IF v_reason IS NULL THEN
        PERFORM bulwark.raise(
            'BWI04',
            pg_catalog.format('direct %s on %I.%I outside a transition function', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME),
            NULL,
            'change guarded data through its transition functions, or inside bulwark.maintenance_begin(reason)');
    END IF;
    IF coalesce(TG_ARGV[0], '') <> 'audited' THEN
        v_row := CASE WHEN TG_OP = 'DELETE' THEN pg_catalog.to_jsonb(OLD) ELSE pg_catalog.to_jsonb(NEW) END;
        PERFORM bulwark.log_append(
            'bulwark.maintenance',
            NULL,
            NULL,
            NULL,
            'maintenance_' || pg_catalog.lower(TG_OP),
            NULL,
            NULL,
            pg_catalog.left(pg_catalog.format('%s by %s on %I.%I: %s', v_reason, session_user, TG_TABLE_SCHEMA, TG_TABLE_NAME, v_row::text), 2000));
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION bulwark.trg_refuse_truncate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM bulwark.raise(
        'BWI04',
        pg_catalog.format('TRUNCATE of %I.%I is refused: it would bypass row guards and the audit log', TG_TABLE_SCHEMA, TG_TABLE_NAME));
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION bulwark.trg_append_only()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM bulwark.raise(
        'BWI02',
        pg_catalog.format('%I.%I is append-only: %s refused', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP));
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- TG_ARGV[0] = machine, TG_ARGV[1] = state column. Holds for everyone,
-- maintenance included: no path leaves the machine's graph.
-- +goose StatementBegin
CREATE FUNCTION bulwark.trg_state_machine()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_machine text := TG_ARGV[0];
    v_new     text := pg_catalog.to_jsonb(NEW) ->> TG_ARGV[1];
    v_old     text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF v_new IS DISTINCT FROM (SELECT m.initial_state FROM bulwark.machines AS m WHERE m.name = v_machine) THEN
            PERFORM bulwark.raise(
                'BWI01',
                pg_catalog.format('a new %s must start in its initial state, not %s', v_machine, coalesce(v_new, 'NULL')));
        END IF;
        RETURN NEW;
    END IF;
    v_old := pg_catalog.to_jsonb(OLD) ->> TG_ARGV[1];
    IF v_new IS DISTINCT FROM v_old AND NOT EXISTS (
        SELECT
        FROM bulwark.transitions AS t
        WHERE t.machine = v_machine
          AND t.from_state = v_old
          AND t.to_state = v_new
    ) THEN
        PERFORM bulwark.raise(
            'BWI01',
            pg_catalog.format('illegal %s transition %s -> %s', v_machine, coalesce(v_old, 'NULL'), coalesce(v_new, 'NULL')));
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

-- Every update bumps version: the optimistic-concurrency token cannot be
-- forgotten or set by hand.
-- +goose StatementBegin
CREATE FUNCTION bulwark.trg_bump_version()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.version := OLD.version + 1;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

-- One log row per write of a guarded row: per version, so no state changes
-- without a row. TG_ARGV[0] = machine, TG_ARGV[1] = state column.
-- +goose StatementBegin
CREATE FUNCTION bulwark.trg_audit()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_machine    text := TG_ARGV[0];
    v_old        text;
    v_new        text;
    v_row        jsonb;
    v_transition text;
    v_note       text;
    v_actor      uuid;
    v_idem_key   text;
    v_reason     text;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        v_old := pg_catalog.to_jsonb(OLD) ->> TG_ARGV[1];
    END IF;
    IF TG_OP <> 'DELETE' THEN
        v_row := pg_catalog.to_jsonb(NEW);
        v_new := v_row ->> TG_ARGV[1];
    ELSE
        v_row := pg_catalog.to_jsonb(OLD);
    END IF;
    v_reason := bulwark.maintenance_reason();
    IF bulwark.in_transition() THEN
        v_transition := bulwark.context_value('transition_name');
        v_note := bulwark.context_value('note');
        v_actor := bulwark.context_value('actor')::uuid;
        v_idem_key := bulwark.context_value('idem_key');
    ELSIF v_reason IS NOT NULL THEN
        v_transition := 'maintenance_' || pg_catalog.lower(TG_OP);
        v_note := pg_catalog.format('%s (by %s)', v_reason, session_user);
    END IF;
    IF v_transition IS NULL THEN
        SELECT t.name INTO v_transition
        FROM bulwark.transitions AS t
        WHERE t.machine = v_machine
          AND t.from_state = v_old
          AND t.to_state = v_new;
    END IF;
    PERFORM bulwark.log_append(
        v_machine,
        (v_row ->> 'id')::uuid,
        v_old,
        coalesce(v_new, v_old),
        coalesce(v_transition, pg_catalog.lower(TG_OP)),
        v_actor,
        v_idem_key,
        v_note);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION bulwark.trg_capability_rules()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_problem text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF bulwark.maintenance_reason() IS NULL THEN
            PERFORM bulwark.raise('BWI02', pg_catalog.format('capability %s cannot be deleted, only deprecated', OLD.name));
        END IF;
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF NEW.name IS DISTINCT FROM OLD.name
           OR NEW.description IS DISTINCT FROM OLD.description
           OR NEW.created_at IS DISTINCT FROM OLD.created_at
           OR (OLD.deprecated_at IS NOT NULL AND NEW.deprecated_at IS DISTINCT FROM OLD.deprecated_at) THEN
            PERFORM bulwark.raise(
                'BWI02',
                pg_catalog.format('capability %s is immutable; it can only be deprecated', OLD.name));
        END IF;
        RETURN NEW;
    END IF;
    v_problem := bulwark.capability_name_problem(NEW.name);
    IF v_problem IS NOT NULL THEN
        PERFORM bulwark.raise('BWI03', 'capability refused: ' || v_problem, pg_catalog.format('capability=%s', NEW.name));
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

-- A new state must not turn an existing capability name into one that
-- encodes state.
-- +goose StatementBegin
CREATE FUNCTION bulwark.trg_state_rules()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_capability text;
BEGIN
    SELECT c.name INTO v_capability
    FROM bulwark.capabilities AS c
    WHERE pg_catalog.strpos('_' || pg_catalog.replace(c.name, '.', '_') || '_', '_' || NEW.name || '_') > 0
    ORDER BY c.name
    LIMIT 1;
    IF FOUND THEN
        PERFORM bulwark.raise(
            'BWI03',
            pg_catalog.format('state %s of machine %s would make capability %s encode state', NEW.name, NEW.machine, v_capability));
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION bulwark.trg_notify_grants()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Payload '*' tells listeners to drop every cached principal: a role's
    -- capabilities changed. NOTIFY is delivered at commit, so listeners
    -- never see a change that rolled back.
    PERFORM pg_catalog.pg_notify('bulwark_grants', '*');
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

------------------------------------------------------------------------------
-- The boundary: protect() and guard()
------------------------------------------------------------------------------

-- protect() puts a table behind the write guard without a state machine:
-- DML only from transition functions (or under the maintenance switch), no
-- TRUNCATE, no DML grants for the application roles.
-- +goose StatementBegin
CREATE FUNCTION bulwark.protect(p_table regclass, p_audited boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER bulwark_10_write_guard BEFORE INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION bulwark.trg_write_guard(%L)',
        p_table, CASE WHEN p_audited THEN 'audited' ELSE 'logged' END);
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER bulwark_truncate BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION bulwark.trg_refuse_truncate()',
        p_table);
    EXECUTE pg_catalog.format(
        'REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON %s FROM PUBLIC, bulwark_app, bulwark_jobs',
        p_table);
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION bulwark.guard(p_table regclass, p_machine text, p_state_column text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_boundary text := bulwark.boundary_enter();
BEGIN
    IF NOT EXISTS (SELECT FROM bulwark.machines AS m WHERE m.name = p_machine) THEN
        PERFORM bulwark.raise('BWN01', pg_catalog.format('no state machine %s', p_machine));
    END IF;
    -- The triggers rely on these columns; refuse a table that lacks them now
    -- rather than at its first write.
    IF NOT EXISTS (
        SELECT FROM pg_catalog.pg_attribute AS a
        WHERE a.attrelid = p_table AND a.attname = p_state_column AND NOT a.attisdropped
          AND a.atttypid = 'pg_catalog.text'::pg_catalog.regtype
    ) THEN
        PERFORM bulwark.raise('22023', pg_catalog.format('%s has no text column %s', p_table, p_state_column));
    END IF;
    IF NOT EXISTS (
        SELECT FROM pg_catalog.pg_attribute AS a
        WHERE a.attrelid = p_table AND a.attname = 'version' AND NOT a.attisdropped
          AND a.atttypid = 'pg_catalog.int4'::pg_catalog.regtype
    ) OR NOT EXISTS (
        SELECT FROM pg_catalog.pg_attribute AS a
        WHERE a.attrelid = p_table AND a.attname = 'id' AND NOT a.attisdropped
          AND a.atttypid = 'pg_catalog.uuid'::pg_catalog.regtype
    ) THEN
        PERFORM bulwark.raise('22023', pg_catalog.format('%s needs columns id uuid and version integer', p_table));
    END IF;

    PERFORM bulwark.protect(p_table, true);
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER bulwark_20_state_machine BEFORE INSERT OR UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION bulwark.trg_state_machine(%L, %L)',
        p_table, p_machine, p_state_column);
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER bulwark_30_version BEFORE UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION bulwark.trg_bump_version()',
        p_table);
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER bulwark_90_audit AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION bulwark.trg_audit(%L, %L)',
        p_table, p_machine, p_state_column);
    INSERT INTO bulwark.guarded_tables (relation, machine, state_column)
    VALUES (p_table, p_machine, p_state_column);
    PERFORM bulwark.boundary_leave(v_boundary);
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION bulwark.guard(regclass, text, text) IS 'Puts a table behind the boundary: state machine, version, audit, write guard, no TRUNCATE, no DML for application roles; records it for bulwark verify. Call from a migration as the table owner.';

-- +goose StatementBegin
CREATE FUNCTION bulwark.unguard(p_table regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_boundary text := bulwark.boundary_enter();
BEGIN
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS bulwark_10_write_guard ON %s', p_table);
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS bulwark_truncate ON %s', p_table);
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS bulwark_20_state_machine ON %s', p_table);
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS bulwark_30_version ON %s', p_table);
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS bulwark_90_audit ON %s', p_table);
    DELETE FROM bulwark.guarded_tables WHERE relation = p_table;
    PERFORM bulwark.boundary_leave(v_boundary);
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION bulwark.unguard(regclass) IS 'Undoes bulwark.guard() in a Down migration, before the table is dropped.';

------------------------------------------------------------------------------
-- The maintenance switch
------------------------------------------------------------------------------

-- +goose StatementBegin
CREATE FUNCTION bulwark.maintenance_begin(p_reason text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_reason IS NULL OR pg_catalog.char_length(pg_catalog.btrim(p_reason)) NOT BETWEEN 3 AND 500 THEN
        PERFORM bulwark.raise('22023', 'maintenance needs a reason of 3 to 500 characters');
    END IF;
    PERFORM pg_catalog.set_config('bulwark.maintenance', pg_catalog.txid_current()::text || ':' || p_reason, true);
    PERFORM bulwark.log_append(
        'bulwark.maintenance', NULL, NULL, 'open', 'maintenance_begin', NULL, NULL,
        pg_catalog.format('%s (by %s)', p_reason, session_user));
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION bulwark.maintenance_begin(text) IS 'Opens the maintenance switch until the end of the transaction: direct writes to guarded tables are allowed and each one is logged. State machines still hold.';

-- +goose StatementBegin
CREATE FUNCTION bulwark.maintenance_end()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF bulwark.maintenance_reason() IS NOT NULL THEN
        PERFORM bulwark.log_append(
            'bulwark.maintenance', NULL, 'open', 'closed', 'maintenance_end', NULL, NULL,
            pg_catalog.format('%s (by %s)', bulwark.maintenance_reason(), session_user));
        PERFORM pg_catalog.set_config('bulwark.maintenance', '', true);
    END IF;
END;
$$;
-- +goose StatementEnd

------------------------------------------------------------------------------
-- Declarations, for migrations (owner only)
------------------------------------------------------------------------------

-- +goose StatementBegin
CREATE FUNCTION bulwark.declare_machine(p_name text, p_initial_state text, p_states text[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_boundary text := bulwark.boundary_enter();
BEGIN
    IF NOT p_initial_state = ANY (p_states) THEN
        PERFORM bulwark.raise('22023', pg_catalog.format('initial state %s is not among the states of %s', p_initial_state, p_name));
    END IF;
    INSERT INTO bulwark.machines (name, initial_state) VALUES (p_name, p_initial_state);
    INSERT INTO bulwark.states (machine, name)
    SELECT p_name, s FROM pg_catalog.unnest(p_states) AS s;
    PERFORM bulwark.boundary_leave(v_boundary);
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION bulwark.declare_transition(p_machine text, p_name text, p_from_state text, p_to_state text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_boundary text := bulwark.boundary_enter();
BEGIN
    INSERT INTO bulwark.transitions (machine, name, from_state, to_state)
    VALUES (p_machine, p_name, p_from_state, p_to_state);
    PERFORM bulwark.boundary_leave(v_boundary);
END;
$$;
-- +goose StatementEnd

-- Idempotent for the same meaning, so a domain's Down and Up can run again;
-- a different description for an existing name is a redefinition and fails.
-- +goose StatementBegin
CREATE FUNCTION bulwark.declare_capability(p_name text, p_description text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_boundary text := bulwark.boundary_enter();
    v_existing text;
BEGIN
    SELECT c.description INTO v_existing FROM bulwark.capabilities AS c WHERE c.name = p_name;
    IF FOUND THEN
        IF v_existing IS DISTINCT FROM p_description THEN
            PERFORM bulwark.raise('BWI02', pg_catalog.format('capability %s exists with another meaning; capabilities are never redefined', p_name));
        END IF;
        PERFORM bulwark.boundary_leave(v_boundary);
        RETURN;
    END IF;
    INSERT INTO bulwark.capabilities (name, description) VALUES (p_name, p_description);
    PERFORM bulwark.boundary_leave(v_boundary);
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION bulwark.declare_role(p_name text, p_capabilities text[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_boundary text := bulwark.boundary_enter();
    v_missing text;
BEGIN
    SELECT c INTO v_missing
    FROM pg_catalog.unnest(p_capabilities) AS c
    WHERE NOT EXISTS (SELECT FROM bulwark.capabilities AS k WHERE k.name = c AND k.deprecated_at IS NULL)
    LIMIT 1;
    IF FOUND THEN
        PERFORM bulwark.raise('BWN01', pg_catalog.format('role %s: no such (or deprecated) capability %s', p_name, v_missing));
    END IF;
    INSERT INTO bulwark.roles (name) VALUES (p_name) ON CONFLICT DO NOTHING;
    INSERT INTO bulwark.role_capabilities (role, capability)
    SELECT p_name, c FROM pg_catalog.unnest(p_capabilities) AS c
    ON CONFLICT DO NOTHING;
    PERFORM bulwark.boundary_leave(v_boundary);
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION bulwark.declare_principal(p_kind text, p_name text, p_roles text[], p_db_role text)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_boundary text := bulwark.boundary_enter();
    v_id uuid;
BEGIN
    INSERT INTO bulwark.principals (kind, name, db_role) VALUES (p_kind, p_name, p_db_role) RETURNING id INTO v_id;
    INSERT INTO bulwark.principal_roles (principal_id, role)
    SELECT v_id, r FROM pg_catalog.unnest(p_roles) AS r;
    PERFORM bulwark.log_append('bulwark.principal', v_id, NULL, 'active', 'declare', NULL, NULL,
        pg_catalog.format('declared by migration (%s) with roles %s', session_user, p_roles::text));
    PERFORM bulwark.boundary_leave(v_boundary);
    RETURN v_id;
END;
$$;
-- +goose StatementEnd

-- Removes a machine and its states in a domain's Down migration; refused
-- while a guarded table still uses it.
-- +goose StatementBegin
CREATE FUNCTION bulwark.undeclare_machine(p_name text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_boundary text := bulwark.boundary_enter();
BEGIN
    -- machines -> states is deferred, so states can go first.
    DELETE FROM bulwark.transitions WHERE machine = p_name;
    DELETE FROM bulwark.states WHERE machine = p_name;
    DELETE FROM bulwark.machines WHERE name = p_name;
    PERFORM bulwark.boundary_leave(v_boundary);
END;
$$;
-- +goose StatementEnd

------------------------------------------------------------------------------
-- Idempotency helpers, for transition functions
------------------------------------------------------------------------------

-- Claims p_key for p_actor. The request is what the caller asked for (the
-- function, the target, the arguments), not the version it expected: a
-- retry decided on a fresher snapshot is still the same request. Returns
-- NULL when the caller owns the key and
-- must do the work; returns the stored result when this exact request ran
-- before; raises BWC02 when the key was used for a different request. A
-- concurrent claimant waits on the unique index until the first commits or
-- rolls back, so one key applies once.
-- +goose StatementBegin
CREATE FUNCTION bulwark.idempotency_claim(p_actor uuid, p_key text, p_request jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_hash   bytea := pg_catalog.sha256(pg_catalog.convert_to(p_request::text, 'UTF8'));
    v_stored bulwark.idempotency_keys;
BEGIN
    IF p_key IS NULL THEN
        RETURN NULL;
    END IF;
    IF pg_catalog.char_length(p_key) NOT BETWEEN 1 AND 200 OR p_key ~ '[[:cntrl:]]' THEN
        PERFORM bulwark.raise('22023', 'an idempotency key has 1 to 200 printable characters');
    END IF;
    INSERT INTO bulwark.idempotency_keys (actor_id, key, request_hash)
    VALUES (p_actor, p_key, v_hash)
    ON CONFLICT (actor_id, key) DO NOTHING;
    IF FOUND THEN
        RETURN NULL;
    END IF;
    SELECT * INTO v_stored FROM bulwark.idempotency_keys AS k WHERE k.actor_id = p_actor AND k.key = p_key;
    IF v_stored.request_hash <> v_hash OR v_stored.result IS NULL THEN
        PERFORM bulwark.raise(
            'BWC02',
            'idempotency key reused with different arguments',
            pg_catalog.format('key=%s', p_key));
    END IF;
    RETURN v_stored.result;
END;
$$;
-- +goose StatementEnd

-- Whether p_actor has used p_key (in a committed call, or earlier in this
-- transaction). The gate asks before running a policy: a used key is
-- answered by the transition function (the stored result, or a conflict),
-- never decided again on a state the first call already changed.
-- +goose StatementBegin
CREATE FUNCTION bulwark.idempotency_key_used(p_actor uuid, p_key text)
RETURNS boolean
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (
        SELECT FROM bulwark.idempotency_keys AS k
        WHERE k.actor_id = p_actor
          AND k.key = p_key
    )
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION bulwark.idempotency_complete(p_actor uuid, p_key text, p_result jsonb)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE bulwark.idempotency_keys
    SET result = p_result
    WHERE actor_id = p_actor
      AND key = p_key;
$$;
-- +goose StatementEnd

------------------------------------------------------------------------------
-- The SQL API for principals and grants
------------------------------------------------------------------------------

-- +goose StatementBegin
CREATE FUNCTION bulwark.principal_id(p_name text)
RETURNS uuid
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT p.id FROM bulwark.principals AS p WHERE p.name = p_name $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION bulwark.principal_create(p_actor uuid, p_kind text, p_name text)
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_boundary text := bulwark.boundary_enter();
    v_id uuid;
BEGIN
    PERFORM bulwark.require_capability(p_actor, 'principal.create');
    IF p_kind IS NULL OR p_kind NOT IN ('human', 'service') THEN
        PERFORM bulwark.raise('22023', pg_catalog.format('unknown principal kind %s; use human or service', coalesce(p_kind, 'NULL')));
    END IF;
    IF p_name IS NULL OR pg_catalog.char_length(p_name) NOT BETWEEN 1 AND 200 OR p_name <> pg_catalog.btrim(p_name) OR p_name ~ '[[:cntrl:]]' THEN
        PERFORM bulwark.raise('22023', 'a principal name has 1 to 200 printable characters without surrounding spaces');
    END IF;
    -- A person acts through a service (bulwark_app); a service principal
    -- made at run time is bound to nothing until a migration says so.
    INSERT INTO bulwark.principals (kind, name, db_role)
    VALUES (p_kind, p_name, CASE WHEN p_kind = 'human' THEN 'bulwark_app' END)
    RETURNING id INTO v_id;
    PERFORM bulwark.log_append('bulwark.principal', v_id, NULL, 'active', 'create', p_actor, NULL, p_kind || ' ' || p_name);
    PERFORM bulwark.boundary_leave(v_boundary);
    RETURN v_id;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION bulwark.role_grant(p_actor uuid, p_principal uuid, p_role text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_boundary text := bulwark.boundary_enter();
BEGIN
    PERFORM bulwark.require_capability(p_actor, 'role.grant');
    IF NOT EXISTS (SELECT FROM bulwark.principals AS p WHERE p.id = p_principal) THEN
        PERFORM bulwark.raise('BWN01', pg_catalog.format('no principal %s', coalesce(p_principal::text, 'NULL')));
    END IF;
    IF NOT EXISTS (SELECT FROM bulwark.roles AS r WHERE r.name = p_role) THEN
        PERFORM bulwark.raise('BWN01', pg_catalog.format('no role %s', coalesce(p_role, 'NULL')));
    END IF;
    INSERT INTO bulwark.principal_roles (principal_id, role, granted_by)
    VALUES (p_principal, p_role, p_actor)
    ON CONFLICT DO NOTHING;
    -- Granting a role the principal already holds changes nothing and logs nothing.
    IF FOUND THEN
        PERFORM bulwark.log_append('bulwark.principal_role', p_principal, NULL, 'granted', 'role_grant', p_actor, NULL, 'role=' || p_role);
        PERFORM pg_catalog.pg_notify('bulwark_grants', p_principal::text);
    END IF;
    PERFORM bulwark.boundary_leave(v_boundary);
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION bulwark.role_revoke(p_actor uuid, p_principal uuid, p_role text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_boundary text := bulwark.boundary_enter();
BEGIN
    PERFORM bulwark.require_capability(p_actor, 'role.revoke');
    IF NOT EXISTS (SELECT FROM bulwark.principals AS p WHERE p.id = p_principal) THEN
        PERFORM bulwark.raise('BWN01', pg_catalog.format('no principal %s', coalesce(p_principal::text, 'NULL')));
    END IF;
    IF NOT EXISTS (SELECT FROM bulwark.roles AS r WHERE r.name = p_role) THEN
        PERFORM bulwark.raise('BWN01', pg_catalog.format('no role %s', coalesce(p_role, 'NULL')));
    END IF;
    DELETE FROM bulwark.principal_roles WHERE principal_id = p_principal AND role = p_role;
    IF FOUND THEN
        PERFORM bulwark.log_append('bulwark.principal_role', p_principal, 'granted', 'revoked', 'role_revoke', p_actor, NULL, 'role=' || p_role);
        PERFORM pg_catalog.pg_notify('bulwark_grants', p_principal::text);
    END IF;
    PERFORM bulwark.boundary_leave(v_boundary);
END;
$$;
-- +goose StatementEnd

------------------------------------------------------------------------------
-- Attach the rules to the core's own tables
------------------------------------------------------------------------------

CREATE TRIGGER bulwark_capability_rules
BEFORE INSERT OR UPDATE OR DELETE ON bulwark.capabilities
FOR EACH ROW EXECUTE FUNCTION bulwark.trg_capability_rules();

CREATE TRIGGER bulwark_state_rules
BEFORE INSERT OR UPDATE ON bulwark.states
FOR EACH ROW EXECUTE FUNCTION bulwark.trg_state_rules();

CREATE TRIGGER bulwark_notify_grants
AFTER INSERT OR UPDATE OR DELETE ON bulwark.role_capabilities
FOR EACH STATEMENT EXECUTE FUNCTION bulwark.trg_notify_grants();

CREATE TRIGGER bulwark_notify_principals
AFTER UPDATE OR DELETE ON bulwark.principals
FOR EACH STATEMENT EXECUTE FUNCTION bulwark.trg_notify_grants();

CREATE TRIGGER bulwark_append_only
BEFORE UPDATE OR DELETE ON bulwark.transition_log
FOR EACH ROW EXECUTE FUNCTION bulwark.trg_append_only();

CREATE TRIGGER bulwark_append_only_truncate
BEFORE TRUNCATE ON bulwark.transition_log
FOR EACH STATEMENT EXECUTE FUNCTION bulwark.trg_append_only();

SELECT bulwark.protect('bulwark.principals');
SELECT bulwark.protect('bulwark.capabilities');
SELECT bulwark.protect('bulwark.capability_qualifiers');
SELECT bulwark.protect('bulwark.roles');
SELECT bulwark.protect('bulwark.role_capabilities');
SELECT bulwark.protect('bulwark.principal_roles');
SELECT bulwark.protect('bulwark.machines');
SELECT bulwark.protect('bulwark.states');
SELECT bulwark.protect('bulwark.transitions');
SELECT bulwark.protect('bulwark.guarded_tables');
SELECT bulwark.protect('bulwark.idempotency_keys');

REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON bulwark.transition_log FROM PUBLIC, bulwark_app, bulwark_jobs;

GRANT SELECT ON
    bulwark.principals,
    bulwark.capabilities,
    bulwark.capability_qualifiers,
    bulwark.roles,
    bulwark.role_capabilities,
    bulwark.principal_roles,
    bulwark.principal_capabilities,
    bulwark.machines,
    bulwark.states,
    bulwark.transitions,
    bulwark.guarded_tables,
    bulwark.transition_log
TO bulwark_app, bulwark_jobs;

-- Explicit, whatever the default privileges say: internal helpers are
-- callable only by their owner.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA bulwark FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    bulwark.principal_id(text),
    bulwark.principal_create(uuid, text, text),
    bulwark.role_grant(uuid, uuid, text),
    bulwark.role_revoke(uuid, uuid, text),
    bulwark.capability_name_problem(text),
    bulwark.idempotency_key_used(uuid, text)
TO bulwark_app, bulwark_jobs;

------------------------------------------------------------------------------
-- Seed: qualifiers, the core capabilities, admin and bootstrap
------------------------------------------------------------------------------

-- +goose StatementBegin
DO $seed$
BEGIN
    PERFORM bulwark.maintenance_begin('migration 00001_bulwark_core: seed capability qualifiers');
    INSERT INTO bulwark.capability_qualifiers (word)
    SELECT w FROM pg_catalog.unnest(ARRAY[
        'after', 'all', 'any', 'before', 'during', 'if', 'mine', 'only', 'own', 'owned',
        'self', 'unless', 'until', 'when', 'while'
    ]) AS w;
    PERFORM bulwark.maintenance_end();
END
$seed$;
-- +goose StatementEnd

SELECT bulwark.declare_capability('principal.create', 'Create a principal (a human or a service).');
SELECT bulwark.declare_capability('role.grant', 'Grant a domain role to a principal.');
SELECT bulwark.declare_capability('role.revoke', 'Revoke a domain role from a principal.');
SELECT bulwark.declare_role('admin', ARRAY['principal.create', 'role.grant', 'role.revoke']);
-- bootstrap acts only from the migration role: an application or job
-- credential cannot use it to grant itself anything.
SELECT bulwark.declare_principal('service', 'bootstrap', ARRAY['admin'], 'bulwark_owner');

RESET ROLE;

-- +goose Down
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';
SET LOCAL ROLE bulwark_owner;
DROP SCHEMA bulwark CASCADE;
-- Restores the default (EXECUTE for PUBLIC) so no pg_default_acl entry is
-- left behind. The roles stay: they are cluster-wide and other databases
-- may use them.
ALTER DEFAULT PRIVILEGES FOR ROLE bulwark_owner GRANT EXECUTE ON FUNCTIONS TO PUBLIC;
RESET ROLE;
