package expenses_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/examples/expenses"
	"github.com/bulwarkdb/bulwark/internal/drift"
	"github.com/bulwarkdb/bulwark/sql/schema"
	"github.com/bulwarkdb/bulwark/verify"
)

// TestVerify runs bulwark verify on a database with the domain migrated
// and walked, the domain's line named: every check passes, the domain's
// table and migrations among them; then one of the table's triggers is
// disabled, as a hurried fix might, and verify names it.
func TestVerify(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	c := b.submitted(t, b.cara, 12_00)
	_, err := b.svc.Approve(ctx, b.alex, expenses.TransitionRequest{ID: c.ID}, nil)
	require.NoError(t, err)

	conn, err := pgx.Connect(ctx, b.url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	// This repository's test cluster is shared with the kit's own drift
	// tests, whose owner logins are cluster-wide: they are named as
	// migration roles here. A team's CI names its migration role.
	opts := &verify.Opts{
		// The domain's line: its applied migrations must be its files.
		Lines:          []*schema.Line{expenses.Line()},
		MigrationRoles: drift.MigrationRoles(t, b.url, nil, ""),
	}
	report, err := verify.Run(ctx, conn, opts)
	require.NoError(t, err)
	require.True(t, report.OK, "%v", report.Failures())
	// Without the domain's line, verify says its migrations went unchecked.
	withoutLine, err := verify.Run(ctx, conn, &verify.Opts{MigrationRoles: opts.MigrationRoles})
	require.NoError(t, err)
	require.Equal(t, []string{"migrations line " + expenses.Line().Name()}, withoutLine.Failures())

	_, err = conn.Exec(ctx, `ALTER TABLE expenses.claims DISABLE TRIGGER bulwark_90_audit`)
	require.NoError(t, err)
	report, err = verify.Run(ctx, conn, opts)
	require.NoError(t, err)
	require.False(t, report.OK)
	require.Equal(t, []string{verify.CheckGuardTriggers + " expenses.claims.bulwark_90_audit"}, report.Failures())
}
