-- The audit log, read-only for everyone.

-- name: TransitionLogByEntity :many
SELECT *
FROM bulwark.transition_log
WHERE entity_id = @entity_id::uuid
ORDER BY id;
