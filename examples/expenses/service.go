package expenses

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/examples/expenses/expensesdb"
)

// Service is the expense workflow's Go API. Every method goes through the
// gate; none writes a table.
type Service struct {
	approve *authz.Action[Claim, TransitionRequest, Claim]
	create  *authz.Action[struct{}, CreateRequest, Claim]
	edit    *authz.Action[Claim, EditRequest, Claim]
	gate    *authz.Gate
	get     *authz.Action[Claim, authz.ByID, Claim]
	pay     *authz.Action[Claim, TransitionRequest, Claim]
	reject  *authz.Action[Claim, rejectRequest, Claim]
	submit  *authz.Action[Claim, TransitionRequest, Claim]
}

// ServiceOpts are options for [NewService]. A nil *ServiceOpts means
// defaults; there are no others yet.
type ServiceOpts struct{}

// NewService returns the expense service on gate. It registers the
// domain's capabilities against the database's rule and declarations, so
// that a Go constant that drifted from the migration fails here, at
// start-up, with an invalid-input error.
func NewService(ctx context.Context, gate *authz.Gate, _ *ServiceOpts) (*Service, error) {
	registry, err := authz.NewRegistry(ctx, gate.Pool())
	if err != nil {
		return nil, err
	}
	if err := registry.Register(Capabilities()...); err != nil {
		return nil, fmt.Errorf("register expense capabilities: %w", err)
	}
	q := expensesdb.New()
	// The gate's functions take the kit's db.DBTX; the domain's own sqlc
	// package declares the same interface under its own name, so a
	// generated read is wrapped once to fit.
	load := func(ctx context.Context, conn db.DBTX, id uuid.UUID) (Claim, error) {
		return q.ExpenseGetByID(ctx, conn, id)
	}
	s := &Service{gate: gate}

	// What each action adds to the gate is its policy and its SQL call:
	// the requests name their target, key and pinned version themselves,
	// and each call passes the snapshot's version, so the database refuses
	// (as a conflict) a claim that moved since the policy looked at it.
	s.create = authz.Create("expense.create", CanCreate,
		func(ctx context.Context, conn db.DBTX, c authz.Call[struct{}, CreateRequest]) (Claim, error) {
			r := c.Request
			return q.ExpenseCreate(ctx, conn, expensesdb.ExpenseCreateParams{
				Actor: c.Actor(), AmountCents: r.AmountCents, Description: r.Description, IdemKey: c.IdemKey(),
			})
		})
	s.edit = authz.Transition("expense.edit", CanEdit, load, PolicyEdit,
		func(ctx context.Context, conn db.DBTX, c authz.Call[Claim, EditRequest]) (Claim, error) {
			r := c.Request
			return q.ExpenseEdit(ctx, conn, expensesdb.ExpenseEditParams{
				Actor: c.Actor(), ID: c.Snapshot.ID, ExpectedVersion: c.Snapshot.Version,
				AmountCents: r.AmountCents, Description: r.Description, IdemKey: c.IdemKey(),
			})
		})
	s.submit = authz.Transition("expense.submit", CanSubmit, load, PolicySubmit,
		func(ctx context.Context, conn db.DBTX, c authz.Call[Claim, TransitionRequest]) (Claim, error) {
			return q.ExpenseSubmit(ctx, conn, expensesdb.ExpenseSubmitParams{
				Actor: c.Actor(), ID: c.Snapshot.ID, ExpectedVersion: c.Snapshot.Version, IdemKey: c.IdemKey(),
			})
		})
	s.approve = authz.Transition("expense.approve", CanReview, load, PolicyApprove,
		func(ctx context.Context, conn db.DBTX, c authz.Call[Claim, TransitionRequest]) (Claim, error) {
			return q.ExpenseApprove(ctx, conn, expensesdb.ExpenseApproveParams{
				Actor: c.Actor(), ID: c.Snapshot.ID, ExpectedVersion: c.Snapshot.Version, IdemKey: c.IdemKey(),
			})
		})
	s.reject = authz.Transition("expense.reject", CanReview, load, PolicyReject,
		func(ctx context.Context, conn db.DBTX, c authz.Call[Claim, rejectRequest]) (Claim, error) {
			note := c.Request.Note
			return q.ExpenseReject(ctx, conn, expensesdb.ExpenseRejectParams{
				Actor: c.Actor(), ID: c.Snapshot.ID, ExpectedVersion: c.Snapshot.Version, Note: &note, IdemKey: c.IdemKey(),
			})
		})
	s.pay = authz.Transition("expense.pay", CanPay, load, PolicyPay,
		func(ctx context.Context, conn db.DBTX, c authz.Call[Claim, TransitionRequest]) (Claim, error) {
			return q.ExpensePay(ctx, conn, expensesdb.ExpensePayParams{
				Actor: c.Actor(), ID: c.Snapshot.ID, ExpectedVersion: c.Snapshot.Version, IdemKey: c.IdemKey(),
			})
		})
	// A read the policy refuses answers not found: whether a claim exists
	// is not for everyone to learn.
	s.get = authz.Read("expense.get", "", load, PolicyGet)
	return s, nil
}

// Create makes a draft claimed by actor. Needs expense.create.
func (s *Service) Create(ctx context.Context, actor uuid.UUID, req CreateRequest, opts *authz.DoOpts) (Claim, error) {
	return authz.Do(ctx, s.gate, actor, s.create, req, opts)
}

// Edit changes a draft's amount or description. Needs expense.edit; only
// the claimant edits.
func (s *Service) Edit(ctx context.Context, actor uuid.UUID, req EditRequest, opts *authz.DoOpts) (Claim, error) {
	return authz.Do(ctx, s.gate, actor, s.edit, req, opts)
}

// Submit sends a draft for approval. Needs expense.submit; only the
// claimant.
func (s *Service) Submit(ctx context.Context, actor uuid.UUID, req TransitionRequest, opts *authz.DoOpts) (Claim, error) {
	return authz.Do(ctx, s.gate, actor, s.submit, req, opts)
}

// Approve approves a submitted claim. Needs expense.review; never one's
// own claim (the database refuses that too), and no more than the actor's
// [ApprovalLimit].
func (s *Service) Approve(ctx context.Context, actor uuid.UUID, req TransitionRequest, opts *authz.DoOpts) (Claim, error) {
	return authz.Do(ctx, s.gate, actor, s.approve, req, opts)
}

// Reject rejects a submitted claim, saying why in req.Note. Needs
// expense.review; never one's own claim.
func (s *Service) Reject(ctx context.Context, actor uuid.UUID, req TransitionRequest, opts *authz.DoOpts) (Claim, error) {
	return authz.Do(ctx, s.gate, actor, s.reject, rejectRequest{req}, opts)
}

// Pay records an approved claim as paid. Needs expense.pay; never one's
// own claim (the database refuses that too).
func (s *Service) Pay(ctx context.Context, actor uuid.UUID, req TransitionRequest, opts *authz.DoOpts) (Claim, error) {
	return authz.Do(ctx, s.gate, actor, s.pay, req, opts)
}

// Get returns a claim the actor may see: their own, or any to those who
// review or pay claims. One the actor may not see is not found, exactly as
// a missing one.
func (s *Service) Get(ctx context.Context, actor uuid.UUID, id uuid.UUID) (Claim, error) {
	return authz.Do(ctx, s.gate, actor, s.get, authz.ByID(id), nil)
}
