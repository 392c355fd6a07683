-- Conflicts, declared by the domain that owns the constraint. A unique or
-- exclusion violation is a defect (an invariant failure, HTTP 500) unless
-- the table's migration says that it is a lost race: then the error mapper
-- (db.Conflicts, which the gate loads) reports a conflict with the code,
-- reason and retryability declared here. The kit names no domain's
-- constraint; it declares its own (a taken principal name) the same way.
--
-- The declarations are a table of their own, not columns of
-- bulwark.contract_constraints: the contract lists what a guarded table
-- must keep (and is rewritten by guard() and declare_constraint()), while a
-- conflict says what a violation means, for any table, guarded or not
-- (bulwark.principals is protected, not guarded). declare_conflict() reads
-- the live constraints through the contract's one definition of them,
-- bulwark.contract_catalog().

-- +goose Up
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';
SET LOCAL ROLE bulwark_owner;

CREATE TABLE bulwark.conflict_constraints (
    relation    regclass NOT NULL,
    name        text NOT NULL,
    code        text NOT NULL,
    declared_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    reason      text NOT NULL,
    retryable   boolean NOT NULL,
    PRIMARY KEY (relation, name),
    CONSTRAINT conflict_constraint_code CHECK (code ~ '^[a-z][a-z0-9_]{0,62}$'),
    CONSTRAINT conflict_constraint_name CHECK (pg_catalog.char_length(name) BETWEEN 1 AND 63),
    CONSTRAINT conflict_constraint_reason CHECK (
        pg_catalog.char_length(reason) BETWEEN 1 AND 300 AND reason !~ '[[:cntrl:]]'
    )
);

COMMENT ON TABLE bulwark.conflict_constraints IS 'The unique and exclusion constraints (and unique indexes) whose violation is a conflict, not a defect: a lost race, reported with the declared code and reason. Filled by bulwark.declare_conflict() from the migration that owns the table; read by the error mapper (db.LoadConflicts) and bulwark verify.';
COMMENT ON COLUMN bulwark.conflict_constraints.code IS 'The conflict''s stable code (fault.Error.Code), such as name_taken: lower-case letters, digits and underscores.';
COMMENT ON COLUMN bulwark.conflict_constraints.reason IS 'The sentence a caller sees (fault.Error.Reason); at most 300 characters, no control characters.';
COMMENT ON COLUMN bulwark.conflict_constraints.retryable IS 'Whether trying again with fresh state may succeed. False when the retry meets the same row again (a taken name).';

SELECT bulwark.protect('bulwark.conflict_constraints', 'audited');
GRANT SELECT ON bulwark.conflict_constraints TO bulwark_app, bulwark_jobs;

