package expenses_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/examples/expenses"
	"github.com/bulwarkdb/bulwark/examples/expenses/expensesdb"
	"github.com/bulwarkdb/bulwark/fault"
)

// TestWalk takes one claim from draft to paid through the service, and
// meets each layer's refusal on the way, each named by its layer and code.
func TestWalk(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)

	c, err := b.svc.Create(ctx, b.cara, expenses.CreateRequest{AmountCents: 42_00, Description: "Train to Lyon", IdemKey: "train-1"}, nil)
	require.NoError(t, err)
	require.Equal(t, string(expenses.StateDraft), c.State)
	require.Equal(t, b.cara, c.ClaimantID)
	// A retry with the key is answered with the first claim.
	again, err := b.svc.Create(ctx, b.cara, expenses.CreateRequest{AmountCents: 42_00, Description: "Train to Lyon", IdemKey: "train-1"}, nil)
	require.NoError(t, err)
	require.Equal(t, c.ID, again.ID)

	// Invalid: the request itself is wrong, before anything is read.
	_, err = b.svc.Create(ctx, b.cara, expenses.CreateRequest{AmountCents: 0, Description: "Nothing"}, nil)
	bulwarktest.RequireLayer(t, err, fault.LayerInvalid, fault.CodeInvalidInput)
	// Permission: no capability to attempt it.
	_, err = b.svc.Create(ctx, b.nobody, expenses.CreateRequest{AmountCents: 1_00, Description: "Coffee"}, nil)
	bulwarktest.RequireLayer(t, err, fault.LayerPermission, fault.CodeMissingCapability)
	_, err = b.svc.Submit(ctx, b.alex, expenses.TransitionRequest{ID: c.ID}, nil)
	bulwarktest.RequireLayer(t, err, fault.LayerPermission, fault.CodeMissingCapability)
	// Policy: sam may edit claims, but not cara's.
	_, err = b.svc.Edit(ctx, b.sam, expenses.EditRequest{ID: c.ID, AmountCents: ptr(int64(1))}, nil)
	bulwarktest.RequireLayer(t, err, fault.LayerPolicy, expenses.CodeNotClaimant)

	c, err = b.svc.Edit(ctx, b.cara, expenses.EditRequest{ID: c.ID, AmountCents: ptr(int64(43_50)), ExpectedVersion: 1}, nil)
	require.NoError(t, err)
	require.Equal(t, int64(43_50), c.AmountCents)
	require.Equal(t, "Train to Lyon", c.Description, "a nil field keeps its value")
	c, err = b.svc.Submit(ctx, b.cara, expenses.TransitionRequest{ID: c.ID}, nil)
	require.NoError(t, err)

	// Conflict: the approver decided on a version that is gone.
	_, err = b.svc.Approve(ctx, b.alex, expenses.TransitionRequest{ID: c.ID, ExpectedVersion: c.Version - 1}, nil)
	bulwarktest.RequireLayer(t, err, fault.LayerConflict, fault.CodeStaleVersion)
	// Policy: nobody approves their own claim.
	own := b.submitted(t, b.sam, 10_00)
	_, err = b.svc.Approve(ctx, b.sam, expenses.TransitionRequest{ID: own.ID}, nil)
	bulwarktest.RequireLayer(t, err, fault.LayerPolicy, expenses.CodeOwnClaim)

	c, err = b.svc.Approve(ctx, b.alex, expenses.TransitionRequest{ID: c.ID, ExpectedVersion: c.Version}, nil)
	require.NoError(t, err)
	require.Equal(t, string(expenses.StateApproved), c.State)
	require.Equal(t, &b.alex, c.ApprovedBy)
	// Invariant: the database refuses what the layers above should have
	// prevented, here a second approval of the approved claim through the
	// generated call, past the policy.
	_, err = expensesdb.New().ExpenseApprove(ctx, b.app, expensesdb.ExpenseApproveParams{Actor: b.alex, ID: c.ID, ExpectedVersion: c.Version})
	bulwarktest.RequireLayer(t, db.InterpretError(err), fault.LayerInvariant, fault.CodeIllegalTransition)

	c, err = b.svc.Pay(ctx, b.tom, expenses.TransitionRequest{ID: c.ID}, nil)
	require.NoError(t, err)
	require.Equal(t, string(expenses.StatePaid), c.State)
	require.NotNil(t, c.PaidAt)

	// The audit trail holds one row per write, each with its actor.
	rows, err := b.owner.Query(ctx, `
		SELECT transition, actor_id FROM bulwark.transition_log
		WHERE machine = 'expense' AND entity_id = $1 ORDER BY id`, c.ID)
	require.NoError(t, err)
	type entry struct {
		Transition string
		Actor      uuid.UUID
	}
	var log []entry
	for rows.Next() {
		var e entry
		require.NoError(t, rows.Scan(&e.Transition, &e.Actor))
		log = append(log, e)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []entry{
		{"create", b.cara}, {"edit", b.cara}, {"submit", b.cara}, {"approve", b.alex}, {"pay", b.tom},
	}, log)
}

