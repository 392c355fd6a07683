package expenses_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/examples/expenses"
	"github.com/bulwarkdb/bulwark/fault"
)

// A claim over the approver's limit: the capability lets alex attempt the
// approval, the policy refuses it with a reason code, and a director
// approves it.
func Example_service() {
	t := bulwarktest.NewPanicTB() // for the example: a failure panics
	defer t.Close()
	ctx := context.Background()
	url := bulwarktest.NewDatabase(t) // for the example: a database of its own
	owner := bulwarktest.Pool(t, url, nil)
	cara := bulwarktest.Principal(t, owner, "cara", expenses.RoleClaimant)
	alex := bulwarktest.Principal(t, owner, "alex", expenses.RoleApprover)
	dana := bulwarktest.Principal(t, owner, "dana", expenses.RoleDirector)

	// The service logs in as a member of bulwark_app.
	app := bulwarktest.Pool(t, bulwarktest.LoginAs(t, url, bulwarktest.RoleApp), nil)
	gate := authz.NewGate(app, nil, &authz.GateOpts{Observer: &authz.SlogObserver{Logger: slog.New(slog.DiscardHandler)}})
	svc, err := expenses.NewService(ctx, gate, nil)
	if err != nil {
		panic(err)
	}

	claim, err := svc.Create(ctx, cara, expenses.CreateRequest{AmountCents: 1_500_00, Description: "Conference ticket"}, nil)
	if err != nil {
		panic(err)
	}
	claim, err = svc.Submit(ctx, cara, expenses.TransitionRequest{ID: claim.ID}, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(claim.State)

	_, err = svc.Approve(ctx, alex, expenses.TransitionRequest{ID: claim.ID}, nil)
	var refused *fault.Error
	if errors.As(err, &refused) {
		fmt.Println(refused.Layer, refused.Code+":", refused.Reason)
	}

	claim, err = svc.Approve(ctx, dana, expenses.TransitionRequest{ID: claim.ID}, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(claim.State, *claim.ApprovedBy == dana)

	// Output:
	// submitted
	// policy over_limit: 1500.00 is over your approval limit of 1000.00
	// approved true
}
