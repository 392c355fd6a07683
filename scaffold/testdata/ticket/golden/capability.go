// Scaffolded by `bulwark new` from declaration.json; yours to edit (bulwark new
// overwrites it only with --force).

package helpdesk

import "github.com/bulwarkdb/bulwark/authz"

// The ticket capabilities, as the migration declares them. They say what a
// principal may attempt, nothing about which row or when.
const (
	CanClose  = authz.Capability("ticket.close")  // Close a ticket.
	CanCreate = authz.Capability("ticket.create") // Open a support ticket.
	CanWait   = authz.Capability("ticket.wait")   // Put a ticket on hold for the customer.
)

// Capabilities lists every capability the domain declares: register
// them with authz.Registry.Register at start-up, so that a name the
// database does not declare fails there.
func Capabilities() []authz.Capability {
	return []authz.Capability{CanClose, CanCreate, CanWait}
}

// The domain roles the migration declares, with their capabilities.
// Policies may read them (authz.Principal.HasRole); grants are made with
// bulwark.role_grant.
const (
	RoleAgent = "agent" // ticket.create, ticket.wait, ticket.close
)