// TestApprovalLimit: the limit comes from the approver's roles, the
// highest wins, and it is the policy's: the capability is the same.
func TestApprovalLimit(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)

	big := b.submitted(t, b.cara, 2_000_00)
	_, err := b.svc.Approve(ctx, b.alex, expenses.TransitionRequest{ID: big.ID}, nil)
	bulwarktest.RequireLayer(t, err, fault.LayerPolicy, expenses.CodeOverLimit)
	c, err := b.svc.Approve(ctx, b.dana, expenses.TransitionRequest{ID: big.ID}, nil)
	require.NoError(t, err)
	require.Equal(t, &b.dana, c.ApprovedBy)

	huge := b.submitted(t, b.cara, 30_000_00)
	_, err = b.svc.Approve(ctx, b.dana, expenses.TransitionRequest{ID: huge.ID}, nil)
	bulwarktest.RequireLayer(t, err, fault.LayerPolicy, expenses.CodeOverLimit)
	// Saying no has no limit.
	_, err = b.svc.Reject(ctx, b.alex, expenses.TransitionRequest{ID: huge.ID}, nil)
	bulwarktest.RequireLayer(t, err, fault.LayerInvalid, expenses.CodeMissingNote)
	c, err = b.svc.Reject(ctx, b.alex, expenses.TransitionRequest{ID: huge.ID, Note: "over the travel policy"}, nil)
	require.NoError(t, err)
	require.Equal(t, string(expenses.StateRejected), c.State)
	var note string
	require.NoError(t, b.owner.QueryRow(ctx, `
		SELECT note FROM bulwark.transition_log
		WHERE machine = 'expense' AND entity_id = $1 AND transition = 'reject'`, c.ID).Scan(&note))
	require.Equal(t, "over the travel policy", note)
}

