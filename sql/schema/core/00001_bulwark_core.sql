-- The reusable enforcement core: roles, principals, capabilities, state
-- machines and their transitions as data, the transition engine, the audit
-- log, idempotency, the maintenance switch and the enforcement contract. A
-- domain puts its tables behind the boundary from its own migration with
-- bulwark.declare_* and bulwark.guard(); it copies no SQL.
--
-- The boundary is an identity, not a text: every write to a guarded table
-- must come from code owned by bulwark_engine, a NOLOGIN role with no
-- members. The write guard recognises it as current_user (inside a SECURITY
-- DEFINER function current_user is the function's owner), in O(1), in any
-- server language. Nobody can become bulwark_engine: not a member of
-- bulwark_owner (SET ROLE is refused, granting oneself membership needs
-- superuser or CREATEROLE), not an application login. The engine's code is
-- generated from declarations (bulwark.declare_*), each of which is logged.

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
    FOREACH v_role IN ARRAY ARRAY['bulwark_owner', 'bulwark_app', 'bulwark_jobs', 'bulwark_engine'] LOOP
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
    -- The engine's first functions are created here and handed to
    -- bulwark_engine, which needs membership for a moment unless the
    -- migration role is a superuser. The membership is revoked at the end of
    -- this migration, in the same transaction: it is never visible.
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user)
       AND NOT pg_catalog.pg_has_role(current_user, 'bulwark_engine', 'MEMBER') THEN
        EXECUTE pg_catalog.format('GRANT bulwark_engine TO %I', current_user);
    END IF;
END
$roles$;
-- +goose StatementEnd

CREATE SCHEMA bulwark AUTHORIZATION bulwark_owner;

-- Everything below is created by, and so owned by, bulwark_owner, except the
-- engine's functions, which are handed to bulwark_engine. Each migration
-- ends with RESET ROLE so goose records its version as the migration role.
SET LOCAL ROLE bulwark_owner;

-- Functions are executable by PUBLIC unless revoked; new functions of
-- bulwark_owner and bulwark_engine start without that grant. Each function
-- is also revoked explicitly below, because verify checks the object.
ALTER DEFAULT PRIVILEGES FOR ROLE bulwark_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

REVOKE ALL ON SCHEMA bulwark FROM PUBLIC;
GRANT USAGE ON SCHEMA bulwark TO bulwark_app, bulwark_jobs;
-- The engine creates the code it generates here.
GRANT USAGE, CREATE ON SCHEMA bulwark TO bulwark_engine;

COMMENT ON SCHEMA bulwark IS 'The bulwark enforcement core: principals, capabilities, state machines, the transition engine, audit log.';

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
    -- NFKC, no control or Unicode format characters (zero-width, bidi
    -- controls, tags), no letters of Latin mixed with Cyrillic or Greek
    -- (alice beside a Cyrillic-a alice): one name, one look.
    CONSTRAINT principal_name_format CHECK (
        pg_catalog.char_length(name) BETWEEN 1 AND 200
        AND name = pg_catalog.btrim(name)
        AND name !~ '[[:cntrl:]]'
        AND name IS NFKC NORMALIZED
        AND name !~ '[\u00AD\u061C\u180E\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF\uFFF9-\uFFFB]'
        AND NOT (name ~ '[A-Za-z]' AND name ~ '[\u0370-\u03FF\u0400-\u052F]')
    ),
    CONSTRAINT principal_name_unique UNIQUE (name)
);

COMMENT ON TABLE bulwark.principals IS 'Who can act: humans and services. An inactive principal has no capabilities.';
COMMENT ON COLUMN bulwark.principals.kind IS 'human or service.';
COMMENT ON COLUMN bulwark.principals.db_role IS 'The database role a session must belong to for this principal to act: humans act through services (bulwark_app), the job principals through job runners (bulwark_jobs), bootstrap only from the migration role (bulwark_owner). NULL: from any session that may call the functions.';
COMMENT ON COLUMN bulwark.principals.active IS 'False disables every capability without touching grants.';
COMMENT ON COLUMN bulwark.principals.name IS '1 to 200 characters, NFKC-normalised, without control or format characters, not mixing Latin with Cyrillic or Greek letters.';

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
    CONSTRAINT capability_qualifier_format CHECK (word ~ '^[a-z][a-z0-9]*$' AND pg_catalog.char_length(word) <= 100)
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
-- State machines, transitions and actions as data
------------------------------------------------------------------------------

CREATE TABLE bulwark.machines (
    name          text PRIMARY KEY,
    initial_state text NOT NULL,
    pins_versions boolean NOT NULL DEFAULT true,
    CONSTRAINT machine_name_format CHECK (name ~ '^[a-z][a-z0-9_]*$' AND pg_catalog.char_length(name) <= 60)
);

COMMENT ON TABLE bulwark.machines IS 'A state machine: its states, transitions and actions are data, enforced by the engine and by trigger on every guarded table that uses it.';
COMMENT ON COLUMN bulwark.machines.pins_versions IS 'Whether every action but a create must name the version its caller decided on (the engine refuses a NULL expected version with 22023). Off only for a machine whose callers act on a token instead, such as the schedule endings.';

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

-- What may be attempted on a machine's entities, with the capability it
-- needs: create (insert in the initial state), transition (move along the
-- edges of bulwark.transitions that carry its name), update (change
-- columns, never the state).
CREATE TABLE bulwark.actions (
    machine    text NOT NULL REFERENCES bulwark.machines (name),
    name       text NOT NULL,
    capability text NOT NULL REFERENCES bulwark.capabilities (name),
    kind       text NOT NULL,
    PRIMARY KEY (machine, name),
    CONSTRAINT action_kind CHECK (kind IN ('create', 'transition', 'update')),
    CONSTRAINT action_name_format CHECK (name ~ '^[a-z][a-z0-9_]*$' AND pg_catalog.char_length(name) <= 100)
);

COMMENT ON TABLE bulwark.actions IS 'Every action of every machine and the capability it needs: the one declaration the engine, bulwark verify, the Go layers and the docs read.';

CREATE TABLE bulwark.transitions (
    machine    text NOT NULL,
    from_state text NOT NULL,
    to_state   text NOT NULL,
    name       text NOT NULL,
    -- One edge per (from, to) pair, so the audit can name any state change
    -- without guessing.
    PRIMARY KEY (machine, from_state, to_state),
    CONSTRAINT transition_name_unique_per_source UNIQUE (machine, name, from_state),
    CONSTRAINT transition_name_format CHECK (name ~ '^[a-z][a-z0-9_]*$' AND pg_catalog.char_length(name) <= 100),
    CONSTRAINT transition_from_declared FOREIGN KEY (machine, from_state) REFERENCES bulwark.states (machine, name),
    CONSTRAINT transition_to_declared FOREIGN KEY (machine, to_state) REFERENCES bulwark.states (machine, name),
    CONSTRAINT transition_action_declared FOREIGN KEY (machine, name) REFERENCES bulwark.actions (machine, name)
);

COMMENT ON TABLE bulwark.transitions IS 'The legal state changes of each machine, each named by its action. A state change that is not listed here is refused (BWI01) whoever writes.';

-- The rules an action's engine code runs, in order (id). Their SQL is
-- spliced into code that runs as bulwark_engine: declaring one is logged,
-- and only bulwark_owner may declare.
--   arg_check:  a boolean over the arguments, before the row is locked
--   row_check:  a boolean over the locked row r and the target state v_to
--   set:        column := expression, on the action's write
--   after:      a statement run after the write (r is the new row)
-- Names usable in the SQL: p_actor, p_id, p_expected_version, p_args
-- (jsonb), p_note, r, v_to. A check with no action applies to every action
-- but creation; a set rule with no action to every update and transition.
CREATE TABLE bulwark.action_rules (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    machine  text NOT NULL REFERENCES bulwark.machines (name),
    action   text,
    body     text NOT NULL,
    col      text,
    kind     text NOT NULL,
    message  text,
    sqlstate text,
    CONSTRAINT action_rule_action_declared FOREIGN KEY (machine, action) REFERENCES bulwark.actions (machine, name),
    CONSTRAINT action_rule_kind CHECK (kind IN ('arg_check', 'row_check', 'set', 'after')),
    CONSTRAINT action_rule_shape CHECK (
        (kind IN ('arg_check', 'row_check')) = (sqlstate IS NOT NULL AND message IS NOT NULL)
        AND (kind = 'set') = (col IS NOT NULL)
        AND (action IS NOT NULL OR kind <> 'after')
    ),
    CONSTRAINT action_rule_sqlstate CHECK (sqlstate ~ '^[0-9A-Z]{5}$'),
    CONSTRAINT action_rule_length CHECK (
        pg_catalog.char_length(body) <= 4000 AND pg_catalog.char_length(message) <= 1000 AND pg_catalog.char_length(col) <= 63
    ),
    -- A rule is one expression spliced into engine code: never a statement
    -- separator or a comment, whoever writes the row (declare_rule says so
    -- first, with a message).
    CONSTRAINT action_rule_one_expression CHECK (body !~ ';|--|/[*]' AND message !~ ';|--|/[*]'),
    -- The engine splices an after rule in as a statement: one call.
    CONSTRAINT action_rule_after_shape CHECK (
        kind <> 'after' OR body ~ '^[[:space:]]*PERFORM[[:space:]]+[a-z_][a-z0-9_]*[.][a-z_][a-z0-9_]*[[:space:]]*[(]'
    )
);

COMMENT ON TABLE bulwark.action_rules IS 'Checks, column assignments and after-statements of each action, in order; a set rule with no action applies to every update of the machine. Generated into the machine''s engine functions.';

CREATE TABLE bulwark.guarded_tables (
    relation     regclass PRIMARY KEY,
    guarded_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    machine      text NOT NULL UNIQUE REFERENCES bulwark.machines (name),
    state_column text NOT NULL
);

COMMENT ON TABLE bulwark.guarded_tables IS 'Registry of tables behind the boundary, one per machine, filled by bulwark.guard(); read by the engine and bulwark verify.';

CREATE TABLE bulwark.api_functions (
    function regprocedure PRIMARY KEY,
    action   text NOT NULL,
    machine  text NOT NULL,
    CONSTRAINT api_function_action_declared FOREIGN KEY (machine, action) REFERENCES bulwark.actions (machine, name)
);

COMMENT ON TABLE bulwark.api_functions IS 'The typed SQL API of each action (what sqlc calls), registered by bulwark.declare_api(), which grants EXECUTE to the application and job roles.';

------------------------------------------------------------------------------
-- Audit log, maintenance, idempotency
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
    transition      text NOT NULL,
    -- Append-only forever: every text has a bound.
    CONSTRAINT transition_log_bounds CHECK (
        pg_catalog.char_length(correlation_id) <= 200
        AND pg_catalog.char_length(db_user) <= 63
        AND pg_catalog.char_length(from_state) <= 100
        AND pg_catalog.char_length(idempotency_key) <= 200
        AND pg_catalog.char_length(machine) <= 100
        AND pg_catalog.char_length(note) <= 2000
        AND pg_catalog.char_length(to_state) <= 100
        AND pg_catalog.char_length(transition) <= 100
    )
);

COMMENT ON TABLE bulwark.transition_log IS 'Append-only audit of every write to a guarded or protected table; written by trigger. Ids increase in commit order per entity because the writer holds the entity''s row lock. Every text is bounded (note 2000, correlation id and key 200).';
COMMENT ON COLUMN bulwark.transition_log.from_state IS 'NULL on creation.';
COMMENT ON COLUMN bulwark.transition_log.db_user IS 'The database login that made the call: who asserted actor_id.';
COMMENT ON COLUMN bulwark.transition_log.correlation_id IS 'The caller''s correlation id (transaction setting bulwark.correlation_id), tying this row to the Go decision record.';
COMMENT ON COLUMN bulwark.transition_log.actor_id IS 'The principal that acted; NULL only for maintenance writes and declarations made by migrations, whose db_user names the login.';

-- An entity's history in order. The machine is in the key so that the
-- engine's look-up of an entity's last row is one index probe whatever the
-- statistics say (with the machine as a filter, a planner that expects few
-- rows reads them all and sorts).
CREATE INDEX transition_log_entity ON bulwark.transition_log (entity_id, machine, id);

CREATE TABLE bulwark.maintenance_windows (
    txid      bigint PRIMARY KEY,
    closed_at timestamptz,
    db_user   text NOT NULL DEFAULT session_user,
    opened_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    reason    text NOT NULL,
    CONSTRAINT maintenance_reason_length CHECK (pg_catalog.char_length(pg_catalog.btrim(reason)) BETWEEN 3 AND 500)
);

COMMENT ON TABLE bulwark.maintenance_windows IS 'Every transaction that opened the maintenance switch, by whom and why. Written only by bulwark.maintenance_begin().';

