-- Transaction-local settings that the database's triggers read.

-- SetCorrelationID tags the rest of the transaction: every transition_log row
-- it writes carries this id, tying the database's record to the Go decision.
-- name: SetCorrelationID :exec
SELECT pg_catalog.set_config('bulwark.correlation_id', @correlation_id::text, true);

-- IdempotencyKeyUsed reports whether the actor already used the key, so the
-- gate lets the transition function answer a retry instead of a policy.
-- name: IdempotencyKeyUsed :one
SELECT bulwark.idempotency_key_used(@actor::uuid, @idem_key::text)::boolean AS used;
