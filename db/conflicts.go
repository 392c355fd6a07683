package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bulwarkdb/bulwark/fault"
)

// ConflictKey names a constraint (or unique index) as the server reports
// its violation: the fields of *pgconn.PgError, never its message, which
// the server translates.
type ConflictKey struct {
	Schema     string
	Table      string
	Constraint string
}

// String returns "schema.table.constraint".
func (k ConflictKey) String() string {
	return k.Schema + "." + k.Table + "." + k.Constraint
}

// Conflict is what a domain declared about one of its constraints with
// bulwark.declare_conflict: its violation is a lost race, reported with
// this code and reason.
type Conflict struct {
	// Code is the conflict's stable code, such as "name_taken".
	Code string
	// Reason is the sentence a caller sees, written by the declaring
	// migration.
	Reason string
	// Retryable says whether trying again with fresh state may succeed.
	// False when the retry meets the same row again (a taken name); the
	// error is then [fault.Error].Final.
	Retryable bool
}

// error returns the conflict for a violation of k.
func (d Conflict) error(cause error, k ConflictKey) *fault.Error {
	e := &fault.Error{
		Cause:      cause,
		Code:       d.Code,
		Constraint: k.Constraint,
		Final:      !d.Retryable,
		Layer:      fault.LayerConflict,
		Reason:     d.Reason,
	}
	var pgErr *pgconn.PgError
	if errors.As(cause, &pgErr) {
		e.SQLState = pgErr.Code
	}
	return e
}

// Conflicts holds the constraints that migrations declared as conflicts
// (bulwark.conflict_constraints), as [LoadConflicts] read them. It never
// changes once loaded and is safe for concurrent use. A nil *Conflicts
// declares nothing.
type Conflicts struct {
	declared map[ConflictKey]Conflict
}

// LoadConflicts reads the declared conflicts through conn. A declaration
// whose table is gone is left out. On failure it returns the interpreted
// error, wrapped.
func LoadConflicts(ctx context.Context, conn DBTX) (*Conflicts, error) {
	rows, err := New().ConflictList(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("load declared conflicts: %w", InterpretError(err))
	}
	c := &Conflicts{declared: make(map[ConflictKey]Conflict, len(rows))}
	for _, r := range rows {
		c.declared[ConflictKey{Schema: r.SchemaName, Table: r.TableName, Constraint: r.Name}] = Conflict{
			Code:      r.Code,
			Reason:    r.Reason,
			Retryable: r.Retryable,
		}
	}
	return c, nil
}

// Len returns the number of declared conflicts.
func (c *Conflicts) Len() int {
	if c == nil {
		return 0
	}
	return len(c.declared)
}

// Lookup returns the declaration of the constraint k names, if any.
func (c *Conflicts) Lookup(k ConflictKey) (Conflict, bool) {
	if c == nil {
		return Conflict{}, false
	}
	d, ok := c.declared[k]
	return d, ok
}

// ConflictKeyOf returns the key of the constraint that err (raw, or
// interpreted by [InterpretError]) reports violated, when err is a unique
// or exclusion violation: the only violations a declaration can make a
// conflict.
func ConflictKeyOf(err error) (ConflictKey, bool) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return ConflictKey{}, false
	}
	key := conflictKeyOf(pgErr)
	return key, key != ConflictKey{}
}

// conflictKeyOf returns the key of the constraint pgErr names: a unique or
// exclusion violation's, or none (the zero key, never declared).
func conflictKeyOf(pgErr *pgconn.PgError) ConflictKey {
	switch pgErr.Code {
	case pgerrcode.UniqueViolation, pgerrcode.ExclusionViolation:
		return ConflictKey{Schema: pgErr.SchemaName, Table: pgErr.TableName, Constraint: pgErr.ConstraintName}
	}
	return ConflictKey{}
}
