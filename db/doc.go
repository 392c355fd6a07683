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
// [InterpretError] to get an [*Error] that names its layer (permission,
// conflict, invariant, not found, invalid input) and a stable code, and
// matches the layer's sentinel with errors.Is:
//
//	row, err := q.ArticlePublish(ctx, pool, params)
//	if err := db.InterpretError(err); errors.Is(err, db.ErrConflict) {
//		// reload and decide again
//	}
//
// # SQLSTATEs
//
// BWP01 permission; BWI01-BWI05 invariant (illegal transition, frozen,
// precondition, direct write, separation of duties); BWC01-BWC02 conflict
// (stale version, idempotency key reused); BWN01 not found. Class 23 is an
// invariant failure, 40001 and 40P01 retryable conflicts, 42501 a boundary
// violation (an invariant failure: something tried to go around the
// functions), class 22 invalid input.
package db
