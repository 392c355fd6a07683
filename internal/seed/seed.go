// Package seed makes the principals that tests, the demo and the bench act
// as, through the real functions: bulwark.principal_create and
// bulwark.role_grant, as the bootstrap principal. Not API.
package seed

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/bulwarkdb/bulwark/db"
)

// Principal creates a human principal named name holding roles and returns
// its id. bootstrap acts only from the migration role's session, so conn
// must be one (a superuser's will do). Errors are layered (fault.Error).
func Principal(ctx context.Context, conn db.DBTX, name string, roles ...string) (uuid.UUID, error) {
	q := db.New()
	boot, err := q.PrincipalGetByName(ctx, conn, "bootstrap")
	if err != nil {
		return uuid.Nil, fmt.Errorf("find the bootstrap principal: %w", db.InterpretError(err))
	}
	id, err := q.PrincipalCreate(ctx, conn, db.PrincipalCreateParams{Actor: boot.ID, Kind: "human", Name: name})
	if err != nil {
		return uuid.Nil, fmt.Errorf("create principal %s: %w", name, db.InterpretError(err))
	}
	for _, role := range roles {
		if err := q.RoleGrant(ctx, conn, db.RoleGrantParams{Actor: boot.ID, PrincipalID: id, Role: role}); err != nil {
			return uuid.Nil, fmt.Errorf("grant %s role %s: %w", name, role, db.InterpretError(err))
		}
	}
	return id, nil
}
