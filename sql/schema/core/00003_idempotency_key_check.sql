-- The gate asks bulwark.idempotency_key_used on every keyed call whose
-- snapshot it reads from the primary, in the same round trip as the
-- snapshot. Written in SQL it was planned again on every call (a SECURITY
-- DEFINER SQL function is never inlined, and its body is not kept
-- planned), which made it cost about as much as the snapshot itself;
-- PL/pgSQL keeps the plan. Same signature, answer and grants.

-- +goose Up
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';
SET LOCAL ROLE bulwark_owner;

-- +goose StatementBegin
SELECT bulwark.declare_function('bulwark.idempotency_key_used(uuid, text)', $def$
CREATE OR REPLACE FUNCTION bulwark.idempotency_key_used(p_actor uuid, p_key text)
RETURNS boolean
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $fn$
BEGIN
    RETURN EXISTS (
        SELECT FROM bulwark.idempotency_keys AS k
        WHERE k.actor_id = p_actor
          AND k.key = p_key
          -- Within the TTL only: the purge waits an hour past it, so a key
          -- the gate was told is used is still there when the transition
          -- runs, and the transition answers from it (never afresh with
          -- the policy skipped).
          AND k.created_at > pg_catalog.now() - bulwark.idempotency_ttl()
    );
END;
$fn$
$def$, ARRAY['bulwark_app', 'bulwark_jobs']);
-- +goose StatementEnd

RESET ROLE;

-- +goose Down
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '5min';
SET LOCAL ROLE bulwark_owner;

-- +goose StatementBegin
SELECT bulwark.declare_function('bulwark.idempotency_key_used(uuid, text)', $def$
CREATE OR REPLACE FUNCTION bulwark.idempotency_key_used(p_actor uuid, p_key text)
RETURNS boolean
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT EXISTS (
        SELECT FROM bulwark.idempotency_keys AS k
        WHERE k.actor_id = p_actor
          AND k.key = p_key
          AND k.created_at > pg_catalog.now() - bulwark.idempotency_ttl()
    )
$fn$
$def$, ARRAY['bulwark_app', 'bulwark_jobs']);
-- +goose StatementEnd

RESET ROLE;
