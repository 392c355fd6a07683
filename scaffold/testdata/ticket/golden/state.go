// Scaffolded by `bulwark new` from declaration.json; yours to edit (bulwark new
// overwrites it only with --force).

package helpdesk

// State is the state of a row of help_desk.tickets in the ticket machine.
type State string

// The states of the ticket machine; a create starts in StateOpen.
const (
	StateClosed  State = "closed"
	StateOpen    State = "open"
	StatePending State = "pending"
)

// States lists every state, in the declaration's order.
func States() []State {
	return []State{StateOpen, StatePending, StateClosed}
}
