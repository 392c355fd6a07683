// Scaffolded by `bulwark new` from expense.json; yours to edit (bulwark new
// overwrites it only with --force).

package expenses

import "github.com/bulwarkdb/bulwark/authz"

// The expense capabilities, as the migration declares them. They say what a
// principal may attempt, nothing about which row or when.
const (
	CanCreate = authz.Capability("expense.create") // Create an expense claim.
	CanEdit   = authz.Capability("expense.edit")   // Change an expense claim's amount or description.
	CanPay    = authz.Capability("expense.pay")    // Record an expense claim as paid.
	CanReview = authz.Capability("expense.review") // Approve or reject an expense claim.
	CanSubmit = authz.Capability("expense.submit") // Submit an expense claim for approval.
)

// Capabilities lists every capability the domain declares: register
// them with authz.Registry.Register at start-up, so that a name the
// database does not declare fails there.
func Capabilities() []authz.Capability {
	return []authz.Capability{CanCreate, CanEdit, CanPay, CanReview, CanSubmit}
}

// The domain roles the migration declares, with their capabilities.
// Policies may read them (authz.Principal.HasRole); grants are made with
// bulwark.role_grant.
const (
	RoleApprover  = "approver"  // expense.review
	RoleClaimant  = "claimant"  // expense.create, expense.edit, expense.submit
	RoleDirector  = "director"  // expense.review
	RoleTreasurer = "treasurer" // expense.pay
)