-- actor_id has no foreign key on purpose: its check would lock the
-- principal's row (FOR KEY SHARE) on every keyed call, a heap write and WAL
-- record per transition; principals are never deleted, only deactivated.
CREATE TABLE bulwark.idempotency_keys (
    actor_id     uuid NOT NULL,
    key          text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    entity_id    uuid,
    request_hash bytea NOT NULL,
    result       jsonb,
    version      integer,
    PRIMARY KEY (actor_id, key),
    CONSTRAINT idempotency_key_format CHECK (pg_catalog.char_length(key) BETWEEN 1 AND 200 AND key !~ '[[:cntrl:]]'),
    CONSTRAINT idempotency_result_size CHECK (pg_catalog.pg_column_size(result) <= 16384)
);

-- BRIN: keys arrive in time order, and the purge only needs ranges.
CREATE INDEX idempotency_keys_created ON bulwark.idempotency_keys USING brin (created_at);

COMMENT ON TABLE bulwark.idempotency_keys IS 'Idempotency keys, scoped per actor: a hash of the request they were first used with, the entity and version it produced, and the returned row when it is small (at most 8 KiB). Expire after bulwark.idempotency_ttl(); purged by bulwark.idempotency_purge().';

------------------------------------------------------------------------------
-- The enforcement contract and migration checksums (read by bulwark verify)
------------------------------------------------------------------------------

CREATE TABLE bulwark.contract_constraints (
    relation    regclass NOT NULL REFERENCES bulwark.guarded_tables (relation) ON DELETE CASCADE,
    name        text NOT NULL,
    declared_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    definition  text NOT NULL,
    kind        text NOT NULL,
    PRIMARY KEY (relation, name),
    CONSTRAINT contract_constraint_kind CHECK (
        kind IN ('check', 'exclusion', 'foreign_key', 'primary_key', 'unique', 'unique_index')
    )
);

COMMENT ON TABLE bulwark.contract_constraints IS 'The constraints and unique indexes a guarded table must keep, validated, as its migrations declared them. Filled by bulwark.guard() and bulwark.declare_constraint(); read by bulwark verify.';
COMMENT ON COLUMN bulwark.contract_constraints.definition IS 'pg_get_constraintdef (or pg_get_indexdef) with search_path pg_catalog, without NOT VALID: a constraint replaced by a weaker one under the same name is drift.';

CREATE TABLE bulwark.migration_checksums (
    line        text NOT NULL,
    version     bigint NOT NULL,
    checksum    text NOT NULL,
    path        text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (line, version),
    CONSTRAINT migration_checksum_format CHECK (checksum ~ '^(sha256:[0-9a-f]{64}|go(:[a-z0-9-]{1,100})?)$'),
    CONSTRAINT migration_checksum_line CHECK (line ~ '^[a-z][a-z0-9_]{0,62}$')
);

COMMENT ON TABLE bulwark.migration_checksums IS 'What each applied migration of each migration line was when it was applied: sha256 of a SQL file, or go[:marker] for a Go migration (what it installs, e.g. go:river-schema-8). Recorded by schema.Up after migrating; read by bulwark verify.';
COMMENT ON COLUMN bulwark.migration_checksums.line IS 'The migration line (core, river, articles, or a team''s own), each with its own goose version table.';
COMMENT ON COLUMN bulwark.migration_checksums.path IS 'The file name; empty for a Go migration registered without one.';

------------------------------------------------------------------------------
-- Helpers
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

-- The reason of the maintenance switch this transaction opened, or NULL.
-- Read by the write guards for writes that do not come from the engine; the
-- window is a row only bulwark.maintenance_begin() can write, so a setting
-- made by hand opens nothing.
-- +goose StatementBegin
CREATE FUNCTION bulwark.maintenance_reason()
RETURNS text
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT w.reason
    FROM bulwark.maintenance_windows AS w
    WHERE w.txid = pg_catalog.txid_current_if_assigned()
      AND w.closed_at IS NULL
$$;
-- +goose StatementEnd

-- Describes the write the engine is about to make, for the audit triggers:
-- transaction-local settings, trusted only while current_user is
-- bulwark_engine (nobody else can be).
-- +goose StatementBegin
CREATE FUNCTION bulwark.context_set(p_actor uuid, p_action text, p_idem_key text, p_note text)
RETURNS void
VOLATILE
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.set_config('bulwark.actor', coalesce(p_actor::text, ''), true),
           pg_catalog.set_config('bulwark.action', coalesce(p_action, ''), true),
           pg_catalog.set_config('bulwark.idem_key', coalesce(p_idem_key, ''), true),
           pg_catalog.set_config('bulwark.note', coalesce(pg_catalog.left(p_note, 2000), ''), true);
$$;
-- +goose StatementEnd

-- Principals without the capability, unknown principals and inactive ones
-- are all refused the same way: none of them may attempt the action. The
-- engine's generated functions inline the same query.
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
    SELECT p.db_role INTO v_db_role
    FROM bulwark.principals AS p
    WHERE p.id = p_actor
      AND p.active
      AND EXISTS (
          SELECT
          FROM bulwark.principal_roles AS pr
          JOIN bulwark.role_capabilities AS rc ON rc.role = pr.role
          WHERE pr.principal_id = p.id
            AND rc.capability = p_capability
      );
    IF NOT FOUND THEN
        PERFORM bulwark.raise(
            'BWP01',
            pg_catalog.format('principal %s lacks capability %s', coalesce(p_actor::text, '(none)'), p_capability),
            pg_catalog.format('capability=%s', p_capability));
    END IF;
    -- p_actor is asserted by the caller: the service authenticated the
    -- person. The binding limits whom a session may assert (session_user:
    -- inside a SECURITY DEFINER function current_user is the owner).
    IF v_db_role IS NOT NULL AND NOT pg_catalog.pg_has_role(session_user, v_db_role, 'MEMBER') THEN
        PERFORM bulwark.raise(
            'BWP01',
            pg_catalog.format('principal %s acts only from a session in %s, not as %s', p_actor, v_db_role, session_user),
            pg_catalog.format('capability=%s', p_capability));
    END IF;
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
    IF p_name IS NULL OR p_name !~ '^[a-z][a-z0-9_]*[.][a-z][a-z0-9_]*$' OR pg_catalog.char_length(p_name) > 100 THEN
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
-- Trigger functions of the core's own tables
------------------------------------------------------------------------------

-- The write guard of the core's tables: writes come from the engine
-- (current_user is bulwark_engine only inside its code) or happen under the
-- maintenance switch. TG_ARGV[0] = 'audited' when the table's audit trigger
-- records every write; otherwise maintenance writes are logged here.
-- +goose StatementBegin
CREATE FUNCTION bulwark.trg_protect_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_reason text;
BEGIN
    IF current_user = 'bulwark_engine' THEN
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
        INSERT INTO bulwark.transition_log (machine, note, transition, correlation_id)
        VALUES (
            'bulwark.maintenance',
            pg_catalog.left(pg_catalog.format('%s by %s on %I.%I: %s', v_reason, session_user, TG_TABLE_SCHEMA, TG_TABLE_NAME,
                CASE WHEN TG_OP = 'DELETE' THEN pg_catalog.to_jsonb(OLD) ELSE pg_catalog.to_jsonb(NEW) END), 2000),
            'maintenance_' || pg_catalog.lower(TG_OP),
            pg_catalog.left(pg_catalog.current_setting('bulwark.correlation_id', true), 200));
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$;
-- +goose StatementEnd

-- The audit of the core's declaration and grant tables: every write, with
-- the session user, the engine's action (or the maintenance reason) and the
-- row. TG_ARGV[0] = 'notify' for the grant tables: listeners
-- (authz.Grants) drop the principal named in the payload, or every
-- principal on '*'. NOTIFY is delivered at commit, never for a rollback.
-- +goose StatementBegin
CREATE FUNCTION bulwark.trg_protect_audit()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_row        jsonb := CASE WHEN TG_OP = 'DELETE' THEN pg_catalog.to_jsonb(OLD) ELSE pg_catalog.to_jsonb(NEW) END;
    v_entity     uuid;
    v_actor      uuid;
    v_transition text;
    v_note       text;
    v_machine    text;
BEGIN
    v_machine := CASE TG_TABLE_NAME
        WHEN 'principals' THEN 'bulwark.principal'
        WHEN 'principal_roles' THEN 'bulwark.principal_role'
        ELSE 'bulwark.' || TG_TABLE_NAME
    END;
    v_entity := CASE TG_TABLE_NAME
        WHEN 'principals' THEN (v_row ->> 'id')::uuid
        WHEN 'principal_roles' THEN (v_row ->> 'principal_id')::uuid
    END;
    IF current_user = 'bulwark_engine' THEN
        v_actor := nullif(pg_catalog.current_setting('bulwark.actor', true), '')::uuid;
        v_transition := nullif(pg_catalog.current_setting('bulwark.action', true), '');
        v_note := nullif(pg_catalog.current_setting('bulwark.note', true), '');
    ELSE
        v_transition := 'maintenance_' || pg_catalog.lower(TG_OP);
        v_note := pg_catalog.format('%s (by %s)', bulwark.maintenance_reason(), session_user);
    END IF;
    INSERT INTO bulwark.transition_log (actor_id, correlation_id, entity_id, from_state, machine, note, to_state, transition)
    VALUES (
        v_actor,
        pg_catalog.left(pg_catalog.current_setting('bulwark.correlation_id', true), 200),
        v_entity,
        CASE WHEN TG_OP <> 'INSERT' THEN 'present' END,
        v_machine,
        pg_catalog.left(coalesce(v_note || ': ', '') || pg_catalog.lower(TG_OP) || ' ' || v_row::text, 2000),
        CASE WHEN TG_OP <> 'DELETE' THEN 'present' ELSE 'removed' END,
        coalesce(v_transition, pg_catalog.lower(TG_OP)));
    IF TG_ARGV[0] = 'notify' THEN
        PERFORM pg_catalog.pg_notify('bulwark_grants', coalesce(v_entity::text, '*'));
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- Only the engine writes the log directly; the audit triggers write it from
-- inside a trigger (maintenance writes by the owner). A direct INSERT by the
-- owner would forge history.
-- +goose StatementBegin
CREATE FUNCTION bulwark.trg_log_insert()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF current_user <> 'bulwark_engine' AND pg_catalog.pg_trigger_depth() < 2 THEN
        PERFORM bulwark.raise('BWI04', 'bulwark.transition_log is written only by the engine and the audit triggers');
    END IF;
    RETURN NEW;
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
------------------------------------------------------------------------------
-- The maintenance switch
------------------------------------------------------------------------------

-- +goose StatementBegin
CREATE FUNCTION bulwark.maintenance_begin(p_reason text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_reason IS NULL OR pg_catalog.char_length(pg_catalog.btrim(p_reason)) NOT BETWEEN 3 AND 500 THEN
        PERFORM bulwark.raise('22023', 'maintenance needs a reason of 3 to 500 characters');
    END IF;
    IF bulwark.maintenance_reason() IS NOT NULL THEN
        RETURN;
    END IF;
    INSERT INTO bulwark.maintenance_windows (txid, reason)
    VALUES (pg_catalog.txid_current(), p_reason)
    ON CONFLICT (txid) DO UPDATE SET closed_at = NULL, reason = excluded.reason;
    INSERT INTO bulwark.transition_log (machine, to_state, transition, note, correlation_id)
    VALUES ('bulwark.maintenance', 'open', 'maintenance_begin',
            pg_catalog.left(pg_catalog.format('%s (by %s)', p_reason, session_user), 2000),
            pg_catalog.left(pg_catalog.current_setting('bulwark.correlation_id', true), 200));
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION bulwark.maintenance_begin(text) IS 'Opens the maintenance switch until the end of the transaction: direct writes to guarded tables are allowed and each one is logged. State machines and frozen fields still hold.';

-- +goose StatementBegin
CREATE FUNCTION bulwark.maintenance_end()
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_reason text := bulwark.maintenance_reason();
BEGIN
    IF v_reason IS NOT NULL THEN
        UPDATE bulwark.maintenance_windows SET closed_at = pg_catalog.clock_timestamp()
        WHERE txid = pg_catalog.txid_current();
        INSERT INTO bulwark.transition_log (machine, from_state, to_state, transition, note)
        VALUES ('bulwark.maintenance', 'open', 'closed', 'maintenance_end',
                pg_catalog.left(pg_catalog.format('%s (by %s)', v_reason, session_user), 2000));
    END IF;
END;
$$;
-- +goose StatementEnd

------------------------------------------------------------------------------
-- Idempotency
------------------------------------------------------------------------------

-- How long a key is kept at least; bulwark.idempotency_purge() removes older
-- ones (bulwark jobs runs it on a schedule).
-- +goose StatementBegin
CREATE FUNCTION bulwark.idempotency_ttl()
RETURNS interval
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT interval '24 hours' $$;
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
          AND k.created_at > pg_catalog.now() - bulwark.idempotency_ttl()
    )
