// Package db is bulwark's typed access to PostgreSQL: sqlc-generated calls of
// the transition functions and reads (never written by hand), a pool and
// transaction helper, and the one place where SQLSTATEs become layered
// errors.
//
// The rule of this package: queries read, or call a transition function.
// None writes a table; `sqlc vet` refuses one that tries.
//
// # Errors
//
// Every generated call returns the raw pgx error. Pass it through
// [InterpretError] to get a *fault.Error (package fault, the leaf every
// layer imports) that names its layer (permission, conflict, invariant,
// not found, invalid input) and a stable code, and matches the layer's
// sentinel with errors.Is:
//
//	row, err := q.ArticlePublish(ctx, pool, params)
//	if err := db.InterpretError(err); errors.Is(err, fault.ErrConflict) {
//		// reload and decide again
//	}
//
// # Declared conflicts
//
// A unique or exclusion violation is an invariant failure unless the
// migration that owns the constraint declared it a conflict with
// bulwark.declare_conflict(table, constraint, code, retryable, reason).
// [LoadConflicts] reads the declarations, and [Conflicts.Interpret] maps a
// violation of a declared constraint to a conflict with its code and
// reason, final unless declared retryable. Constraints are matched by the
// schema, table and constraint the server reports, never by its message.
// The gate (package authz) does this for every action; InterpretError
// alone knows no declarations.
//
// # SQLSTATEs
//
// BWP01 permission; BWI01-BWI05 invariant (illegal transition, frozen,
// precondition, direct write, separation of duties); BWC01-BWC02 conflict
// (stale version, idempotency key reused); BWN01 not found. Class 23 is an
// invariant failure, but for a declared conflict; 40001 and 40P01
// retryable conflicts, 42501 a boundary violation (an invariant failure:
// something tried to go around the functions), class 22 invalid input.
package db
