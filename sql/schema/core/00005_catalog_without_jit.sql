-- bulwark.boundary_catalog reads the boundary out of the system catalogs in
-- one query. The planner cannot tell that a boundary has a few hundred
-- objects: it estimates the whole catalog (p_machine NULL) at millions, far
-- above jit_above_cost, so on a server built with LLVM (JIT is on by
-- default) every such call compiled the query before running it: 2.3 s a
-- call on a migrated example database, 2.2 s of it compiling; 68 ms
-- without. schema.Up reads the whole catalog before a run of migrations
-- and records it after (bulwark.boundary_record), so every
-- `bulwark migrate up` paid it twice. bulwark verify already turns JIT off
-- for its own session; the catalog now does it for every caller. Its
-- answer does not change.

-- +goose Up
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';

-- The catalog is bulwark_engine's (00002_boundary_record): altering it
-- takes membership for a moment unless the migration role is a superuser,
-- revoked at the end of this migration, in the same transaction.
-- +goose StatementBegin
DO $members$
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user)
       AND NOT pg_catalog.pg_has_role(current_user, 'bulwark_engine', 'MEMBER') THEN
        EXECUTE pg_catalog.format('GRANT bulwark_engine TO %I', current_user);
    END IF;
END
$members$;
-- +goose StatementEnd

ALTER FUNCTION bulwark.boundary_catalog(text) SET jit = off;

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
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user)
       AND NOT pg_catalog.pg_has_role(current_user, 'bulwark_engine', 'MEMBER') THEN
        EXECUTE pg_catalog.format('GRANT bulwark_engine TO %I', current_user);
    END IF;
END
$members$;
-- +goose StatementEnd

ALTER FUNCTION bulwark.boundary_catalog(text) RESET jit;

-- +goose StatementBegin
DO $members$
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user) THEN
        EXECUTE pg_catalog.format('REVOKE bulwark_engine FROM %I', current_user);
    END IF;
END
$members$;
-- +goose StatementEnd
