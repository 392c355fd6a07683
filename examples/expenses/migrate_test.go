package expenses_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/examples/expenses"
	"github.com/bulwarkdb/bulwark/internal/drift"
	"github.com/bulwarkdb/bulwark/sql/schema"
	"github.com/bulwarkdb/bulwark/verify"
)

// TestMigrationLine takes the path a team's deployment takes, end to end
// through goose: an empty database, bulwark's core and the domain's own
// line (no articles, no River), each recorded in its own version table; a
// claim through the service; verify, with the domain's line named, clean;
// then the line rolled back, leaving nothing of the domain in the core's
// declarations, and applied again.
func TestMigrationLine(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	url := bulwarktest.EmptyDatabase(t)
	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { db.Close() })

	results, err := schema.Up(ctx, db, schema.Core(), expenses.Line())
	require.NoError(t, err)
	require.Equal(t, expenses.LineName, results[len(results)-1].Line)
	statuses, err := schema.Status(ctx, db, schema.Core(), expenses.Line())
	require.NoError(t, err)
	lines := map[string]int{}
	for _, s := range statuses {
		require.Equal(t, "applied", string(s.State), "%s %d", s.Line, s.Source.Version)
		lines[s.Line]++
	}
	require.Equal(t, map[string]int{schema.LineCore: lines[schema.LineCore], expenses.LineName: 1}, lines)
	var articles bool
	require.NoError(t, db.QueryRowContext(ctx, `SELECT pg_catalog.to_regnamespace('app') IS NOT NULL`).Scan(&articles))
	require.False(t, articles, "the article domain is an example: a team's database does not get it")

	// The service works on it.
	owner := bulwarktest.Pool(t, url, nil)
	app := bulwarktest.Pool(t, bulwarktest.LoginAs(t, url, bulwarktest.RoleApp), nil)
	svc, err := expenses.NewService(ctx, authz.NewGate(app, nil, nil), nil)
	require.NoError(t, err)
	cara := bulwarktest.Principal(t, owner, "cara", expenses.RoleClaimant)
	c, err := svc.Create(ctx, cara, expenses.CreateRequest{AmountCents: 9_99, Description: "Taxi"}, nil)
	require.NoError(t, err)
	_, err = svc.Submit(ctx, cara, expenses.TransitionRequest{ID: c.ID}, nil)
	require.NoError(t, err)

	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	report, err := verify.Run(ctx, conn, &verify.Opts{
		Lines:          []*schema.Line{expenses.Line()},
		MigrationRoles: drift.MigrationRoles(t, url, nil, ""),
	})
	require.NoError(t, err)
	require.True(t, report.OK, "%v", report.Failures())

	count := func(sql string) int {
		t.Helper()
		var n int
		require.NoError(t, db.QueryRowContext(ctx, sql).Scan(&n))
		return n
	}
	const domain = `SELECT
		(SELECT count(*) FROM bulwark.capabilities WHERE name LIKE 'expense.%')
		+ (SELECT count(*) FROM bulwark.roles WHERE name IN ('claimant', 'approver', 'director', 'treasurer'))
		+ (SELECT count(*) FROM bulwark.machines WHERE name = 'expense')
		+ (SELECT count(*) FROM bulwark.guarded_tables WHERE machine = 'expense')
		+ (SELECT count(*) FROM bulwark.api_functions WHERE machine = 'expense')
		+ (SELECT count(*) FROM bulwark.migration_checksums WHERE line = 'expenses')
		+ (SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname = 'expenses')`
	require.Equal(t, 5+4+1+1+6+1+1, count(domain))

	_, err = schema.DownTo(ctx, db, expenses.Line(), 0)
	require.NoError(t, err)
	require.Zero(t, count(domain))

	_, err = schema.Up(ctx, db, schema.Core(), expenses.Line())
	require.NoError(t, err)
	require.Equal(t, 5+4+1+1+6+1+1, count(domain))
}
