-- Transaction-local settings that the database's triggers read.

-- SetCorrelationID tags the rest of the transaction: every transition_log row
-- it writes carries this id, tying the database's record to the Go decision.
-- name: SetCorrelationID :exec
SELECT pg_catalog.set_config('bulwark.correlation_id', @correlation_id::text, true);
