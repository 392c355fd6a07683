package expenses_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/examples/expenses"
)

// testBundle is a database of its own with the domain migrated, the
// service on a gate that logs in as the application role, and a cast of
// principals made through the core's grant functions.
type testBundle struct {
	alex   uuid.UUID // approver: up to 1000.00
	app    *pgxpool.Pool
	cara   uuid.UUID // claimant
	dana   uuid.UUID // director: up to 25000.00
	nobody uuid.UUID // no roles
	owner  *pgxpool.Pool
	sam    uuid.UUID // claimant, approver and treasurer: the separation of duties
	svc    *expenses.Service
	tom    uuid.UUID // treasurer
	url    string
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := context.Background()
	url := bulwarktest.NewDatabase(t)
	b := &testBundle{
		url:   url,
		owner: bulwarktest.Pool(t, url, nil),
		// The service logs in as a member of bulwark_app, as in
		// production: it reads the table and calls the wrappers, and
		// holds nothing else.
		app: bulwarktest.Pool(t, bulwarktest.LoginAs(t, url, bulwarktest.RoleApp), nil),
	}
	gate := authz.NewGate(b.app, nil, &authz.GateOpts{Observer: &authz.SlogObserver{Logger: slog.New(slog.DiscardHandler)}})
	svc, err := expenses.NewService(ctx, gate, nil)
	require.NoError(t, err)
	b.svc = svc
	b.alex = bulwarktest.Principal(t, b.owner, "alex", expenses.RoleApprover)
	b.cara = bulwarktest.Principal(t, b.owner, "cara", expenses.RoleClaimant)
	b.dana = bulwarktest.Principal(t, b.owner, "dana", expenses.RoleDirector)
	b.nobody = bulwarktest.Principal(t, b.owner, "nobody")
	b.sam = bulwarktest.Principal(t, b.owner, "sam", expenses.RoleClaimant, expenses.RoleApprover, expenses.RoleTreasurer)
	b.tom = bulwarktest.Principal(t, b.owner, "tom", expenses.RoleTreasurer)
	return b
}

// submitted returns a claim of claimant's for amount, submitted through
// the service.
func (b *testBundle) submitted(t *testing.T, claimant uuid.UUID, amount int64) expenses.Claim {
	t.Helper()
	ctx := context.Background()
	c, err := b.svc.Create(ctx, claimant, expenses.CreateRequest{AmountCents: amount, Description: "Hotel in Lyon"}, nil)
	require.NoError(t, err)
	c, err = b.svc.Submit(ctx, claimant, expenses.TransitionRequest{ID: c.ID}, nil)
	require.NoError(t, err)
	return c
}