$$;
-- +goose StatementEnd

-- Removes keys older than bulwark.idempotency_ttl() plus an hour, at most
-- p_limit per call (call again while it returns p_limit). Returns how many
-- it removed.
-- +goose StatementBegin
CREATE FUNCTION bulwark.idempotency_purge(p_limit integer DEFAULT 10000)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_count integer;
BEGIN
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 1000000 THEN
        PERFORM bulwark.raise('22023', 'purge between 1 and 1000000 keys per call');
    END IF;
    DELETE FROM bulwark.idempotency_keys AS k
    WHERE (k.actor_id, k.key) IN (
        SELECT o.actor_id, o.key
        FROM bulwark.idempotency_keys AS o
        -- An hour past the TTL: bulwark.idempotency_key_used answers "used"
        -- only within it, so a key the gate saw as used cannot vanish
        -- before its transition runs.
        WHERE o.created_at < pg_catalog.now() - bulwark.idempotency_ttl() - interval '1 hour'
        ORDER BY o.created_at
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED
    );
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION bulwark.idempotency_purge(integer) IS 'Removes idempotency keys older than bulwark.idempotency_ttl(), at most p_limit per call; returns how many. Run by bulwark jobs; callable by the owner.';

------------------------------------------------------------------------------
-- The transition engine
------------------------------------------------------------------------------

