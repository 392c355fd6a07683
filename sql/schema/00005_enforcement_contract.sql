-- The enforcement contract that `bulwark verify` checks a live database
-- against: the constraints and unique indexes each guarded table had when
-- its migration put it behind the boundary (plus those a later migration
-- declares), and a checksum of every applied migration. Fixed forward:
-- bulwark.guard() is replaced so that every future guard records the
-- contract, and the contract of every table guarded so far is backfilled.

-- +goose Up
-- Fail fast rather than queue behind a long transaction and block every
-- session that then queues behind this migration's locks.
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';
SET LOCAL ROLE bulwark_owner;

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
    version     bigint PRIMARY KEY,
    checksum    text NOT NULL,
    path        text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT migration_checksum_format CHECK (checksum ~ '^(sha256:[0-9a-f]{64}|go(:[a-z0-9-]{1,100})?)$')
);

COMMENT ON TABLE bulwark.migration_checksums IS 'What each applied migration was when it was applied: sha256 of a SQL file, or go[:marker] for a Go migration (what it installs, e.g. go:river-schema-8). Recorded by schema.Up after migrating; read by bulwark verify.';
COMMENT ON COLUMN bulwark.migration_checksums.path IS 'The file name; empty for a Go migration registered without one.';

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
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_boundary text := bulwark.boundary_enter();
BEGIN
    INSERT INTO bulwark.contract_constraints (relation, name, definition, kind)
    SELECT p_table, l.name, l.definition, l.kind
    FROM bulwark.contract_catalog(p_table) AS l
    ON CONFLICT (relation, name) DO UPDATE
    SET definition = excluded.definition,
        kind = excluded.kind,
        declared_at = pg_catalog.now();
    PERFORM bulwark.boundary_leave(v_boundary);
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
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_boundary text := bulwark.boundary_enter();
    v_live     record;
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
    INSERT INTO bulwark.contract_constraints (relation, name, definition, kind)
    VALUES (p_table, v_live.name, v_live.definition, v_live.kind)
    ON CONFLICT (relation, name) DO UPDATE
    SET definition = excluded.definition,
        kind = excluded.kind,
        declared_at = pg_catalog.now();
    PERFORM bulwark.boundary_leave(v_boundary);
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION bulwark.declare_constraint(regclass, text) IS 'Adds a constraint or unique index of a guarded table to the enforcement contract (or records its new definition). Call from a migration as the table owner, after the constraint is validated.';

-- +goose StatementBegin
CREATE FUNCTION bulwark.undeclare_constraint(p_table regclass, p_name text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_boundary text := bulwark.boundary_enter();
BEGIN
    DELETE FROM bulwark.contract_constraints AS k WHERE k.relation = p_table AND k.name = p_name;
    PERFORM bulwark.boundary_leave(v_boundary);
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION bulwark.undeclare_constraint(regclass, text) IS 'Removes a constraint from the enforcement contract, in the migration that drops it on purpose.';

-- p_migrations: [{"version": 1, "path": "...", "checksum": "sha256:...",
-- "state": "applied_now" | "applied" | "pending"}]. A migration applied by
-- this run records what ran; one applied earlier keeps the checksum it was
-- first recorded with (a changed file must stay visible as drift), or gets
-- one now if it had none; one rolled back loses its row, so that applying
-- it again records it afresh. Versions the binary does not know are left
-- alone.
-- +goose StatementBegin
CREATE FUNCTION bulwark.migration_checksums_record(p_migrations jsonb)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_boundary text := bulwark.boundary_enter();
BEGIN
    DELETE FROM bulwark.migration_checksums AS k
    WHERE k.version IN (
        SELECT (m ->> 'version')::bigint
        FROM pg_catalog.jsonb_array_elements(p_migrations) AS m
        WHERE m ->> 'state' = 'pending'
    );
    INSERT INTO bulwark.migration_checksums (version, checksum, path)
    SELECT (m ->> 'version')::bigint, m ->> 'checksum', coalesce(m ->> 'path', '')
    FROM pg_catalog.jsonb_array_elements(p_migrations) AS m
    WHERE m ->> 'state' = 'applied_now'
    ON CONFLICT (version) DO UPDATE
    SET checksum = excluded.checksum,
        path = excluded.path,
        recorded_at = pg_catalog.now();
    INSERT INTO bulwark.migration_checksums (version, checksum, path)
    SELECT (m ->> 'version')::bigint, m ->> 'checksum', coalesce(m ->> 'path', '')
    FROM pg_catalog.jsonb_array_elements(p_migrations) AS m
    WHERE m ->> 'state' = 'applied'
    ON CONFLICT (version) DO NOTHING;
    PERFORM bulwark.boundary_leave(v_boundary);
END;
$$;
-- +goose StatementEnd

-- guard() as in 00001, recording the table's contract at the end.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION bulwark.guard(p_table regclass, p_machine text, p_state_column text)
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
    PERFORM bulwark.contract_declare_all(p_table);
    PERFORM bulwark.boundary_leave(v_boundary);
END;
$$;
-- +goose StatementEnd

SELECT bulwark.protect('bulwark.contract_constraints');
SELECT bulwark.protect('bulwark.migration_checksums');

-- Verify may run as a login member of bulwark_app: the contract is no
-- secret, the catalogs show the same.
GRANT SELECT ON bulwark.contract_constraints, bulwark.migration_checksums TO bulwark_app, bulwark_jobs;

REVOKE EXECUTE ON FUNCTION
    bulwark.contract_catalog(regclass),
    bulwark.contract_declare_all(regclass),
    bulwark.declare_constraint(regclass, text),
    bulwark.undeclare_constraint(regclass, text),
    bulwark.migration_checksums_record(jsonb)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bulwark.contract_catalog(regclass) TO bulwark_app, bulwark_jobs;

-- The tables guarded before this migration.
SELECT bulwark.contract_declare_all(g.relation) FROM bulwark.guarded_tables AS g;

RESET ROLE;

-- +goose Down
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';
SET LOCAL ROLE bulwark_owner;

-- guard() exactly as 00001 created it.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION bulwark.guard(p_table regclass, p_machine text, p_state_column text)
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

DROP FUNCTION bulwark.migration_checksums_record(jsonb);
DROP FUNCTION bulwark.undeclare_constraint(regclass, text);
DROP FUNCTION bulwark.declare_constraint(regclass, text);
DROP FUNCTION bulwark.contract_declare_all(regclass);
DROP FUNCTION bulwark.contract_catalog(regclass);
DROP TABLE bulwark.migration_checksums;
DROP TABLE bulwark.contract_constraints;

RESET ROLE;