-- declare_conflict declares that a violation of p_constraint (a unique or
-- exclusion constraint, or a unique index, of p_table) is a conflict: a
-- lost race, reported with code p_code and reason p_reason, retryable with
-- fresh state when p_retryable. Declaring again records the new meaning.
-- Call it from the migration that owns the table. Created by the engine
-- (declare_function), as the other declarations are its: nobody but the
-- engine writes the declarations, and no owner login can replace the
-- function that does.
-- +goose StatementBegin
SELECT bulwark.declare_function('bulwark.declare_conflict(regclass, text, text, boolean, text)', $def$
CREATE FUNCTION bulwark.declare_conflict(p_table regclass, p_constraint text, p_code text, p_retryable boolean, p_reason text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_kind text;
BEGIN
    IF p_table IS NULL OR p_constraint IS NULL OR p_code IS NULL OR p_retryable IS NULL OR p_reason IS NULL THEN
        PERFORM bulwark.raise('22004', 'declare_conflict: the table, constraint, code, retryability and reason are required');
    END IF;
    -- Lengths first: nothing below quotes an unbounded text into a message.
    IF pg_catalog.char_length(p_code) > 63 THEN
        PERFORM bulwark.raise('22001', 'declare_conflict: a conflict code is at most 63 characters');
    END IF;
    IF p_code !~ '^[a-z][a-z0-9_]*$' THEN
        PERFORM bulwark.raise('22023',
            pg_catalog.format('declare_conflict: conflict code %L is not lower-case letters, digits and underscores, starting with a letter', p_code));
    END IF;
    IF pg_catalog.char_length(p_reason) > 300 THEN
        PERFORM bulwark.raise('22001', 'declare_conflict: a conflict''s reason is at most 300 characters');
    END IF;
    IF pg_catalog.btrim(p_reason) = '' OR p_reason ~ '[[:cntrl:]]' THEN
        PERFORM bulwark.raise('22023', 'declare_conflict: a conflict''s reason is one line of text, without control characters');
    END IF;
    IF pg_catalog.char_length(p_constraint) > 63 THEN
        PERFORM bulwark.raise('22001', 'declare_conflict: a constraint name is at most 63 characters');
    END IF;
    -- The core's tables' conflicts are the core's, fixed here: no domain
    -- migration may turn a defect of the core into a retryable answer.
    IF (SELECT c.relnamespace FROM pg_catalog.pg_class AS c WHERE c.oid = p_table) = 'bulwark'::regnamespace
       AND (p_table, p_constraint, p_code, p_retryable) IS DISTINCT FROM
           ('bulwark.principals'::regclass, 'principal_name_unique', 'name_taken', false) THEN
        PERFORM bulwark.raise('42501', pg_catalog.format('declare_conflict: %s belongs to the core: its conflicts are declared by the core', p_table));
    END IF;
    SELECT l.kind INTO v_kind
    FROM bulwark.contract_catalog(p_table) AS l
    WHERE l.name = p_constraint;
    IF NOT FOUND THEN
        PERFORM bulwark.raise('BWN01', pg_catalog.format('%s has no constraint or unique index %I', p_table, p_constraint));
    END IF;
    IF v_kind NOT IN ('exclusion', 'primary_key', 'unique', 'unique_index') THEN
        PERFORM bulwark.raise('22023',
            pg_catalog.format('%I on %s is a %s constraint: only a unique or exclusion constraint (or unique index) can be lost to a race', p_constraint, p_table, pg_catalog.replace(v_kind, '_', ' ')));
    END IF;
    PERFORM bulwark.context_set(NULL, 'declare_conflict', NULL, pg_catalog.format('%s %s: %s', p_table, p_constraint, p_code));
    INSERT INTO bulwark.conflict_constraints AS k (relation, name, code, reason, retryable)
    VALUES (p_table, p_constraint, p_code, p_reason, p_retryable)
    ON CONFLICT (relation, name) DO UPDATE
    SET code = excluded.code,
        declared_at = pg_catalog.now(),
        reason = excluded.reason,
        retryable = excluded.retryable
    WHERE (k.code, k.reason, k.retryable) IS DISTINCT FROM (excluded.code, excluded.reason, excluded.retryable);
END;
$fn$
$def$);
-- +goose StatementEnd

-- Removes a declaration, in a Down migration before its table or
-- constraint is dropped.
-- +goose StatementBegin
SELECT bulwark.declare_function('bulwark.undeclare_conflict(regclass, text)', $def$
CREATE FUNCTION bulwark.undeclare_conflict(p_table regclass, p_constraint text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF (SELECT c.relnamespace FROM pg_catalog.pg_class AS c WHERE c.oid = p_table) = 'bulwark'::regnamespace THEN
        PERFORM bulwark.raise('42501', pg_catalog.format('undeclare_conflict: %s belongs to the core: its conflicts are declared by the core', p_table));
    END IF;
    PERFORM bulwark.context_set(NULL, 'undeclare_conflict', NULL, pg_catalog.format('%s %s', p_table, pg_catalog.left(p_constraint, 63)));
    DELETE FROM bulwark.conflict_constraints AS k WHERE k.relation = p_table AND k.name = p_constraint;
END;
$fn$
$def$);
-- +goose StatementEnd


-- The core's own: a principal's name is unique, and the principal that
-- took it stays, so a retry meets it again.
SELECT bulwark.declare_conflict('bulwark.principals', 'principal_name_unique', 'name_taken', false,
    'a principal with that name exists');

RESET ROLE;

-- +goose Down
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';
SET LOCAL ROLE bulwark_owner;

-- The schema's owner drops the engine's functions too.
DROP FUNCTION bulwark.undeclare_conflict(regclass, text);
DROP FUNCTION bulwark.declare_conflict(regclass, text, text, boolean, text);
DROP TABLE bulwark.conflict_constraints;

RESET ROLE;