-- Generates, from the declarations of machine p_machine and its guarded
-- table, the three functions that are the only way that table changes:
--
--   <schema>.<machine>_apply(p_action, p_actor, p_id, p_expected_version,
--       p_idem_key, p_args jsonb, p_note) RETURNS <table>
--     every action in one documented order: the action and its capability
--     (BWP01, with the principal's database-role binding); the arguments
--     (key and note bounds, the expected version unless the machine was
--     declared not to pin versions, arg_check rules: class 22); for a create, the
--     idempotency key's lock, else the row lock (BWN01); a replay returns the first result,
--     another request under the key is BWC02; the version (BWC01); the
--     transition (BWI01); row_check rules (their SQLSTATE); the write with
--     its set rules and the version bump, of the one row it names in
--     bulwark.engine_write (table, id, replaced version); its audit row
--     (actor, action, key, note, correlation id, login), chained to the
--     entity's previous one; after
--     rules, with the action's context for the audit rows of the core
--     tables they write; the key, stored once.
--   bulwark.trg_<machine>_boundary()  BEFORE row trigger, for every write
--     but the apply function's own (its WHEN): the engine writing another
--     row is refused (BWI04: engine code must not write around its
--     machine); anybody else needs the maintenance switch open (BWI04);
--     then the machine's edges (BWI01) and the version bump.
--   bulwark.trg_<machine>_audit()     AFTER row trigger, for every writer
--     but the engine (its WHEN): one log row per maintenance write.
--
-- So the engine's own write fires no PL/pgSQL trigger of the kit's, and
-- every other write fires both.
-- Everything a declaration says is inlined (edges, capabilities, rules), so
-- a transition runs static SQL with cached plans and reads no declaration
-- table. Every declare_* call regenerates; the code is owned by
-- bulwark_engine, so nobody else can replace it.
-- Compiles every rule of a guarded machine (of p_machine, or of every
-- machine when NULL) the way its engine will run it, without running,
-- planning or evaluating any of it: PREPARE parses, analyzes and rewrites
-- the rule's statement (names, types, functions, the assignment to its
-- column) against the guarded table and the names a rule may use. One row
-- per rule that does not compile, with its SQLSTATE: a typo fails its
-- declaration (engine_build), not its first call, and a column renamed or
-- dropped under a rule later, or a function it calls dropped, is reported
-- by bulwark verify. Each probe runs in a subtransaction that is always
-- rolled back, so the locks its analysis takes (ROW EXCLUSIVE for a set
-- rule's UPDATE) end with it; only analysis errors (classes 42, 22, 0A)
-- are the rule's, any other (a lock timeout, a cancel) is raised.
-- Privileges are not checked (PostgreSQL checks them when a statement
-- starts, which would evaluate the rule's stable and immutable parts): a
-- helper a rule calls is made with bulwark.declare_function, so the engine
-- owns it. A rule names the row's columns as r.<column>, in every kind and
-- action alike (unqualified, a column would name the written row in an
-- update's set, nothing in a create's); the other names it may use are
-- p_action, p_actor, p_id, p_expected_version, p_idem_key, p_args, p_note
-- and v_to.
-- +goose StatementBegin
CREATE FUNCTION bulwark.rule_problems(p_machine text DEFAULT NULL)
RETURNS TABLE (machine text, rule_id bigint, action text, kind text, error_code text, problem text)
LANGUAGE plpgsql
-- As the engine, whose code the rules become. Nothing is executed but
-- PREPARE and DEALLOCATE of one rule's statement, which is never run.
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- A rule's literals read as in the engine, whatever the caller's session.
SET standard_conforming_strings = on
AS $$
DECLARE
    x        record;
    v_from   text;
    v_probe  text;
    v_name   text := 'bulwark_rule_probe_' || pg_catalog.md5(pg_catalog.random()::text || pg_catalog.clock_timestamp()::text);
    v_done   boolean;
    v_state  text;
    v_msg    text;
    v_detail text;
    v_hint   text;
BEGIN
    -- A probe cancelled between its PREPARE and its DEALLOCATE (prepared
    -- statements are not transactional) is not left for the next.
    FOR v_msg IN SELECT s.name FROM pg_catalog.pg_prepared_statements AS s WHERE pg_catalog.left(s.name, 19) = 'bulwark_rule_probe_' LOOP
        EXECUTE pg_catalog.format('DEALLOCATE %I', v_msg);
    END LOOP;
    FOR x IN
        SELECT r.id, r.machine, r.action, r.kind, r.body, r.message, r.col, g.relation::text AS tbl,
               coalesce(a.kind = 'create', false) AS creates
        FROM bulwark.action_rules AS r
        JOIN bulwark.guarded_tables AS g ON g.machine = r.machine
        LEFT JOIN bulwark.actions AS a ON a.machine = r.machine AND a.name = r.action
        WHERE p_machine IS NULL OR r.machine = p_machine
        ORDER BY r.machine, r.id
    LOOP
        machine := x.machine;
        rule_id := x.id;
        action := x.action;
        kind := x.kind;
        -- The table's CHECKs say so too; a row that got past them is
        -- never prepared, not even as a probe.
        IF x.body ~ ';|--|/[*]' OR x.message ~ ';|--|/[*]' THEN
            error_code := '22023';
            problem := pg_catalog.format('the %s rule %s of %s.%s is not one expression: it holds a statement separator or a comment',
                x.kind, x.id, x.machine, coalesce(x.action, '*'));
            RETURN NEXT;
            CONTINUE;
        END IF;
        IF x.kind = 'after' AND x.body !~ '^[[:space:]]*PERFORM[[:space:]]+[a-z_][a-z0-9_]*[.][a-z_][a-z0-9_]*[[:space:]]*[(]' THEN
            error_code := '22023';
            problem := pg_catalog.format('the after rule %s of %s.%s is not PERFORM schema.function(...)',
                x.id, x.machine, coalesce(x.action, '*'));
            RETURN NEXT;
            CONTINUE;
        END IF;
        -- r is the row; a second copy of it makes an unqualified column
        -- name ambiguous.
        v_from := pg_catalog.format(
            'FROM %s AS r, %s AS r__unqualified, (SELECT $1 AS p_action, $2 AS p_actor, $3 AS p_id, '
            || '$4 AS p_expected_version, $5 AS p_idem_key, $6 AS p_args, $7 AS p_note, $8 AS v_to) AS probe__args',
            x.tbl, x.tbl);
        v_probe := CASE x.kind
            -- As the engine writes: a create's INSERT (a SELECT, so that
            -- an untyped literal takes the column's type as in the
            -- engine's VALUES; an aggregate there passes the probe and
            -- fails the create), an update's UPDATE of t__ (a set of no
            -- action is every update's).
            WHEN 'set' THEN CASE WHEN x.creates
                THEN pg_catalog.format('INSERT INTO %s (%I) SELECT (%s) %s', x.tbl, x.col, x.body, v_from)
                ELSE pg_catalog.format('UPDATE %s AS t__ SET %I = (%s) %s WHERE false', x.tbl, x.col, x.body, v_from)
            END
            -- PERFORM is a SELECT that may have its own FROM and WHERE.
            WHEN 'after' THEN pg_catalog.format('SELECT %s, LATERAL (SELECT %s) AS q__',
                v_from, pg_catalog.regexp_replace(x.body, '^[[:space:]]*PERFORM[[:space:]]+', ''))
            ELSE pg_catalog.format('SELECT (%s) IS FALSE, (%s) %s', x.body, x.message, v_from)
        END;
        v_state := NULL;
        v_done := false;
        BEGIN
            EXECUTE pg_catalog.format('PREPARE %I (text, uuid, uuid, integer, text, jsonb, text, text) AS %s', v_name, v_probe);
            EXECUTE pg_catalog.format('DEALLOCATE %I', v_name);
            -- Undo what the probe took (its locks). The flag tells this
            -- sentinel from the same SQLSTATE raised by anything else.
            v_done := true;
            RAISE EXCEPTION USING ERRCODE = 'BWZ99';
        EXCEPTION
            WHEN syntax_error_or_access_rule_violation OR data_exception OR feature_not_supported THEN
                GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
                    v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;
            WHEN SQLSTATE 'BWZ99' THEN
                IF NOT v_done THEN
                    RAISE;
                END IF;
        END;
        IF v_state IS NOT NULL THEN
            -- The probe may have failed after its PREPARE.
            IF EXISTS (SELECT FROM pg_catalog.pg_prepared_statements AS s WHERE s.name = v_name) THEN
                EXECUTE pg_catalog.format('DEALLOCATE %I', v_name);
            END IF;
            error_code := v_state;
            problem := pg_catalog.format('the %s rule %s of %s.%s does not compile: %s%s%s',
                x.kind, x.id, x.machine, coalesce(x.action, '*'), v_msg,
                coalesce(' (' || nullif(v_detail, '') || ')', ''), coalesce(' (' || nullif(v_hint, '') || ')', ''));
            RETURN NEXT;
        END IF;
    END LOOP;
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION bulwark.rule_problems(text) IS 'The rules of a guarded machine (every machine when NULL) that do not compile against its table: parsed and analyzed as the engine runs them (PREPARE), never planned or run, in a subtransaction rolled back. Privileges are not checked. Called by engine_build (a declaration fails on its rule) and bulwark verify.';

-- +goose StatementBegin
CREATE FUNCTION bulwark.engine_build(p_machine text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $build$
DECLARE
    g          bulwark.guarded_tables;
    m          bulwark.machines;
    a          bulwark.actions;
    v_schema   text;
    v_table    text;
    v_col      text;
    v_apply    text;
    v_boundary text;
    v_audit    text;
    v_dispatch text;
    v_args     text;
    v_rows     text;
    v_edges    text;
    v_pairs    text;
    v_writes   text := '';
    v_afters   text := '';
    v_sets     text;
    v_cols     text;
    v_vals     text;
    v_after    text;
    v_src      text;
    v_problem  record;
BEGIN
    SELECT * INTO g FROM bulwark.guarded_tables AS t WHERE t.machine = p_machine;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- A rule that does not compile fails here, at its declaration (or at
    -- guard(), for rules declared before it), not at its first call.
    SELECT * INTO v_problem FROM bulwark.rule_problems(p_machine) AS p LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = v_problem.error_code, MESSAGE = v_problem.problem,
            HINT = 'a rule names the row''s columns as r.<column>, may use p_action, p_actor, p_id, p_expected_version, p_idem_key, p_args, p_note and v_to, and calls helpers made with bulwark.declare_function';
    END IF;
    SELECT * INTO m FROM bulwark.machines AS x WHERE x.name = p_machine;
    SELECT n.nspname::text INTO v_schema
    FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.oid = g.relation;
    v_table := g.relation::text;
    v_col := pg_catalog.quote_ident(g.state_column);
    v_apply := pg_catalog.format('%I.%I', v_schema, p_machine || '_apply');
    v_boundary := pg_catalog.format('bulwark.%I', 'trg_' || p_machine || '_boundary');
    v_audit := pg_catalog.format('bulwark.%I', 'trg_' || p_machine || '_audit');

    SELECT pg_catalog.string_agg(
               pg_catalog.format('WHEN %L THEN v_cap := %L; v_kind := %L;', x.name, x.capability, x.kind),
               E'\n        ' ORDER BY x.name)
    INTO v_dispatch
    FROM bulwark.actions AS x
    WHERE x.machine = p_machine;

    -- The rules, in one CASE on the action: a rule's body (a query, say)
    -- runs only for its action, and an action that has no rules of a kind
    -- tests nothing but the CASE. A branch holds its action's rules and
    -- the rules of no action (every action's but create's) in the order
    -- they were declared, which is the order they are checked in. A rule's
    -- body and message go in verbatim: each is formatted at the depth it
    -- is used (never re-indented: a newline may be inside a literal).
    WITH r AS (
        -- Each rule's test, formatted at the depths it is used: 8 spaces
        -- in a branch of the CASE (or alone), 12 inside the ELSE's test.
        SELECT x.id, x.kind, x.action,
               pg_catalog.format(E'IF (%s) IS FALSE THEN\n            RAISE EXCEPTION USING ERRCODE = %L, MESSAGE = (%s);\n        END IF;',
                   x.body, x.sqlstate, x.message) AS src8,
               pg_catalog.format(E'IF (%s) IS FALSE THEN\n                RAISE EXCEPTION USING ERRCODE = %L, MESSAGE = (%s);\n            END IF;',
                   x.body, x.sqlstate, x.message) AS src12
        FROM bulwark.action_rules AS x
        WHERE x.machine = p_machine AND x.kind IN ('arg_check', 'row_check')
    ),
    shared AS (
        -- Per kind, its rules of no action.
        SELECT r.kind,
               pg_catalog.string_agg(r.src8, E'\n        ' ORDER BY r.id) AS rules8,
               pg_catalog.string_agg(r.src12, E'\n            ' ORDER BY r.id) AS rules12
        FROM r
        WHERE r.action IS NULL
        GROUP BY r.kind
    ),
    branches AS (
        -- Per kind, a WHEN for each action with rules of its own.
        SELECT w.kind, pg_catalog.string_agg(w.src, E'\n    ' ORDER BY w.action) AS branches
        FROM (
            SELECT r.kind, xa.name AS action,
                   pg_catalog.format(E'WHEN %L THEN\n        %s', xa.name,
                       pg_catalog.string_agg(r.src8, E'\n        ' ORDER BY r.id)) AS src
            FROM bulwark.actions AS xa
            JOIN r ON r.action = xa.name OR (r.action IS NULL AND xa.kind <> 'create')
            WHERE xa.machine = p_machine
              AND EXISTS (SELECT FROM r AS o WHERE o.kind = r.kind AND o.action = xa.name)
            GROUP BY r.kind, xa.name
        ) AS w
        GROUP BY w.kind
    )
    SELECT pg_catalog.max(k.src) FILTER (WHERE k.kind = 'arg_check'),
           pg_catalog.max(k.src) FILTER (WHERE k.kind = 'row_check')
    INTO v_args, v_rows
    FROM (
        SELECT coalesce(b.kind, n.kind) AS kind,
               CASE WHEN b.branches IS NULL THEN
                        E'IF v_kind <> ''create'' THEN\n        ' || n.rules8 || E'\n    END IF;'
                    ELSE
                        E'CASE p_action\n    ' || b.branches || E'\n    ELSE\n        '
                        || coalesce(E'IF v_kind <> ''create'' THEN\n            ' || n.rules12 || E'\n        END IF;', 'NULL;')
                        || E'\n    END CASE;'
               END AS src
        FROM shared AS n
        FULL JOIN branches AS b ON b.kind = n.kind
    ) AS k;

    SELECT pg_catalog.string_agg(
               pg_catalog.format('WHEN p_action = %L AND r.%s = %L THEN %L', t.name, v_col, t.from_state, t.to_state),
               ' ' ORDER BY t.name, t.from_state),
           pg_catalog.string_agg(pg_catalog.format('(%L, %L)', t.from_state, t.to_state), ', ' ORDER BY t.from_state, t.to_state)
    INTO v_edges, v_pairs
    FROM bulwark.transitions AS t
    WHERE t.machine = p_machine;

    -- The engine owns the row's identity, state and version.
    IF EXISTS (
        SELECT FROM bulwark.action_rules AS r
        WHERE r.machine = p_machine AND r.kind = 'set' AND r.col IN ('id', 'version', g.state_column)
    ) THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = pg_catalog.format('machine %s: a set rule cannot assign id, version or %s', p_machine, g.state_column);
    END IF;
    FOR a IN SELECT * FROM bulwark.actions AS x WHERE x.machine = p_machine ORDER BY x.name LOOP
        -- An action's own set rule wins over the machine-wide one for the
        -- same column.
        SELECT pg_catalog.string_agg(pg_catalog.format('%I = (%s)', s.col, s.body), ', ' ORDER BY s.col),
               pg_catalog.string_agg(pg_catalog.format(', %I', s.col), '' ORDER BY s.col),
               pg_catalog.string_agg(pg_catalog.format(', (%s)', s.body), '' ORDER BY s.col)
        INTO v_sets, v_cols, v_vals
        FROM (
            SELECT DISTINCT ON (r.col) r.col, r.body
            FROM bulwark.action_rules AS r
            WHERE r.machine = p_machine
              AND r.kind = 'set'
              AND (r.action = a.name OR (r.action IS NULL AND a.kind <> 'create'))
            ORDER BY r.col, r.action IS NULL, r.id
        ) AS s;
        SELECT pg_catalog.string_agg(r.body || ';', E'\n            ' ORDER BY r.id)
        INTO v_after
        FROM bulwark.action_rules AS r
        WHERE r.machine = p_machine AND r.kind = 'after' AND r.action = a.name;
        -- The engine numbers versions itself: the boundary trigger does not
        -- fire for the apply function's own write.
        IF a.kind = 'create' THEN
            v_writes := v_writes || pg_catalog.format(
                E'\n        WHEN %L THEN\n            INSERT INTO %s (id, %s, version%s) VALUES (v_id, v_to, 1%s) RETURNING * INTO r;',
                a.name, v_table, v_col, coalesce(v_cols, ''), coalesce(v_vals, ''));
        ELSE
            v_writes := v_writes || pg_catalog.format(
                E'\n        WHEN %L THEN\n            UPDATE %s AS t__ SET %s = v_to, version = t__.version + 1%s WHERE t__.id = p_id RETURNING t__.* INTO r;',
                a.name, v_table, v_col, coalesce(', ' || v_sets, ''));
        END IF;
        -- After rules see the action's context, for the audit rows of the
        -- core tables they write.
        IF v_after IS NOT NULL THEN
            v_afters := v_afters || pg_catalog.format(
                E'\n        WHEN %L THEN'
                || E'\n            PERFORM set_config(''bulwark.actor'', p_actor::text, true),'
                || E'\n                    set_config(''bulwark.action'', p_action, true),'
                || E'\n                    set_config(''bulwark.idem_key'', coalesce(p_idem_key, ''''), true),'
                || E'\n                    set_config(''bulwark.note'', coalesce(p_note, ''''), true);'
                || E'\n            %s',
                a.name, v_after);
        END IF;
    END LOOP;

    v_src := $tmpl$
CREATE OR REPLACE FUNCTION @apply@(
    p_action text,
    p_actor uuid,
    p_id uuid,
    p_expected_version integer,
    p_idem_key text,
    p_args jsonb DEFAULT NULL,
    p_note text DEFAULT NULL
)
RETURNS @table@
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- A rule's literals read alike in every caller's session.
SET standard_conforming_strings = on
AS $@tag@$
-- Generated by bulwark.engine_build(@machine_lit@) from the declarations of
-- machine @machine_lit@. Do not edit: declare, and it is generated again.
DECLARE
    r        @table@;
    v_at     timestamptz;
    v_cap    text;
    v_corr   text;
    v_from   text;
    v_hash   bytea;
    v_id     uuid;
    v_key    bulwark.idempotency_keys;
    v_kind   text;
    v_log_id bigint;
    v_marker text;
    v_role   text;
    v_seqscan text;
    v_to     text;
BEGIN
    CASE p_action
        @dispatch@
        ELSE
            RAISE EXCEPTION USING ERRCODE = '22023',
                MESSAGE = format('machine %s has no action %s', @machine_lit@, coalesce(p_action, 'NULL'));
    END CASE;

    SELECT p.db_role INTO v_role
    FROM bulwark.principals AS p
    WHERE p.id = p_actor
      AND p.active
      AND EXISTS (
          SELECT
          FROM bulwark.principal_roles AS pr
          JOIN bulwark.role_capabilities AS rc ON rc.role = pr.role
          WHERE pr.principal_id = p.id
            AND rc.capability = v_cap
      );
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'BWP01',
            MESSAGE = format('principal %s lacks capability %s', coalesce(p_actor::text, '(none)'), v_cap),
            DETAIL = 'capability=' || v_cap;
    END IF;
    IF v_role IS NOT NULL AND NOT pg_has_role(session_user, v_role, 'MEMBER') THEN
        RAISE EXCEPTION USING ERRCODE = 'BWP01',
            MESSAGE = format('principal %s acts only from a session in %s, not as %s', p_actor, v_role, session_user),
            DETAIL = 'capability=' || v_cap;
    END IF;

    IF p_idem_key IS NOT NULL AND (char_length(p_idem_key) NOT BETWEEN 1 AND 200 OR p_idem_key ~ '[[:cntrl:]]') THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'an idempotency key has 1 to 200 printable characters';
    END IF;
    IF char_length(p_note) > 2000 THEN
        RAISE EXCEPTION USING ERRCODE = '22001', MESSAGE = 'note is longer than 2000 characters';
    END IF;
    IF v_kind <> 'create' THEN
        IF p_id IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = format('a %s id is required', @machine_lit@);
        END IF;
        IF p_expected_version < 1 THEN
            RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'an expected version is 1 or more';
        END IF;@version_required@
    END IF;
    @arg_checks@

    IF p_idem_key IS NOT NULL THEN
        v_hash := sha256(convert_to(jsonb_build_array(@machine_lit@, p_action, p_id, p_args, p_note)::text, 'UTF8'));
    END IF;
    IF p_idem_key IS NOT NULL AND v_kind = 'create' THEN
        -- One key applies once: concurrent creates with it queue here. Other
        -- actions queue on the row lock below; the same key used on two rows
        -- at once meets on the key's primary key, and the second is BWC02.
        PERFORM pg_advisory_xact_lock(hashtextextended(p_actor::text || '/' || p_idem_key, 7405528));
    END IF;
    IF v_kind = 'create' THEN
        v_id := gen_random_uuid();
    ELSE
        SELECT * INTO r FROM @table@ AS t__ WHERE t__.id = p_id FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'BWN01', MESSAGE = format('no %s %s', @machine_lit@, p_id);
        END IF;
    END IF;
    IF p_idem_key IS NOT NULL THEN
        -- Planned with sequential scans off, and only this look-up: the
        -- session keeps its plan, and one made while the table had a page
        -- (before autovacuum analyzed it again) read the whole table on
        -- every later call. A rule's query plans with the session's
        -- setting (off, a query no index serves would be JIT-compiled).
        v_seqscan := current_setting('enable_seqscan');
        PERFORM set_config('enable_seqscan', 'off', true);
        SELECT * INTO v_key FROM bulwark.idempotency_keys AS k WHERE k.actor_id = p_actor AND k.key = p_idem_key;
        -- An assignment, not PERFORM: PERFORM would set FOUND, which
        -- must stay the look-up's.
        v_seqscan := set_config('enable_seqscan', v_seqscan, true);
        IF FOUND THEN
            IF v_key.request_hash <> v_hash THEN
                RAISE EXCEPTION USING ERRCODE = 'BWC02', MESSAGE = 'idempotency key reused with different arguments',
                    DETAIL = 'key=' || p_idem_key;
            END IF;
            IF v_key.result IS NOT NULL THEN
                RETURN jsonb_populate_record(NULL::@table@, v_key.result);
            END IF;
            SELECT * INTO r FROM @table@ AS t__ WHERE t__.id = v_key.entity_id;
            RETURN r;
        END IF;
    END IF;

    IF v_kind = 'create' THEN
        v_to := @initial_lit@;
    ELSE
        IF r.version <> p_expected_version THEN -- NULL: the caller pins no version
            RAISE EXCEPTION USING ERRCODE = 'BWC01',
                MESSAGE = format('%s %s is at version %s, not %s', @machine_lit@, p_id, r.version, p_expected_version),
                DETAIL = 'current_version=' || r.version;
        END IF;
        IF v_kind = 'transition' THEN
            v_to := CASE @edges@ END;
            IF v_to IS NULL THEN
                RAISE EXCEPTION USING ERRCODE = 'BWI01',
                    MESSAGE = format('cannot %s a %s in state %s', p_action, @machine_lit@, r.@col@),
                    DETAIL = 'state=' || r.@col@;
            END IF;
        ELSE
            v_to := r.@col@;
        END IF;
    END IF;
    @row_checks@

    -- The write. The boundary trigger lets the engine write, unguarded, only
    -- the row it names here (table, id and the version it replaces), and
    -- only as a bump to the next version: every other write of the row,
    -- in this statement or after, fires the triggers. A nested apply (from
    -- a trigger of the table) puts back the marker it found.
    v_from := r.@col@;
    v_marker := current_setting('bulwark.engine_write', true);
    PERFORM set_config('bulwark.engine_write', CASE
        WHEN v_kind = 'create' THEN @marker_lit@ || v_id::text || ':0'
        ELSE @marker_lit@ || r.id::text || ':' || r.version::text
    END, true);
    CASE p_action@writes@
    END CASE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'BWI04',
            MESSAGE = format('%s %s on %s changed no row: a trigger or policy of the table skipped the write', @machine_lit@, p_action, @table_lit@);
    END IF;
    PERFORM set_config('bulwark.engine_write', coalesce(v_marker, ''), true);

    -- Its audit row, chained to the entity's previous one: the hash is
    -- bulwark.log_row_hash(the previous hash, the row), inlined.
    v_log_id := nextval('bulwark.transition_log_id_seq'::regclass);
    v_at := clock_timestamp();
    v_corr := left(nullif(current_setting('bulwark.correlation_id', true), ''), 200);
    INSERT INTO bulwark.transition_log (id, actor_id, at, correlation_id, db_user, entity_id, from_state,
                                        idempotency_key, machine, note, to_state, transition, prev_hash, hash)
    OVERRIDING SYSTEM VALUE
    SELECT v_log_id, p_actor, v_at, v_corr, session_user, r.id, v_from, p_idem_key, @machine_lit@, nullif(p_note, ''), r.@col@, p_action,
           p__.h, sha256(coalesce(p__.h, ''::bytea) || convert_to(jsonb_build_array(
               v_log_id, p_actor, EXTRACT(EPOCH FROM v_at)::text, v_corr, session_user::text, r.id, v_from,
               p_idem_key, @machine_lit@, nullif(p_note, ''), r.@col@, p_action)::text, 'UTF8'))
    FROM (SELECT (SELECT l.hash FROM bulwark.transition_log AS l
                  WHERE l.entity_id = r.id AND l.machine = @machine_lit@
                  ORDER BY l.entity_id DESC, l.machine DESC, l.id DESC LIMIT 1) AS h) AS p__;
@afters@
    IF p_idem_key IS NOT NULL THEN
        INSERT INTO bulwark.idempotency_keys (actor_id, key, entity_id, request_hash, result, version)
        VALUES (p_actor, p_idem_key, r.id, v_hash,
                CASE WHEN pg_column_size(r) <= 8192 THEN to_jsonb(r) END, r.version)
        ON CONFLICT (actor_id, key) DO NOTHING;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'BWC02', MESSAGE = 'idempotency key reused with different arguments',
                DETAIL = 'key=' || p_idem_key;
        END IF;
    END IF;
    RETURN r;
END;
$@tag@$;

REVOKE EXECUTE ON FUNCTION @apply@(text, uuid, uuid, integer, text, jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @apply@(text, uuid, uuid, integer, text, jsonb, text) TO bulwark_owner;
COMMENT ON FUNCTION @apply@(text, uuid, uuid, integer, text, jsonb, text) IS @comment_lit@;

CREATE OR REPLACE FUNCTION @boundary@()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
-- A rule's literals read alike in every caller's session.
SET standard_conforming_strings = on
AS $@tag@$
-- Generated by bulwark.engine_build(@machine_lit@). Do not edit.
BEGIN
    -- The apply function's own write does not get here (the trigger's WHEN):
    -- any other write by the engine is code writing around its machine.
    IF current_user = 'bulwark_engine' THEN
        RAISE EXCEPTION USING ERRCODE = 'BWI04',
            MESSAGE = format('%s on %s by engine code other than %s', TG_OP, @table_lit@, @apply_lit@),
            HINT = 'write a guarded row only through its machine''s apply function';
    END IF;
    IF bulwark.maintenance_reason() IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'BWI04',
            MESSAGE = format('direct %s on %s outside a transition function', TG_OP, @table_lit@),
            HINT = 'change guarded data through its transition functions, or inside bulwark.maintenance_begin(reason)';
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.@col@ IS DISTINCT FROM @initial_lit@ THEN
            RAISE EXCEPTION USING ERRCODE = 'BWI01',
                MESSAGE = format('a new %s must start in its initial state, not %s', @machine_lit@, coalesce(NEW.@col@, 'NULL'));
        END IF;
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        IF NEW.@col@ IS DISTINCT FROM OLD.@col@ AND @refused_pair@ THEN
            RAISE EXCEPTION USING ERRCODE = 'BWI01',
                MESSAGE = format('illegal %s transition %s -> %s', @machine_lit@, coalesce(OLD.@col@, 'NULL'), coalesce(NEW.@col@, 'NULL'));
        END IF;
        NEW.version := OLD.version + 1;
        RETURN NEW;
    END IF;
    RETURN OLD;
END;
$@tag@$;

REVOKE EXECUTE ON FUNCTION @boundary@() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @boundary@() TO bulwark_owner;

CREATE OR REPLACE FUNCTION @audit@()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
-- A rule's literals read alike in every caller's session.
SET standard_conforming_strings = on
AS $@tag@$
-- Generated by bulwark.engine_build(@machine_lit@). Do not edit.
DECLARE
    v_corr text := left(nullif(current_setting('bulwark.correlation_id', true), ''), 200);
    v_note text;
BEGIN
    -- The engine logs its own writes (the trigger's WHEN skips them); what
    -- gets here is a write under the maintenance switch.
    IF current_user = 'bulwark_engine' THEN
        RAISE EXCEPTION USING ERRCODE = 'BWI04',
            MESSAGE = format('a write of %s by the engine must be logged by its apply function', @table_lit@);
    END IF;
    v_note := left(format('%s (by %s)', bulwark.maintenance_reason(), session_user), 2000);
    IF TG_OP = 'INSERT' THEN
        INSERT INTO bulwark.transition_log (correlation_id, entity_id, from_state, machine, note, to_state, transition)
        VALUES (v_corr, NEW.id, NULL, @machine_lit@, v_note, NEW.@col@, 'maintenance_insert');
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO bulwark.transition_log (correlation_id, entity_id, from_state, machine, note, to_state, transition)
        VALUES (v_corr, NEW.id, OLD.@col@, @machine_lit@, v_note, NEW.@col@, 'maintenance_update');
    ELSE
        INSERT INTO bulwark.transition_log (correlation_id, entity_id, from_state, machine, note, to_state, transition)
        VALUES (v_corr, OLD.id, OLD.@col@, @machine_lit@, v_note, OLD.@col@, 'maintenance_delete');
    END IF;
    RETURN NULL;
END;
$@tag@$;

REVOKE EXECUTE ON FUNCTION @audit@() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @audit@() TO bulwark_owner;
$tmpl$;

    v_src := pg_catalog.replace(v_src, '@tag@', 'engine_' || pg_catalog.md5(pg_catalog.random()::text || pg_catalog.clock_timestamp()::text));
    v_src := pg_catalog.replace(v_src, '@apply@', v_apply);
    v_src := pg_catalog.replace(v_src, '@boundary@', v_boundary);
    v_src := pg_catalog.replace(v_src, '@audit@', v_audit);
    v_src := pg_catalog.replace(v_src, '@table_lit@', pg_catalog.quote_literal(v_table));
    v_src := pg_catalog.replace(v_src, '@table@', v_table);
    v_src := pg_catalog.replace(v_src, '@machine_lit@', pg_catalog.quote_literal(p_machine));
    v_src := pg_catalog.replace(v_src, '@initial_lit@', pg_catalog.quote_literal(m.initial_state));
    -- Every change pins the version its caller decided on, unless the
    -- machine was declared otherwise: a domain cannot forget it.
    v_src := pg_catalog.replace(v_src, '@version_required@', CASE WHEN m.pins_versions THEN
        E'\n        IF p_expected_version IS NULL THEN'
        || E'\n            RAISE EXCEPTION USING ERRCODE = ''22023'', MESSAGE = ''an expected version (1 or more) is required'';'
        || E'\n        END IF;'
        ELSE '' END);
    v_src := pg_catalog.replace(v_src, '@col@', v_col);
    v_src := pg_catalog.replace(v_src, '@refused_pair@', CASE
        WHEN v_pairs IS NULL THEN 'true'
        ELSE pg_catalog.format('(OLD.%s, NEW.%s) NOT IN (%s)', v_col, v_col, v_pairs)
    END);
    v_src := pg_catalog.replace(v_src, '@comment_lit@', pg_catalog.quote_literal(pg_catalog.format(
        'The engine of machine %s, generated from its declarations: every action on %s runs here.', p_machine, v_table)));
    v_src := pg_catalog.replace(v_src, '@edges@', coalesce(v_edges, 'WHEN false THEN NULL'));
    v_src := pg_catalog.replace(v_src, '@dispatch@', coalesce(v_dispatch, 'WHEN NULL THEN NULL;'));
    v_src := pg_catalog.replace(v_src, '@arg_checks@', coalesce(v_args, ''));
    v_src := pg_catalog.replace(v_src, '@row_checks@', coalesce(v_rows, ''));
    v_src := pg_catalog.replace(v_src, '@writes@', CASE WHEN v_writes = '' THEN E'\n        WHEN NULL THEN NULL;' ELSE v_writes END);
    v_src := pg_catalog.replace(v_src, '@afters@', CASE WHEN v_afters = '' THEN '' ELSE
        E'    CASE p_action' || v_afters || E'\n        ELSE NULL;\n    END CASE;\n' END);
    v_src := pg_catalog.replace(v_src, '@apply_lit@', pg_catalog.quote_literal(v_apply));
    v_src := pg_catalog.replace(v_src, '@marker_lit@', pg_catalog.quote_literal(g.relation::oid::text || ':'));
    EXECUTE v_src;
END;
$build$;
-- +goose StatementEnd

------------------------------------------------------------------------------
-- The boundary: protect() and guard()
------------------------------------------------------------------------------

-- protect() puts one of the core's tables behind the write guard without a
-- state machine: DML only from the engine (or under the maintenance switch),
-- no TRUNCATE, no DML grants for the application roles. p_audit: 'audited'
-- logs every write, 'notify' also notifies bulwark_grants, 'logged' logs
-- only maintenance writes.
-- +goose StatementBegin
CREATE FUNCTION bulwark.protect(p_table regclass, p_audit text DEFAULT 'logged')
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_audit IS NULL OR p_audit NOT IN ('logged', 'audited', 'notify') THEN
        PERFORM bulwark.raise('22023', 'protect: p_audit is logged, audited or notify');
    END IF;
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER bulwark_10_write_guard BEFORE INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW'
        ' WHEN (CURRENT_USER <> ''bulwark_engine'') EXECUTE FUNCTION bulwark.trg_protect_guard(%L)',
        p_table, CASE WHEN p_audit = 'logged' THEN 'logged' ELSE 'audited' END);
    IF p_audit <> 'logged' THEN
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER bulwark_90_audit AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION bulwark.trg_protect_audit(%L)',
            p_table, p_audit);
    END IF;
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER bulwark_truncate BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION bulwark.trg_refuse_truncate()',
        p_table);
    EXECUTE pg_catalog.format(
        'REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON %s FROM PUBLIC, bulwark_app, bulwark_jobs',
        p_table);
    EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO bulwark_engine', p_table);
