-- Principals, their capabilities and the grant functions.

-- name: CapabilityList :many
SELECT *
FROM bulwark.capabilities
ORDER BY name;

-- CapabilityNameProblem applies the database's rule for capability names
-- (no state, no qualifier); NULL means the name is acceptable.
-- name: CapabilityNameProblem :one
SELECT coalesce(bulwark.capability_name_problem(@name::text), '')::text AS problem;

-- name: PrincipalCapabilities :many
SELECT capability
FROM bulwark.principal_capabilities
WHERE principal_id = @principal_id::uuid
ORDER BY capability;

-- name: PrincipalCreate :one
SELECT bulwark.principal_create(
    p_actor => @actor::uuid,
    p_kind  => @kind::text,
    p_name  => @name::text
)::uuid AS id;

-- name: PrincipalGetByID :one
SELECT *
FROM bulwark.principals
WHERE id = @id::uuid;

-- name: PrincipalGetByName :one
SELECT *
FROM bulwark.principals
WHERE name = @name::text;

-- name: PrincipalRoles :many
SELECT role
FROM bulwark.principal_roles
WHERE principal_id = @principal_id::uuid
ORDER BY role;

-- name: RoleGrant :exec
SELECT bulwark.role_grant(
    p_actor     => @actor::uuid,
    p_principal => @principal_id::uuid,
    p_role      => @role::text
);

-- name: RoleRevoke :exec
SELECT bulwark.role_revoke(
    p_actor     => @actor::uuid,
    p_principal => @principal_id::uuid,
    p_role      => @role::text
);

-- CapabilityNameRules returns the data behind the capability-name rule (the
-- qualifier words and every declared state), so the Go registry applies the
-- database's rule to the database's data.
-- name: CapabilityNameRules :one
SELECT
    coalesce((SELECT array_agg(q.word ORDER BY q.word) FROM bulwark.capability_qualifiers AS q), '{}')::text[] AS qualifiers,
    coalesce((SELECT array_agg(DISTINCT s.name ORDER BY s.name) FROM bulwark.states AS s), '{}')::text[] AS states;

-- PrincipalGrants loads what the permission layer needs about one principal
-- in one round trip.
-- name: PrincipalGrants :one
SELECT
    p.id,
    p.active,
    p.kind,
    p.name,
    coalesce((
        SELECT array_agg(pc.capability ORDER BY pc.capability COLLATE "C")
        FROM bulwark.principal_capabilities AS pc
        WHERE pc.principal_id = p.id
    ), '{}')::text[] AS capabilities,
    coalesce((
        SELECT array_agg(pr.role ORDER BY pr.role COLLATE "C")
        FROM bulwark.principal_roles AS pr
        WHERE pr.principal_id = p.id
    ), '{}')::text[] AS roles
FROM bulwark.principals AS p
WHERE p.id = @id::uuid;
