package verify

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// checkCapabilityNames requires every capability name to pass
// bulwark.capability_name_problem, the rule the capabilities trigger and
// the Go registry apply: a name says what may be attempted, never a state
// or condition. A name that breaks it got in around the trigger.
func (s *session) checkCapabilityNames(ctx context.Context, c *Check) error {
	rows, err := s.tx.Query(ctx, `
		SELECT k.name, bulwark.capability_name_problem(k.name)
		FROM bulwark.capabilities AS k
		ORDER BY k.name COLLATE "C"`)
	if err != nil {
		return err
	}
	var (
		name    string
		problem *string
	)
	_, err = pgx.ForEachRow(rows, []any{&name, &problem}, func() error {
		c.Checked++
		if problem != nil {
			c.fail(name, *problem,
				"move the condition into a policy; declare a state-free capability, regrant, and delete this one under bulwark.maintenance_begin")
		}
		return nil
	})
	return err
}

// checkRoleCapabilities requires every capability a domain role grants to
// exist.
func (s *session) checkRoleCapabilities(ctx context.Context, c *Check) error {
	rows, err := s.tx.Query(ctx, `
		SELECT rc.role, rc.capability, k.name IS NOT NULL
		FROM bulwark.role_capabilities AS rc
		LEFT JOIN bulwark.capabilities AS k ON k.name = rc.capability
		ORDER BY rc.role COLLATE "C", rc.capability COLLATE "C"`)
	if err != nil {
		return err
	}
	var (
		role, capability string
		exists           bool
	)
	_, err = pgx.ForEachRow(rows, []any{&role, &capability, &exists}, func() error {
		c.Checked++
		if !exists {
			c.fail(role+"/"+capability, fmt.Sprintf("role %s grants capability %s, which does not exist", role, capability),
				fmt.Sprintf("SELECT bulwark.declare_capability(%s, ...) in a migration, or delete the grant under bulwark.maintenance_begin", quoteLiteral(capability)))
		}
		return nil
	})
	return err
}