END;
$$;
-- +goose StatementEnd

-- Registers a guarded table and generates its engine (engine side of
-- guard()).
-- +goose StatementBegin
CREATE FUNCTION bulwark.engine_register(p_table regclass, p_machine text, p_state_column text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM bulwark.context_set(NULL, 'guard', NULL, pg_catalog.format('%s behind machine %s', p_table, p_machine));
    INSERT INTO bulwark.guarded_tables (relation, machine, state_column)
    VALUES (p_table, p_machine, p_state_column);
    PERFORM bulwark.engine_build(p_machine);
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION bulwark.engine_unregister(p_table regclass)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_machine text;
    v_schema  text;
BEGIN
    SELECT g.machine INTO v_machine FROM bulwark.guarded_tables AS g WHERE g.relation = p_table;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT n.nspname::text INTO v_schema
    FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.oid = p_table;
    PERFORM bulwark.context_set(NULL, 'unguard', NULL, p_table::text);
    DELETE FROM bulwark.api_functions AS f WHERE f.machine = v_machine;
    -- Explicitly: a cascade would run as the table's owner, not the engine.
    DELETE FROM bulwark.contract_constraints AS k WHERE k.relation = p_table;
    DELETE FROM bulwark.guarded_tables AS g WHERE g.relation = p_table;
    EXECUTE pg_catalog.format('DROP FUNCTION IF EXISTS %I.%I(text, uuid, uuid, integer, text, jsonb, text)', v_schema, v_machine || '_apply');
    EXECUTE pg_catalog.format('DROP FUNCTION IF EXISTS bulwark.%I()', 'trg_' || v_machine || '_boundary');
    EXECUTE pg_catalog.format('DROP FUNCTION IF EXISTS bulwark.%I()', 'trg_' || v_machine || '_audit');
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
    v_schema text;
BEGIN
    IF NOT EXISTS (SELECT FROM bulwark.machines AS m WHERE m.name = p_machine) THEN
        PERFORM bulwark.raise('BWN01', pg_catalog.format('no state machine %s', p_machine));
    END IF;
    -- The engine relies on these columns; refuse a table that lacks them now
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
    SELECT n.nspname::text INTO v_schema
    FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.oid = p_table;

    -- Grants by the core: the application and job roles read the table and
    -- call its API, and hold nothing else; the engine writes it.
    EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM PUBLIC, bulwark_app, bulwark_jobs', p_table);
    EXECUTE pg_catalog.format('GRANT SELECT ON %s TO bulwark_app, bulwark_jobs', p_table);
    EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO bulwark_engine', p_table);
    EXECUTE pg_catalog.format('REVOKE CREATE ON SCHEMA %I FROM PUBLIC, bulwark_app, bulwark_jobs', v_schema);
    EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA %I TO bulwark_app, bulwark_jobs, bulwark_engine', v_schema);
    EXECUTE pg_catalog.format('GRANT CREATE ON SCHEMA %I TO bulwark_engine', v_schema);

    PERFORM bulwark.engine_register(p_table, p_machine, p_state_column);
    -- The apply function's own write skips both PL/pgSQL triggers: it names
    -- the row it writes in bulwark.engine_write (table, id, the version it
    -- replaces), numbers the version, checks the edge and logs the write
    -- itself. Every other write fires them: anybody but the engine, another
    -- row, another table, the same row again, a changed id, any other
    -- version step. (A write that passes the WHEN without its log row is
    -- a version with no log row, which bulwark verify reports.)
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER bulwark_10_boundary BEFORE UPDATE ON %s FOR EACH ROW'
        ' WHEN (CURRENT_USER <> ''bulwark_engine'' OR NEW.id IS DISTINCT FROM OLD.id'
        ' OR NEW.version IS DISTINCT FROM OLD.version + 1'
        ' OR pg_catalog.current_setting(''bulwark.engine_write'', true) IS DISTINCT FROM %L || OLD.id::text || '':'' || OLD.version::text)'
        ' EXECUTE FUNCTION bulwark.%I()',
        p_table, p_table::oid::text || ':', 'trg_' || p_machine || '_boundary');
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER bulwark_10_boundary_insert BEFORE INSERT ON %s FOR EACH ROW'
        ' WHEN (CURRENT_USER <> ''bulwark_engine'' OR NEW.version IS DISTINCT FROM 1'
        ' OR pg_catalog.current_setting(''bulwark.engine_write'', true) IS DISTINCT FROM %L || NEW.id::text || '':0'')'
        ' EXECUTE FUNCTION bulwark.%I()',
        p_table, p_table::oid::text || ':', 'trg_' || p_machine || '_boundary');
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER bulwark_10_boundary_delete BEFORE DELETE ON %s FOR EACH ROW EXECUTE FUNCTION bulwark.%I()',
        p_table, 'trg_' || p_machine || '_boundary');
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER bulwark_90_audit AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW'
        ' WHEN (CURRENT_USER <> ''bulwark_engine'') EXECUTE FUNCTION bulwark.%I()',
        p_table, 'trg_' || p_machine || '_audit');
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER bulwark_truncate BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION bulwark.trg_refuse_truncate()',
        p_table);
    PERFORM bulwark.contract_declare_all(p_table);
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION bulwark.guard(regclass, text, text) IS 'Puts a table behind the boundary: generates its engine (<schema>.<machine>_apply and the boundary and audit triggers), refuses TRUNCATE, grants SELECT to the application roles and DML to nobody but the engine; records the table and its constraints for bulwark verify. Call from a migration as the table owner.';

