-- ConflictList lists the conflicts migrations declared
-- (bulwark.declare_conflict), for the error mapper. It names each
-- constraint as the server reports its violation: schema, table and
-- constraint. A declaration whose table is gone names nothing and is left
-- out.
-- name: ConflictList :many
SELECT n.nspname::text AS schema_name,
       c.relname::text AS table_name,
       k.name,
       k.code,
       k.reason,
       k.retryable
FROM bulwark.conflict_constraints AS k
JOIN pg_catalog.pg_class AS c ON c.oid = k.relation
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
ORDER BY n.nspname, c.relname, k.name;
