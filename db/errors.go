package db

import (
	"errors"
	"strings"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bulwarkdb/bulwark/fault"
)

// bulwark's own SQLSTATEs, raised by the SQL core and the domain functions.
const (
	SQLStateMissingCapability    = "BWP01"
	SQLStateIllegalTransition    = "BWI01"
	SQLStateFrozen               = "BWI02"
	SQLStatePreconditionFailed   = "BWI03"
	SQLStateDirectWrite          = "BWI04"
	SQLStateSeparationOfDuties   = "BWI05"
	SQLStateStaleVersion         = "BWC01"
	SQLStateIdempotencyKeyReused = "BWC02"
	SQLStateNotFound             = "BWN01"
)

// InterpretError maps a database error to a layered *fault.Error. It is
// the only place where SQLSTATEs become errors. Errors that name no layer
// (a lost connection, a cancelled context) are returned unchanged, and nil
// stays nil.
//
// It knows no declared conflicts: a unique or exclusion violation is an
// invariant failure here, as it is for every constraint no domain declared.
// [Conflicts.Interpret] maps the same errors and the declared constraints
// too; the gate (package authz) uses it.
func InterpretError(err error) error {
	return (*Conflicts)(nil).Interpret(err)
}

// Interpret is [InterpretError] knowing the conflicts c declares: the
// violation of a declared constraint is a conflict with its declared code
// and reason, final unless declared retryable. A nil c declares nothing.
func (c *Conflicts) Interpret(err error) error {
	if err == nil {
		return nil
	}
	var layered *fault.Error
	if errors.As(err, &layered) {
		// Interpreted already, perhaps without declarations (a violation
		// at commit, through WithTx): a declared conflict is read again,
		// from the server's error, so that the chain holds no invariant.
		var pgErr *pgconn.PgError
		if layered.Code == fault.CodeIntegrity && errors.As(err, &pgErr) {
			if declared, ok := c.Lookup(conflictKeyOf(pgErr)); ok {
				return declared.error(pgErr, conflictKeyOf(pgErr))
			}
		}
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &fault.Error{Cause: err, Code: fault.CodeNotFound, Layer: fault.LayerNotFound, Reason: "no such row"}
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	e := &fault.Error{Cause: err, SQLState: pgErr.Code, Constraint: pgErr.ConstraintName, Reason: pgErr.Message}
	switch pgErr.Code {
	case SQLStateMissingCapability:
		e.Layer, e.Code = fault.LayerPermission, fault.CodeMissingCapability
	case SQLStateIllegalTransition:
		e.Layer, e.Code = fault.LayerInvariant, fault.CodeIllegalTransition
	case SQLStateFrozen:
		e.Layer, e.Code = fault.LayerInvariant, fault.CodeFrozen
	case SQLStatePreconditionFailed:
		e.Layer, e.Code = fault.LayerInvariant, fault.CodePreconditionFailed
	case SQLStateDirectWrite:
		e.Layer, e.Code = fault.LayerInvariant, fault.CodeDirectWrite
	case SQLStateSeparationOfDuties:
		e.Layer, e.Code = fault.LayerInvariant, fault.CodeSeparationOfDuties
	case SQLStateStaleVersion:
		e.Layer, e.Code = fault.LayerConflict, fault.CodeStaleVersion
	case SQLStateIdempotencyKeyReused:
		// The key stays taken: the same request meets it again.
		e.Layer, e.Code, e.Final = fault.LayerConflict, fault.CodeIdempotencyKeyReused, true
	case SQLStateNotFound:
		e.Layer, e.Code = fault.LayerNotFound, fault.CodeNotFound
	case pgerrcode.SerializationFailure:
		e.Layer, e.Code, e.Reason = fault.LayerConflict, fault.CodeSerializationFailure, "a concurrent transaction changed the same data"
	case pgerrcode.DeadlockDetected:
		e.Layer, e.Code, e.Reason = fault.LayerConflict, fault.CodeDeadlock, "a concurrent transaction deadlocked with this one"
	case pgerrcode.InsufficientPrivilege:
		e.Layer, e.Code = fault.LayerInvariant, fault.CodeBoundaryViolation
		e.Reason = "the database refused a statement that goes around the transition functions"
	case pgerrcode.UniqueViolation, pgerrcode.ExclusionViolation:
		// A lost race on a constraint its domain declared a conflict;
		// any other is a defect, as for the rest of class 23.
		if declared, ok := c.Lookup(conflictKeyOf(pgErr)); ok {
			return declared.error(err, conflictKeyOf(pgErr))
		}
		e.Layer, e.Code = fault.LayerInvariant, fault.CodeIntegrity
		e.Reason = "the database refused the change: constraint " + pgErr.ConstraintName
	case pgerrcode.CharacterNotInRepertoire, pgerrcode.UntranslatableCharacter:
		e.Layer, e.Code, e.Reason = fault.LayerInvalid, fault.CodeInvalidText, "text must be valid UTF-8 without NUL characters"
	default:
		switch {
		case strings.HasPrefix(pgErr.Code, "23"):
			e.Layer, e.Code = fault.LayerInvariant, fault.CodeIntegrity
			e.Reason = "the database refused the change: constraint " + pgErr.ConstraintName
		case strings.HasPrefix(pgErr.Code, "22"):
			e.Layer, e.Code = fault.LayerInvalid, fault.CodeInvalidInput
			if pgErr.Code == pgerrcode.StringDataRightTruncationDataException {
				e.Code = fault.CodeTooLong
			}
			if !raisedByRaise(pgErr) {
				// Not an author's sentence: the server's own text can name
				// internals, and comes in the server's language.
				e.Reason = "the database refused a malformed value"
			}
		default:
			return err
		}
	}
	return e
}

// Where a PL/pgSQL RAISE statement reports its errors from: the server's
// source file and C function, sent untranslated with every error.
const (
	raiseFile    = "pl_exec.c"
	raiseRoutine = "exec_stmt_raise"
)

// raisedByRaise reports whether a PL/pgSQL RAISE statement raised the error
// (bulwark.raise, or a domain's transition function), so that its message is
// a sentence an author wrote, not the server's.
//
// Class 22 needs this and no other class does: every BW* SQLSTATE is
// bulwark's own, but bulwark also raises 22001, 22004 and 22023, which the
// server raises too, in its own (translated) words, with no constraint,
// column or schema to tell them apart. The message, the context line (Where)
// and the severity are translated; the source location is not. Should a
// server version move RAISE elsewhere, authored class-22 messages degrade
// to the generic sentence: nothing of the server's leaks. (A RAISE given a
// NULL option fails in the same place with the server's 22004; bulwark's
// messages are literals or built by format(), never NULL.)
func raisedByRaise(pgErr *pgconn.PgError) bool {
	return pgErr.File == raiseFile && pgErr.Routine == raiseRoutine
}