-- +goose StatementBegin
CREATE FUNCTION bulwark.unguard(p_table regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS bulwark_10_boundary ON %s', p_table);
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS bulwark_10_boundary_insert ON %s', p_table);
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS bulwark_10_boundary_delete ON %s', p_table);
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS bulwark_90_audit ON %s', p_table);
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS bulwark_truncate ON %s', p_table);
    PERFORM bulwark.engine_unregister(p_table);
    EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM bulwark_engine', p_table);
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION bulwark.unguard(regclass) IS 'Undoes bulwark.guard() in a Down migration, before the table is dropped: drops its engine and its API registrations.';

------------------------------------------------------------------------------
-- Declarations, for migrations (bulwark_owner only; each one is logged)
------------------------------------------------------------------------------

-- +goose StatementBegin
CREATE FUNCTION bulwark.declare_machine(p_name text, p_initial_state text, p_states text[], p_pins_versions boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT p_initial_state = ANY (p_states) THEN
        PERFORM bulwark.raise('22023', pg_catalog.format('initial state %s is not among the states of %s', p_initial_state, p_name));
    END IF;
    PERFORM bulwark.context_set(NULL, 'declare_machine', NULL, NULL);
    INSERT INTO bulwark.machines (name, initial_state, pins_versions) VALUES (p_name, p_initial_state, coalesce(p_pins_versions, true));
    INSERT INTO bulwark.states (machine, name)
    SELECT p_name, s FROM pg_catalog.unnest(p_states) AS s;
END;
$$;
-- +goose StatementEnd

-- An action that creates (kind create) or changes columns without a state
-- change (kind update), with the capability it needs. Transitions are
-- declared with bulwark.declare_transition.
-- +goose StatementBegin
CREATE FUNCTION bulwark.declare_action(p_machine text, p_name text, p_kind text, p_capability text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_existing bulwark.actions;
BEGIN
    IF p_capability IS NULL THEN
        PERFORM bulwark.raise('22023', pg_catalog.format('action %s of %s needs a capability', p_name, p_machine));
    END IF;
    SELECT * INTO v_existing FROM bulwark.actions AS a WHERE a.machine = p_machine AND a.name = p_name;
    IF FOUND THEN
        IF v_existing.kind IS DISTINCT FROM p_kind OR v_existing.capability IS DISTINCT FROM p_capability THEN
            PERFORM bulwark.raise('BWI02', pg_catalog.format(
                'action %s of %s is declared as %s needing %s; an action is never redefined',
                p_name, p_machine, v_existing.kind, v_existing.capability));
        END IF;
        RETURN;
    END IF;
    PERFORM bulwark.context_set(NULL, 'declare_action', NULL, NULL);
    INSERT INTO bulwark.actions (machine, name, kind, capability) VALUES (p_machine, p_name, p_kind, p_capability);
    PERFORM bulwark.engine_build(p_machine);
END;
$$;
-- +goose StatementEnd

-- An edge of the machine, named by its action. The first edge of an action
-- names its capability; later edges of the same action may omit it.
-- +goose StatementBegin
CREATE FUNCTION bulwark.declare_transition(p_machine text, p_name text, p_from_state text, p_to_state text, p_capability text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_capability text := p_capability;
BEGIN
    IF v_capability IS NULL THEN
        SELECT a.capability INTO v_capability FROM bulwark.actions AS a WHERE a.machine = p_machine AND a.name = p_name;
    END IF;
    PERFORM bulwark.declare_action(p_machine, p_name, 'transition', v_capability);
    PERFORM bulwark.context_set(NULL, 'declare_transition', NULL, NULL);
    INSERT INTO bulwark.transitions (machine, name, from_state, to_state)
    VALUES (p_machine, p_name, p_from_state, p_to_state);
    PERFORM bulwark.engine_build(p_machine);
END;
$$;
-- +goose StatementEnd

-- The rules of an action (see bulwark.action_rules). p_kind arg_check and
-- row_check take p_sql (a boolean: false refuses, like a CHECK constraint),
-- p_sqlstate and p_message (an SQL text expression); set takes p_column and
-- p_sql (its new value); after takes p_sql (a statement).
-- +goose StatementBegin
CREATE FUNCTION bulwark.declare_rule(
    p_machine text,
    p_action text,
    p_kind text,
    p_sql text,
    p_sqlstate text DEFAULT NULL,
    p_message text DEFAULT NULL,
    p_column text DEFAULT NULL
)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- A rule is one expression (or, for after, one PERFORM of a function
    -- call), spliced into the engine's source: no statement separators or
    -- comments; the engine's body is quoted with a tag chosen at random on
    -- every build, so no rule can close it.
    IF p_sql ~ ';|--|/[*]' OR p_message ~ ';|--|/[*]' THEN
        PERFORM bulwark.raise('22023', 'a rule is one SQL expression: no ";" and no comments');
    END IF;
    IF p_kind = 'after' AND p_sql !~ '^[[:space:]]*PERFORM[[:space:]]+[a-z_][a-z0-9_]*[.][a-z_][a-z0-9_]*[[:space:]]*[(]' THEN
        PERFORM bulwark.raise('22023', 'an after rule is PERFORM schema.function(...)');
    END IF;
    PERFORM bulwark.context_set(NULL, 'declare_rule', NULL,
        pg_catalog.format('%s.%s %s %s: %s', p_machine, coalesce(p_action, '*'), p_kind, coalesce(p_column, ''), p_sql));
    INSERT INTO bulwark.action_rules (machine, action, kind, body, sqlstate, message, col)
    VALUES (p_machine, p_action, p_kind, p_sql, p_sqlstate, p_message, p_column);
    PERFORM bulwark.engine_build(p_machine);
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION bulwark.declare_check(p_machine text, p_action text, p_sql text, p_sqlstate text, p_message text)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT bulwark.declare_rule(p_machine, p_action, 'row_check', p_sql, p_sqlstate, p_message) $$;
-- +goose StatementEnd

COMMENT ON FUNCTION bulwark.declare_check(text, text, text, text, text) IS 'A precondition of an action on the locked row r (and v_to, p_actor, p_args, p_note): when p_sql is false the action is refused with p_sqlstate and the message p_message (an SQL text expression).';

-- +goose StatementBegin
CREATE FUNCTION bulwark.declare_arg_check(p_machine text, p_action text, p_sql text, p_sqlstate text, p_message text)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT bulwark.declare_rule(p_machine, p_action, 'arg_check', p_sql, p_sqlstate, p_message) $$;
-- +goose StatementEnd

COMMENT ON FUNCTION bulwark.declare_arg_check(text, text, text, text, text) IS 'A check of an action''s arguments (p_args, p_note, p_actor), before any lock: when p_sql is false the action is refused with p_sqlstate (class 22 for malformed input).';

-- +goose StatementBegin
CREATE FUNCTION bulwark.declare_set(p_machine text, p_action text, p_column text, p_sql text)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT bulwark.declare_rule(p_machine, p_action, 'set', p_sql, NULL, NULL, p_column) $$;
-- +goose StatementEnd

COMMENT ON FUNCTION bulwark.declare_set(text, text, text, text) IS 'A column an action writes, with its new value (an SQL expression over r, p_args, p_actor, v_to). A NULL action: every update and transition of the machine.';

-- +goose StatementBegin
CREATE FUNCTION bulwark.declare_after(p_machine text, p_action text, p_sql text)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT bulwark.declare_rule(p_machine, p_action, 'after', p_sql) $$;
-- +goose StatementEnd

COMMENT ON FUNCTION bulwark.declare_after(text, text, text) IS 'A statement (PL/pgSQL, e.g. PERFORM app.enqueue(r)) run after the action''s write, in the same transaction, with r the written row.';

-- Creates a function that runs inside engine code (a domain trigger
-- function, a helper a rule calls) as bulwark_engine's: nobody but the
-- engine can then replace it, so no owner login can run as the engine by
-- rewriting a helper. p_definition is the CREATE [OR REPLACE] FUNCTION
-- statement of p_signature; the declaration is logged with a hash of it.
-- +goose StatementBegin
CREATE FUNCTION bulwark.declare_function(p_signature text, p_definition text, p_execute_for text[] DEFAULT '{}')
RETURNS regprocedure
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_fn regprocedure;
BEGIN
    -- p_definition is code by design, as a migration's CREATE FUNCTION is:
    -- only bulwark_owner may declare, and the declaration is logged with a
    -- hash of the text. Hence no sanitising, and no warning for it:
    -- @plpgsql_check_options: security_warnings = false
    IF p_definition !~* '^[[:space:]]*CREATE[[:space:]]+(OR[[:space:]]+REPLACE[[:space:]]+)?FUNCTION[[:space:]]' THEN
        PERFORM bulwark.raise('22023', 'declare_function takes one CREATE FUNCTION statement');
    END IF;
    IF NOT p_execute_for <@ ARRAY['bulwark_app', 'bulwark_jobs'] THEN
        PERFORM bulwark.raise('22023', 'declare_function grants EXECUTE to bulwark_app and bulwark_jobs only');
    END IF;
    EXECUTE p_definition;
    v_fn := p_signature::regprocedure;
    IF (SELECT p.proowner FROM pg_catalog.pg_proc AS p WHERE p.oid = v_fn) <> 'bulwark_engine'::regrole THEN
        PERFORM bulwark.raise('22023', pg_catalog.format('%s is not the function the definition created', p_signature));
    END IF;
    EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', v_fn);
    EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO bulwark_owner', v_fn);
    IF pg_catalog.cardinality(p_execute_for) > 0 THEN
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s', v_fn,
            (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(r), ', ') FROM pg_catalog.unnest(p_execute_for) AS r));
    END IF;
    INSERT INTO bulwark.transition_log (machine, note, to_state, transition, correlation_id)
    VALUES ('bulwark.function',
            pg_catalog.left(pg_catalog.format('%s by %s, sha256:%s: %s', v_fn, session_user,
                pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(p_definition, 'UTF8')), 'hex'), p_definition), 2000),
            'present', 'declare_function',
            pg_catalog.left(pg_catalog.current_setting('bulwark.correlation_id', true), 200));
    RETURN v_fn;