// TestSkippingTheGoLayers: a caller that calls the generated functions
// directly, or writes the table, meets the database's refusals: the
// capability (permission), separation of duties, frozen drafts and the
// table's grants (invariant), each mapped by its SQLSTATE.
func TestSkippingTheGoLayers(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	q := expensesdb.New()

	own := b.submitted(t, b.sam, 10_00)
	_, err := q.ExpenseApprove(ctx, b.app, expensesdb.ExpenseApproveParams{Actor: b.cara, ID: own.ID, ExpectedVersion: own.Version})
	bulwarktest.RequireLayer(t, db.InterpretError(err), fault.LayerPermission, fault.CodeMissingCapability)
	// The policy would have said "own claim"; without it the database
	// refuses self-approval as separation of duties.
	_, err = q.ExpenseApprove(ctx, b.app, expensesdb.ExpenseApproveParams{Actor: b.sam, ID: own.ID, ExpectedVersion: own.Version})
	bulwarktest.RequireLayer(t, db.InterpretError(err), fault.LayerInvariant, fault.CodeSeparationOfDuties)
	// An edit after submission: the draft is frozen.
	_, err = q.ExpenseEdit(ctx, b.app, expensesdb.ExpenseEditParams{Actor: b.sam, ID: own.ID, ExpectedVersion: own.Version, Description: ptr("Better hotel")})
	bulwarktest.RequireLayer(t, db.InterpretError(err), fault.LayerInvariant, fault.CodeFrozen)
	// And the self-payment, after another approves.
	approved, err := b.svc.Approve(ctx, b.alex, expenses.TransitionRequest{ID: own.ID}, nil)
	require.NoError(t, err)
	_, err = q.ExpensePay(ctx, b.app, expensesdb.ExpensePayParams{Actor: b.sam, ID: own.ID, ExpectedVersion: approved.Version})
	bulwarktest.RequireLayer(t, db.InterpretError(err), fault.LayerInvariant, fault.CodeSeparationOfDuties)
	_, err = b.svc.Pay(ctx, b.sam, expenses.TransitionRequest{ID: own.ID}, nil)
	bulwarktest.RequireLayer(t, err, fault.LayerPolicy, expenses.CodeOwnClaim)

	// The application role holds no DML on the table: nothing changes.
	// (RequireRefused returns the server's error, for a test that reads
	// it; these need only the SQLSTATE it asserted.)
	bulwarktest.RequireRefused(t, b.app, `UPDATE expenses.claims SET state = 'paid', paid_at = now()`, "42501")
	bulwarktest.RequireRefused(t, b.app, `DELETE FROM expenses.claims`, "42501")
	// The owner is refused by the write guard, outside the engine.
	bulwarktest.RequireRefused(t, b.owner, `UPDATE expenses.claims SET amount_cents = 1`, "BWI04")
}

// TestGetConceals: a claim the actor may not see answers not found, as a
// missing one does.
func TestGetConceals(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)

	c := b.submitted(t, b.cara, 5_00)
	got, err := b.svc.Get(ctx, b.cara, c.ID)
	require.NoError(t, err)
	require.Equal(t, c, got)
	_, err = b.svc.Get(ctx, b.alex, c.ID)
	require.NoError(t, err)
	_, err = b.svc.Get(ctx, b.nobody, c.ID)
	bulwarktest.RequireLayer(t, err, fault.LayerNotFound, fault.CodeNotFound)
	_, err = b.svc.Get(ctx, b.cara, uuid.New())
	bulwarktest.RequireLayer(t, err, fault.LayerNotFound, fault.CodeNotFound)
}

func ptr[T any](v T) *T { return &v }

// TestConcurrentPayments: eight treasurers' calls pay one claim at once.
// One wins; the others meet a conflict (they decided on the approved
// snapshot) or the policy (they read the paid one). None is an invariant
// failure: the layers above did their job, and the claim was paid once.
func TestConcurrentPayments(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	c := b.submitted(t, b.cara, 80_00)
	c, err := b.svc.Approve(ctx, b.alex, expenses.TransitionRequest{ID: c.ID}, nil)
	require.NoError(t, err)

	const n = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = b.svc.Pay(ctx, b.tom, expenses.TransitionRequest{ID: c.ID}, nil)
		}()
	}
	close(start)
	wg.Wait()

	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case fault.IsRetryable(err):
			bulwarktest.RequireLayer(t, err, fault.LayerConflict, fault.CodeStaleVersion)
		default:
			bulwarktest.RequireLayer(t, err, fault.LayerPolicy, expenses.CodeWrongState)
		}
	}
	require.Equal(t, 1, wins)
	var pays int
	require.NoError(t, b.owner.QueryRow(ctx, `
		SELECT count(*) FROM bulwark.transition_log
		WHERE machine = 'expense' AND entity_id = $1 AND transition = 'pay'`, c.ID).Scan(&pays))
	require.Equal(t, 1, pays)
}
