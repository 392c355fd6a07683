-- Grant changes as the audit log recorded them, for the grants cache's
-- observer.

-- GrantChangeLatest is the latest audited write of a grant table that
-- notifies bulwark_grants, and how long ago it was written on the
-- database's clock: for one principal (its row or its roles), or, with a
-- NULL principal, of a role's capabilities (whose notification names
-- everyone). The listener asks right after a notification, so the change
-- it finds is the one that notified, or a later one: scanning the log's
-- ids backwards stops at the first match, among the newest rows.
-- name: GrantChangeLatest :one
SELECT
    (EXTRACT(epoch FROM pg_catalog.clock_timestamp() - l.at) * 1000000)::bigint AS age_us,
    l.transition
FROM bulwark.transition_log AS l
WHERE CASE
        WHEN sqlc.narg('principal_id')::uuid IS NULL THEN l.machine = 'bulwark.role_capabilities'
        ELSE l.machine IN ('bulwark.principal', 'bulwark.principal_role') AND l.entity_id = sqlc.narg('principal_id')::uuid
    END
ORDER BY l.id DESC
LIMIT 1;
