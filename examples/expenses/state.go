// Scaffolded by `bulwark new` from expense.json; yours to edit (bulwark new
// overwrites it only with --force).

package expenses

// State is the state of a row of expenses.claims in the expense machine.
type State string

// The states of the expense machine; a create starts in StateDraft.
const (
	StateApproved  State = "approved"
	StateDraft     State = "draft"
	StatePaid      State = "paid"
	StateRejected  State = "rejected"
	StateSubmitted State = "submitted"
)

// States lists every state, in the declaration's order.
func States() []State {
	return []State{StateDraft, StateSubmitted, StateApproved, StateRejected, StatePaid}
}