END;
$$;
-- +goose StatementEnd

-- Drops a function made by bulwark.declare_function, in a Down migration.
-- +goose StatementBegin
CREATE FUNCTION bulwark.undeclare_function(p_function regprocedure)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF (SELECT p.proowner FROM pg_catalog.pg_proc AS p WHERE p.oid = p_function) <> 'bulwark_engine'::regrole
       OR (SELECT p.pronamespace FROM pg_catalog.pg_proc AS p WHERE p.oid = p_function) = 'bulwark'::regnamespace THEN
        PERFORM bulwark.raise('22023', pg_catalog.format('%s was not made by bulwark.declare_function', p_function));
    END IF;
    INSERT INTO bulwark.transition_log (machine, note, from_state, to_state, transition, correlation_id)
    VALUES ('bulwark.function', pg_catalog.left(pg_catalog.format('%s by %s', p_function, session_user), 2000),
            'present', 'removed', 'undeclare_function',
            pg_catalog.left(pg_catalog.current_setting('bulwark.correlation_id', true), 200));
    EXECUTE pg_catalog.format('DROP FUNCTION %s', p_function);
END;
$$;
-- +goose StatementEnd

-- Registers p_function, a typed wrapper of the machine's engine (what sqlc
-- calls), as the SQL API of an action, and grants EXECUTE on it to the
-- application and job roles: the only grant a domain needs, made by the
-- core. The wrapper must be SECURITY DEFINER, owned by bulwark_owner and
-- pinned to search_path pg_catalog, pg_temp.
-- +goose StatementBegin
CREATE FUNCTION bulwark.declare_api(p_function regprocedure, p_machine text, p_action text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_fn record;
BEGIN
    SELECT p.prosecdef, p.proowner::regrole::text AS owner, p.proconfig, p.prorettype
    INTO v_fn
    FROM pg_catalog.pg_proc AS p
    WHERE p.oid = p_function;
    IF NOT v_fn.prosecdef OR v_fn.owner <> 'bulwark_owner'
       OR NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (v_fn.proconfig), false) THEN
        PERFORM bulwark.raise('22023', pg_catalog.format(
            '%s must be SECURITY DEFINER, owned by bulwark_owner and SET search_path = pg_catalog, pg_temp', p_function));
    END IF;
    IF NOT EXISTS (
        SELECT FROM bulwark.guarded_tables AS g
        JOIN pg_catalog.pg_class AS c ON c.oid = g.relation
        WHERE g.machine = p_machine AND c.reltype = v_fn.prorettype
    ) THEN
        PERFORM bulwark.raise('22023', pg_catalog.format('%s must return the row type of the table guarded by machine %s', p_function, p_machine));
    END IF;
    EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', p_function);
    EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO bulwark_app, bulwark_jobs', p_function);
    PERFORM bulwark.api_register(p_function, p_machine, p_action);
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION bulwark.api_register(p_function regprocedure, p_machine text, p_action text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM bulwark.context_set(NULL, 'declare_api', NULL, p_function::text);
    INSERT INTO bulwark.api_functions (function, machine, action) VALUES (p_function, p_machine, p_action)
    ON CONFLICT (function) DO UPDATE SET machine = excluded.machine, action = excluded.action;
END;
$$;
-- +goose StatementEnd

-- Idempotent for the same meaning, so a domain's Down and Up can run again;
-- a different description for an existing name is a redefinition and fails.
-- +goose StatementBegin
CREATE FUNCTION bulwark.declare_capability(p_name text, p_description text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_existing text;
BEGIN
    SELECT c.description INTO v_existing FROM bulwark.capabilities AS c WHERE c.name = p_name;
    IF FOUND THEN
        IF v_existing IS DISTINCT FROM p_description THEN
            PERFORM bulwark.raise('BWI02', pg_catalog.format('capability %s exists with another meaning; capabilities are never redefined', p_name));
        END IF;
        RETURN;
    END IF;
    PERFORM bulwark.context_set(NULL, 'declare_capability', NULL, NULL);
    INSERT INTO bulwark.capabilities (name, description) VALUES (p_name, p_description);
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION bulwark.declare_role(p_name text, p_capabilities text[])
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_missing text;
BEGIN
    SELECT c INTO v_missing
    FROM pg_catalog.unnest(p_capabilities) AS c
    WHERE NOT EXISTS (SELECT FROM bulwark.capabilities AS k WHERE k.name = c AND k.deprecated_at IS NULL)
    LIMIT 1;
    IF FOUND THEN
        PERFORM bulwark.raise('BWN01', pg_catalog.format('role %s: no such (or deprecated) capability %s', p_name, v_missing));
    END IF;
    PERFORM bulwark.context_set(NULL, 'declare_role', NULL, NULL);
    INSERT INTO bulwark.roles (name) VALUES (p_name) ON CONFLICT DO NOTHING;
    INSERT INTO bulwark.role_capabilities (role, capability)
    SELECT p_name, c FROM pg_catalog.unnest(p_capabilities) AS c
    ON CONFLICT DO NOTHING;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION bulwark.declare_principal(p_kind text, p_name text, p_roles text[], p_db_role text)
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id uuid;
BEGIN
    PERFORM bulwark.context_set(NULL, 'declare_principal', NULL,
        pg_catalog.format('declared by migration (%s) with roles %s', session_user, p_roles::text));
    INSERT INTO bulwark.principals (kind, name, db_role) VALUES (p_kind, p_name, p_db_role) RETURNING id INTO v_id;
    INSERT INTO bulwark.principal_roles (principal_id, role)
    SELECT v_id, r FROM pg_catalog.unnest(p_roles) AS r;
    RETURN v_id;
END;
$$;
-- +goose StatementEnd

-- Removes a machine, its actions, rules and states in a domain's Down
-- migration; refused while a guarded table still uses it.
-- +goose StatementBegin
CREATE FUNCTION bulwark.undeclare_machine(p_name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM bulwark.context_set(NULL, 'undeclare_machine', NULL, p_name);
    -- machines -> states is deferred, so states can go first.
    DELETE FROM bulwark.action_rules WHERE machine = p_name;
    DELETE FROM bulwark.transitions WHERE machine = p_name;
    DELETE FROM bulwark.actions WHERE machine = p_name;
    DELETE FROM bulwark.states WHERE machine = p_name;
    DELETE FROM bulwark.machines WHERE name = p_name;
END;
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
AS $$ SELECT p.id FROM bulwark.principals AS p WHERE p.name = pg_catalog.normalize(p_name, 'NFKC') $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION bulwark.principal_create(p_actor uuid, p_kind text, p_name text)
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id   uuid;
    v_name text;
BEGIN
    PERFORM bulwark.require_capability(p_actor, 'principal.create');
    IF p_kind IS NULL OR p_kind NOT IN ('human', 'service') THEN
        PERFORM bulwark.raise('22023', pg_catalog.format('unknown principal kind %s; use human or service', coalesce(p_kind, 'NULL')));
    END IF;
    IF pg_catalog.char_length(p_name) > 200 THEN
        PERFORM bulwark.raise('22001', 'a principal name has at most 200 characters');
    END IF;
    IF p_name IS NULL OR p_name ~ '[[:cntrl:]]'
       OR p_name ~ '[\u00AD\u061C\u180E\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF\uFFF9-\uFFFB]' THEN
        PERFORM bulwark.raise('22023', 'a principal name has no control or invisible formatting characters');
    END IF;
    -- One name, one look: compatibility forms fold to one (NFKC), and Latin
    -- letters do not mix with Cyrillic or Greek ones.
    v_name := pg_catalog.normalize(p_name, 'NFKC');
    IF pg_catalog.char_length(v_name) NOT BETWEEN 1 AND 200 OR v_name <> pg_catalog.btrim(v_name) THEN
        PERFORM bulwark.raise('22023', 'a principal name has 1 to 200 printable characters without surrounding spaces');
    END IF;
    IF v_name ~ '[A-Za-z]' AND v_name ~ '[\u0370-\u03FF\u0400-\u052F]' THEN
        PERFORM bulwark.raise('22023', 'a principal name does not mix Latin letters with Cyrillic or Greek ones');
    END IF;
    -- A person acts through a service (bulwark_app); a service principal
    -- made at run time is bound to nothing until a migration says so.
    PERFORM bulwark.context_set(p_actor, 'create', NULL, p_kind || ' ' || v_name);
    INSERT INTO bulwark.principals (kind, name, db_role)
    VALUES (p_kind, v_name, CASE WHEN p_kind = 'human' THEN 'bulwark_app' END)
    RETURNING id INTO v_id;
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
BEGIN
    PERFORM bulwark.require_capability(p_actor, 'role.grant');
    IF NOT EXISTS (SELECT FROM bulwark.principals AS p WHERE p.id = p_principal) THEN
        PERFORM bulwark.raise('BWN01', pg_catalog.format('no principal %s', coalesce(p_principal::text, 'NULL')));
    END IF;
    IF NOT EXISTS (SELECT FROM bulwark.roles AS r WHERE r.name = p_role) THEN
        PERFORM bulwark.raise('BWN01', pg_catalog.format('no role %s', coalesce(p_role, 'NULL')));
    END IF;
    -- Granting a role the principal already holds changes nothing and logs
    -- nothing; the audit trigger logs and notifies a grant.
    PERFORM bulwark.context_set(p_actor, 'role_grant', NULL, 'role=' || p_role);
    INSERT INTO bulwark.principal_roles (principal_id, role, granted_by)
    VALUES (p_principal, p_role, p_actor)
    ON CONFLICT DO NOTHING;
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
BEGIN
    PERFORM bulwark.require_capability(p_actor, 'role.revoke');
    IF NOT EXISTS (SELECT FROM bulwark.principals AS p WHERE p.id = p_principal) THEN
        PERFORM bulwark.raise('BWN01', pg_catalog.format('no principal %s', coalesce(p_principal::text, 'NULL')));
    END IF;
    IF NOT EXISTS (SELECT FROM bulwark.roles AS r WHERE r.name = p_role) THEN
        PERFORM bulwark.raise('BWN01', pg_catalog.format('no role %s', coalesce(p_role, 'NULL')));
    END IF;
    PERFORM bulwark.context_set(p_actor, 'role_revoke', NULL, 'role=' || p_role);
    DELETE FROM bulwark.principal_roles WHERE principal_id = p_principal AND role = p_role;
END;
$$;
-- +goose StatementEnd

------------------------------------------------------------------------------
-- The enforcement contract
------------------------------------------------------------------------------

-- The live constraints and unique indexes of a table, in the contract's
-- terms. One definition of "the contract" for guard(), declare_constraint()
-- and verify. The pinned search_path makes the definitions schema-qualify
-- everything outside pg_catalog, whoever calls.
-- +goose StatementBegin
CREATE FUNCTION bulwark.contract_catalog(p_table regclass)
RETURNS TABLE (name text, kind text, definition text, validated boolean)
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.conname::text,
           CASE c.contype
               WHEN 'c' THEN 'check'
               WHEN 'f' THEN 'foreign_key'
               WHEN 'p' THEN 'primary_key'
               WHEN 'u' THEN 'unique'
               WHEN 'x' THEN 'exclusion'
           END,
           -- NOT VALID is reported apart, so that revalidating a constraint
           -- does not change its definition.
           pg_catalog.regexp_replace(pg_catalog.pg_get_constraintdef(c.oid), ' NOT VALID$', ''),
           c.convalidated
               AND coalesce((SELECT x.indisvalid FROM pg_catalog.pg_index AS x WHERE x.indexrelid = c.conindid AND c.contype IN ('p', 'u', 'x')), true)
    FROM pg_catalog.pg_constraint AS c
    WHERE c.conrelid = p_table
      AND c.contype IN ('c', 'f', 'p', 'u', 'x')
    UNION ALL
    SELECT i.relname::text,
           'unique_index',
           pg_catalog.pg_get_indexdef(x.indexrelid),
           x.indisvalid AND x.indisready AND x.indislive
    FROM pg_catalog.pg_index AS x
    JOIN pg_catalog.pg_class AS i ON i.oid = x.indexrelid
    WHERE x.indrelid = p_table
      AND x.indisunique
      -- Indexes behind a PRIMARY KEY, UNIQUE or EXCLUDE constraint are
      -- covered by the constraint.
      AND NOT EXISTS (
          SELECT FROM pg_catalog.pg_constraint AS c
          WHERE c.conrelid = p_table AND c.conindid = x.indexrelid AND c.contype IN ('p', 'u', 'x')
      )
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION bulwark.contract_catalog(regclass) IS 'The live CHECK, UNIQUE, PRIMARY KEY, FOREIGN KEY and EXCLUDE constraints and unique indexes of a table, as the enforcement contract names them.';

-- Records every constraint and unique index p_table has now.
-- +goose StatementBegin
CREATE FUNCTION bulwark.contract_declare_all(p_table regclass)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM bulwark.context_set(NULL, 'declare_constraint', NULL, p_table::text);
    INSERT INTO bulwark.contract_constraints (relation, name, definition, kind)
    SELECT p_table, l.name, l.definition, l.kind
    FROM bulwark.contract_catalog(p_table) AS l
    ON CONFLICT (relation, name) DO UPDATE
    SET definition = excluded.definition,
        kind = excluded.kind,
        declared_at = pg_catalog.now();
END;
$$;
-- +goose StatementEnd

-- For a constraint or unique index that a domain migration adds to a table
-- after guarding it. Declaring again records the current definition, so a
-- migration that deliberately changes a constraint re-declares it.
-- +goose StatementBegin
CREATE FUNCTION bulwark.declare_constraint(p_table regclass, p_name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_live record;
BEGIN
    IF NOT EXISTS (SELECT FROM bulwark.guarded_tables AS g WHERE g.relation = p_table) THEN
        PERFORM bulwark.raise('BWN01', pg_catalog.format('%s is not guarded: call bulwark.guard() first', p_table));
    END IF;
    SELECT l.name, l.kind, l.definition, l.validated INTO v_live
    FROM bulwark.contract_catalog(p_table) AS l
    WHERE l.name = p_name;
    IF NOT FOUND THEN
        PERFORM bulwark.raise('BWN01', pg_catalog.format('%s has no constraint or unique index %s', p_table, coalesce(p_name, 'NULL')));
    END IF;
    IF NOT v_live.validated THEN
        PERFORM bulwark.raise(
            '22023',
            pg_catalog.format('%s on %s is not valid yet: a contract holds only what the data satisfies', p_name, p_table),
            NULL,
            pg_catalog.format('ALTER TABLE %s VALIDATE CONSTRAINT %I (or rebuild the index), then declare it', p_table, p_name));
    END IF;
    PERFORM bulwark.context_set(NULL, 'declare_constraint', NULL, p_table::text || ' ' || p_name);
    INSERT INTO bulwark.contract_constraints (relation, name, definition, kind)
    VALUES (p_table, v_live.name, v_live.definition, v_live.kind)
    ON CONFLICT (relation, name) DO UPDATE
    SET definition = excluded.definition,
        kind = excluded.kind,
        declared_at = pg_catalog.now();
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION bulwark.declare_constraint(regclass, text) IS 'Adds a constraint or unique index of a guarded table to the enforcement contract (or records its new definition). Call from a migration as the table owner, after the constraint is validated.';

-- +goose StatementBegin
CREATE FUNCTION bulwark.undeclare_constraint(p_table regclass, p_name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM bulwark.context_set(NULL, 'undeclare_constraint', NULL, p_table::text || ' ' || p_name);
    DELETE FROM bulwark.contract_constraints AS k WHERE k.relation = p_table AND k.name = p_name;
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION bulwark.undeclare_constraint(regclass, text) IS 'Removes a constraint from the enforcement contract, in the migration that drops it on purpose.';

-- p_line: the migration line. p_migrations: [{"version": 1, "path": "...",
-- "checksum": "sha256:...", "state": "applied_now" | "applied" |
-- "pending"}]. A migration applied by this run records what ran; one
-- applied earlier keeps the checksum it was first recorded with (a changed
-- file must stay visible as drift), or gets one now if it had none; one
-- rolled back loses its row, so that applying it again records it afresh.
-- Versions the binary does not know, and other lines, are left alone.
-- +goose StatementBegin
CREATE FUNCTION bulwark.migration_checksums_record(p_line text, p_migrations jsonb)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM bulwark.context_set(NULL, 'migration_checksums_record', NULL, NULL);
    DELETE FROM bulwark.migration_checksums AS k
    WHERE k.line = p_line
      AND k.version IN (
        SELECT (m ->> 'version')::bigint
        FROM pg_catalog.jsonb_array_elements(p_migrations) AS m
        WHERE m ->> 'state' = 'pending'
    );
    INSERT INTO bulwark.migration_checksums (line, version, checksum, path)
    SELECT p_line, (m ->> 'version')::bigint, m ->> 'checksum', coalesce(m ->> 'path', '')
    FROM pg_catalog.jsonb_array_elements(p_migrations) AS m
    WHERE m ->> 'state' = 'applied_now'
    ON CONFLICT (line, version) DO UPDATE
    SET checksum = excluded.checksum,
        path = excluded.path,
        recorded_at = pg_catalog.now();
    INSERT INTO bulwark.migration_checksums (line, version, checksum, path)
    SELECT p_line, (m ->> 'version')::bigint, m ->> 'checksum', coalesce(m ->> 'path', '')
    FROM pg_catalog.jsonb_array_elements(p_migrations) AS m
    WHERE m ->> 'state' = 'applied'
    ON CONFLICT (line, version) DO NOTHING;
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

CREATE TRIGGER bulwark_append_only
BEFORE UPDATE OR DELETE ON bulwark.transition_log
FOR EACH ROW EXECUTE FUNCTION bulwark.trg_append_only();

CREATE TRIGGER bulwark_append_only_truncate
BEFORE TRUNCATE ON bulwark.transition_log
FOR EACH STATEMENT EXECUTE FUNCTION bulwark.trg_append_only();

CREATE TRIGGER bulwark_log_insert
BEFORE INSERT ON bulwark.transition_log
FOR EACH ROW WHEN (CURRENT_USER <> 'bulwark_engine') EXECUTE FUNCTION bulwark.trg_log_insert();

-- Grant tables: every write logged and notified.
SELECT bulwark.protect('bulwark.principals', 'notify');
SELECT bulwark.protect('bulwark.role_capabilities', 'notify');
SELECT bulwark.protect('bulwark.principal_roles', 'notify');
-- Declarations: every write logged.
SELECT bulwark.protect('bulwark.capabilities', 'audited');
SELECT bulwark.protect('bulwark.capability_qualifiers', 'audited');
SELECT bulwark.protect('bulwark.roles', 'audited');
SELECT bulwark.protect('bulwark.machines', 'audited');
SELECT bulwark.protect('bulwark.states', 'audited');
SELECT bulwark.protect('bulwark.actions', 'audited');
SELECT bulwark.protect('bulwark.transitions', 'audited');
SELECT bulwark.protect('bulwark.action_rules', 'audited');
SELECT bulwark.protect('bulwark.guarded_tables', 'audited');
SELECT bulwark.protect('bulwark.api_functions', 'audited');
SELECT bulwark.protect('bulwark.contract_constraints', 'audited');
-- Bookkeeping: maintenance writes logged.
SELECT bulwark.protect('bulwark.idempotency_keys');
SELECT bulwark.protect('bulwark.maintenance_windows');
SELECT bulwark.protect('bulwark.migration_checksums');

REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON bulwark.transition_log FROM PUBLIC, bulwark_app, bulwark_jobs;
GRANT SELECT, INSERT ON bulwark.transition_log TO bulwark_engine;
GRANT USAGE ON SEQUENCE bulwark.transition_log_id_seq TO bulwark_engine;
GRANT SELECT ON bulwark.principal_capabilities TO bulwark_engine;

GRANT SELECT ON
    bulwark.actions,
    bulwark.action_rules,
    bulwark.api_functions,
    bulwark.capabilities,
    bulwark.capability_qualifiers,
    bulwark.contract_constraints,
    bulwark.guarded_tables,
    bulwark.machines,
    bulwark.migration_checksums,
    bulwark.principal_capabilities,
    bulwark.principal_roles,
    bulwark.principals,
    bulwark.role_capabilities,
    bulwark.roles,
    bulwark.states,
    bulwark.transition_log,
    bulwark.transitions
TO bulwark_app, bulwark_jobs;

-- Explicit, whatever the default privileges say: internal helpers are
-- callable only by their owner and the engine.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA bulwark FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    bulwark.principal_id(text),
    bulwark.principal_create(uuid, text, text),
    bulwark.role_grant(uuid, uuid, text),
    bulwark.role_revoke(uuid, uuid, text),
    bulwark.capability_name_problem(text),
    bulwark.contract_catalog(regclass),
    bulwark.idempotency_key_used(uuid, text)
TO bulwark_app, bulwark_jobs;
GRANT EXECUTE ON FUNCTION bulwark.idempotency_purge(integer) TO bulwark_jobs;
GRANT EXECUTE ON FUNCTION
    bulwark.raise(text, text, text, text),
    bulwark.maintenance_reason(),
    bulwark.context_set(uuid, text, text, text),
    bulwark.require_capability(uuid, text),
    bulwark.capability_name_problem(text),
    bulwark.contract_catalog(regclass),
    bulwark.idempotency_ttl(),
    bulwark.rule_problems(text),
    bulwark.engine_build(text)
TO bulwark_engine;

RESET ROLE;

-- Hand the core's code to bulwark_engine: every function that runs inside
-- engine code or writes the core, so no owner login can replace one and run
-- as the engine. bulwark_owner keeps only what it runs as itself: guard(),
-- unguard(), protect(), declare_api() and the declare_* shorthands. (As
-- the migration role: only a member of bulwark_engine, or a superuser, may
-- give it objects.) A later migration that adds a function engine code
-- calls hands it over the same way, or creates it with
-- bulwark.declare_function.
-- +goose StatementBegin
DO $hand$
DECLARE
    v_fn regprocedure;
BEGIN
    FOR v_fn IN
        SELECT p.oid::regprocedure
        FROM pg_catalog.pg_proc AS p
        WHERE p.pronamespace = 'bulwark'::regnamespace
          AND p.proname NOT IN ('guard', 'unguard', 'protect', 'declare_api',
                                'declare_check', 'declare_arg_check', 'declare_set', 'declare_after')
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s OWNER TO bulwark_engine', v_fn);
    END LOOP;
END
$hand$;
-- +goose StatementEnd
ALTER DEFAULT PRIVILEGES FOR ROLE bulwark_engine REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- What migrations and the maintenance switch need as bulwark_owner.
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA bulwark TO bulwark_owner;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA bulwark FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    bulwark.principal_id(text),
    bulwark.principal_create(uuid, text, text),
    bulwark.role_grant(uuid, uuid, text),
    bulwark.role_revoke(uuid, uuid, text),
    bulwark.capability_name_problem(text),
    bulwark.contract_catalog(regclass),
    bulwark.idempotency_key_used(uuid, text)
TO bulwark_app, bulwark_jobs;
GRANT EXECUTE ON FUNCTION bulwark.idempotency_purge(integer) TO bulwark_jobs;

SET LOCAL ROLE bulwark_owner;

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

-- bulwark_engine keeps no members.
-- +goose StatementBegin
DO $members$
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user) THEN
        EXECUTE pg_catalog.format('REVOKE bulwark_engine FROM %I', current_user);
    END IF;
END
$members$;
-- +goose StatementEnd

-- +goose Down
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';
-- +goose StatementBegin
DO $members$
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user) THEN
        EXECUTE pg_catalog.format('GRANT bulwark_engine TO %I', current_user);
    END IF;
END
$members$;
-- +goose StatementEnd
-- Restores the defaults (EXECUTE for PUBLIC) so no pg_default_acl entry is
-- left behind. The roles stay: they are cluster-wide and other databases
-- may use them.
ALTER DEFAULT PRIVILEGES FOR ROLE bulwark_engine GRANT EXECUTE ON FUNCTIONS TO PUBLIC;
SET LOCAL ROLE bulwark_owner;
DROP SCHEMA bulwark CASCADE;
ALTER DEFAULT PRIVILEGES FOR ROLE bulwark_owner GRANT EXECUTE ON FUNCTIONS TO PUBLIC;
RESET ROLE;
-- +goose StatementBegin
DO $members$
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user) THEN
        EXECUTE pg_catalog.format('REVOKE bulwark_engine FROM %I', current_user);
    END IF;
END
$members$;
-- +goose StatementEnd
