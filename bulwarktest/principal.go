package bulwarktest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/internal/seed"
)

// These helpers make principals and roles through the core's own
// functions, as the bootstrap principal or as a migration would: the rows
// they write are logged and guarded like any other, and a test sees what a
// service would see. conn is the migration role's session (a pool from
// [DB], or one from [Pool] on a URL from [NewDatabase]): bootstrap acts
// only from there, and only the migration role may declare.

// nameSeq numbers the names UniqueName returns.
var nameSeq atomic.Int64

// UniqueName returns prefix followed by a number that no other call in this
// process returned, such as "author_7": for principals, roles and other
// unique values of tests that share a database.
func UniqueName(prefix string) string {
	return fmt.Sprintf("%s_%d", prefix, nameSeq.Add(1))
}

// Principal creates a human principal named name through
// bulwark.principal_create, grants it each of roles through
// bulwark.role_grant, both acting as the bootstrap principal, and returns
// its id. A human principal acts through services ([RoleApp]). It fails t
// if a name is taken, a role is not declared, or conn is not the migration
// role's.
func Principal(t testing.TB, conn db.DBTX, name string, roles ...string) uuid.UUID {
	t.Helper()
	id, err := seed.Principal(context.Background(), conn, name, roles...)
	require.NoError(t, err, "bulwarktest: create principal %s", name)
	return id
}

// ServicePrincipal declares a service principal named name, bound to the
// database role dbRole (such as [RoleJobs]) and holding roles, through
// bulwark.declare_principal, as a migration declares a job runner's
// principal, and returns its id. It fails t if the name is taken, a role is
// not declared, or conn may not declare.
func ServicePrincipal(t testing.TB, conn db.DBTX, name, dbRole string, roles ...string) uuid.UUID {
	t.Helper()
	if roles == nil {
		roles = []string{}
	}
	var id uuid.UUID
	err := conn.QueryRow(context.Background(),
		"SELECT bulwark.declare_principal('service', $1, $2::text[], $3)", name, roles, dbRole,
	).Scan(&id)
	require.NoError(t, db.InterpretError(err), "bulwarktest: declare service principal %s", name)
	return id
}

// PrincipalID returns the id of the principal named name, such as one a
// migration declared. It fails t if there is none.
func PrincipalID(t testing.TB, conn db.DBTX, name string) uuid.UUID {
	t.Helper()
	p, err := db.New().PrincipalGetByName(context.Background(), conn, name)
	require.NoError(t, db.InterpretError(err), "bulwarktest: find principal %s", name)
	return p.ID
}

// Grant grants role to the principal id through bulwark.role_grant, as the
// bootstrap principal: the grant is logged and notifies listening grant
// caches. It fails t if the principal or the role does not exist.
func Grant(t testing.TB, conn db.DBTX, id uuid.UUID, role string) {
	t.Helper()
	ctx := context.Background()
	q := db.New()
	err := q.RoleGrant(ctx, conn, db.RoleGrantParams{Actor: bootstrap(t, conn), PrincipalID: id, Role: role})
	require.NoError(t, db.InterpretError(err), "bulwarktest: grant %s role %s", id, role)
}

// Revoke revokes role from the principal id through bulwark.role_revoke,
// as the bootstrap principal. It fails t if the principal or the role does
// not exist.
func Revoke(t testing.TB, conn db.DBTX, id uuid.UUID, role string) {
	t.Helper()
	ctx := context.Background()
	q := db.New()
	err := q.RoleRevoke(ctx, conn, db.RoleRevokeParams{Actor: bootstrap(t, conn), PrincipalID: id, Role: role})
	require.NoError(t, db.InterpretError(err), "bulwarktest: revoke %s role %s", id, role)
}

// Role declares a role holding capabilities through bulwark.declare_role,
// as a migration does, for a test that needs a role no migration declares.
// Declaring a role that exists adds the capabilities it lacks. It fails t
// if a capability is not declared (or deprecated) or conn may not declare.
func Role(t testing.TB, conn db.DBTX, name string, capabilities ...string) {
	t.Helper()
	if capabilities == nil {
		capabilities = []string{}
	}
	_, err := conn.Exec(context.Background(), "SELECT bulwark.declare_role($1, $2::text[])", name, capabilities)
	require.NoError(t, db.InterpretError(err), "bulwarktest: declare role %s", name)
}

// bootstrap returns the bootstrap principal's id.
func bootstrap(t testing.TB, conn db.DBTX) uuid.UUID {
	t.Helper()
	return PrincipalID(t, conn, "bootstrap")
}
