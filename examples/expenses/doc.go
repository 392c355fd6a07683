// Package expenses is a second domain behind bulwark's boundary, built the
// way a team outside this repository builds theirs: expense claims go from
// draft to submitted, then approved or rejected, and an approved claim is
// paid. It is what docs/extending.md walks through.
//
// It started as the output of `bulwark new` from expense.json (the
// migration, the sqlc queries and configuration, capability.go, state.go,
// migrations.go and expensesdb/entity.go), extended by hand: the
// migration's preconditions and invariants, and this package's service,
// requests and policies. It uses the kit only through its public API: its
// own migration line (package schema), its own sqlc package (expensesdb),
// package authz for the gate, and package bulwarktest in its tests.
//
// # Layers
//
// A capability says who may attempt an action (expense.review); a policy
// here decides whether this request makes sense for this claim now (an
// approver never approves their own claim, and approves no more than
// their role's limit), with a stable reason code; the database refuses
// what no caller may do, whoever calls: self-approval and self-payment
// (BWI05), an edit after submission (BWI02), a stale version (BWC01).
//
// No other domain's words here, and no table written except through the
// gate: every method runs through [authz.Do].
package expenses
