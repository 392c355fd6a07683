package db

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Layer names the layer a failure belongs to. Each answers a different
// question, so callers react to it differently.
type Layer string

const (
	// LayerConflict: the world moved (a stale version, a lost race).
	LayerConflict Layer = "conflict"
	// LayerInvalid: the request itself is malformed.
	LayerInvalid Layer = "invalid"
	// LayerInvariant: the database refused what the layers above should have
	// prevented. A system defect, never the caller's fault to retry.
	LayerInvariant Layer = "invariant"
	// LayerNotFound: no such entity or principal.
	LayerNotFound Layer = "not_found"
	// LayerPermission: the principal lacks the capability.
	LayerPermission Layer = "permission"
	// LayerPolicy: the principal may attempt the action, but not on this
	// target in this context. Only the Go policy layer (package authz)
	// returns it; the database has no policies.
	LayerPolicy Layer = "policy"
)

// Sentinels, one per layer, for errors.Is. Every *Error matches the sentinel
// of its layer.
var (
	// ErrConflict reports that the world moved: a stale version or a lost
	// race. Retrying with fresh state may succeed (see [Error.Retryable]).
	ErrConflict = errors.New("bulwark: conflict")
	// ErrInvalid reports malformed input. Retrying the same input cannot help.
	ErrInvalid = errors.New("bulwark: invalid input")
	// ErrInvariant reports that the database refused a change that would
	// have broken an invariant. Retrying cannot help; it is a defect upstream.
	ErrInvariant = errors.New("bulwark: invariant violated")
	// ErrNotFound reports that the entity or principal does not exist.
	ErrNotFound = errors.New("bulwark: not found")
	// ErrPermission reports that the principal lacks the capability.
	ErrPermission = errors.New("bulwark: permission denied")
	// ErrPolicy reports that a policy denied the request. Returned only by
	// package authz.
	ErrPolicy = errors.New("bulwark: denied by policy")
)

// Stable error codes. They are part of the API: services may switch on them
// and log them; they never change meaning.
const (
	CodeBoundaryViolation    = "boundary_violation"
	CodeDeadlock             = "deadlock"
	CodeDirectWrite          = "direct_write"
	CodeFrozen               = "frozen"
	CodeAlreadyScheduled     = "already_scheduled"
	CodeIdempotencyKeyReused = "idempotency_key_reused"
	CodeIllegalTransition    = "illegal_transition"
	CodeIntegrity            = "integrity_violation"
	CodeInvalidInput         = "invalid_input"
	CodeInvalidText          = "invalid_text"
	CodeMissingCapability    = "missing_capability"
	CodeNameTaken            = "name_taken"
	CodeNotFound             = "not_found"
	CodePreconditionFailed   = "precondition_failed"
	CodeSeparationOfDuties   = "separation_of_duties"
	CodeSerializationFailure = "serialization_failure"
	CodeSlugTaken            = "slug_taken"
	CodeStaleVersion         = "stale_version"
	CodeTooLong              = "too_long"
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

// Constraint names that get a mapping of their own. The rest of class 23 is
// an invariant failure.
const (
	ConstraintArticleSchedulePending     = "article_schedule_one_pending"
	ConstraintArticleSlugPublishedUnique = "article_slug_published_unique"
	ConstraintPrincipalNameUnique        = "principal_name_unique"
)

// Error is a failure that names its layer. It wraps its cause (for a
// database error, the *pgconn.PgError, so logs keep the SQLSTATE).
type Error struct {
	// Cause is the underlying error, if any.
	Cause error
	// Code is a stable, machine-readable code such as "stale_version".
	Code string
	// Constraint is the violated constraint's name, for class 23 errors.
	Constraint string
	// Layer is the layer that refused.
	Layer Layer
	// Reason is a human sentence safe to show a caller: bulwark's own text,
	// never raw server text for errors bulwark did not raise.
	Reason string
	// SQLState is the database's error code, when the database refused.
	SQLState string
}

// Error returns "bulwark: <layer> (<code>): <reason>".
func (e *Error) Error() string {
	return fmt.Sprintf("bulwark: %s (%s): %s", e.Layer, e.Code, e.Reason)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Is reports whether target is the sentinel of e's layer.
func (e *Error) Is(target error) bool {
	return target != nil && target == LayerSentinel(e.Layer)
}

// Retryable reports whether trying again with fresh state may succeed: true
// for conflicts caused by concurrent change (a stale version, a lost race,
// a deadlock), false for every other layer and for conflicts that a retry
// would meet again (a reused idempotency key, a taken name).
func (e *Error) Retryable() bool {
	if e.Layer != LayerConflict {
		return false
	}
	switch e.Code {
	case CodeIdempotencyKeyReused, CodeNameTaken:
		return false
	}
	return true
}

// LayerSentinel returns the sentinel error for layer, or nil for an unknown
// layer.
func LayerSentinel(layer Layer) error {
	switch layer {
	case LayerConflict:
		return ErrConflict
	case LayerInvalid:
		return ErrInvalid
	case LayerInvariant:
		return ErrInvariant
	case LayerNotFound:
		return ErrNotFound
	case LayerPermission:
		return ErrPermission
	case LayerPolicy:
		return ErrPolicy
	}
	return nil
}

// ErrorLayer returns the layer of err if it is (or wraps) an *Error, and ""
// otherwise.
func ErrorLayer(err error) Layer {
	var e *Error
	if errors.As(err, &e) {
		return e.Layer
	}
	return ""
}

// InterpretError maps a database error to a layered *Error. It is the only
// place where SQLSTATEs become errors. Errors that name no layer (a lost
// connection, a cancelled context) are returned unchanged, and nil stays
// nil.
func InterpretError(err error) error {
	if err == nil {
		return nil
	}
	var layered *Error
	if errors.As(err, &layered) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &Error{Cause: err, Code: CodeNotFound, Layer: LayerNotFound, Reason: "no such row"}
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	e := &Error{Cause: err, SQLState: pgErr.Code, Constraint: pgErr.ConstraintName, Reason: pgErr.Message}
	switch pgErr.Code {
	case SQLStateMissingCapability:
		e.Layer, e.Code = LayerPermission, CodeMissingCapability
	case SQLStateIllegalTransition:
		e.Layer, e.Code = LayerInvariant, CodeIllegalTransition
	case SQLStateFrozen:
		e.Layer, e.Code = LayerInvariant, CodeFrozen
	case SQLStatePreconditionFailed:
		e.Layer, e.Code = LayerInvariant, CodePreconditionFailed
	case SQLStateDirectWrite:
		e.Layer, e.Code = LayerInvariant, CodeDirectWrite
	case SQLStateSeparationOfDuties:
		e.Layer, e.Code = LayerInvariant, CodeSeparationOfDuties
	case SQLStateStaleVersion:
		e.Layer, e.Code = LayerConflict, CodeStaleVersion
	case SQLStateIdempotencyKeyReused:
		e.Layer, e.Code = LayerConflict, CodeIdempotencyKeyReused
	case SQLStateNotFound:
		e.Layer, e.Code = LayerNotFound, CodeNotFound
	case pgerrcode.SerializationFailure:
		e.Layer, e.Code, e.Reason = LayerConflict, CodeSerializationFailure, "a concurrent transaction changed the same data"
	case pgerrcode.DeadlockDetected:
		e.Layer, e.Code, e.Reason = LayerConflict, CodeDeadlock, "a concurrent transaction deadlocked with this one"
	case pgerrcode.InsufficientPrivilege:
		e.Layer, e.Code = LayerInvariant, CodeBoundaryViolation
		e.Reason = "the database refused a statement that goes around the transition functions"
	case pgerrcode.UniqueViolation:
		switch pgErr.ConstraintName {
		case ConstraintPrincipalNameUnique:
			e.Layer, e.Code, e.Reason = LayerConflict, CodeNameTaken, "a principal with that name exists"
			return e
		case ConstraintArticleSlugPublishedUnique:
			// Two publishers of one slug raced: a conflict, whose retry
			// meets the publish policy's slug check.
			e.Layer, e.Code, e.Reason = LayerConflict, CodeSlugTaken, "another published article took the slug"
			return e
		case ConstraintArticleSchedulePending:
			// Two schedulers raced: the world moved. A retry re-reads and
			// the policy then says the article is already scheduled.
			e.Layer, e.Code, e.Reason = LayerConflict, CodeAlreadyScheduled, "the article already has a pending scheduled publication"
			return e
		}
		e.Layer, e.Code = LayerInvariant, CodeIntegrity
		e.Reason = "the database refused the change: constraint " + pgErr.ConstraintName
	case pgerrcode.CharacterNotInRepertoire, pgerrcode.UntranslatableCharacter:
		e.Layer, e.Code, e.Reason = LayerInvalid, CodeInvalidText, "text must be valid UTF-8 without NUL characters"
	default:
		switch {
		case strings.HasPrefix(pgErr.Code, "23"):
			e.Layer, e.Code = LayerInvariant, CodeIntegrity
			e.Reason = "the database refused the change: constraint " + pgErr.ConstraintName
		case strings.HasPrefix(pgErr.Code, "22"):
			e.Layer, e.Code = LayerInvalid, CodeInvalidInput
			if pgErr.Code == pgerrcode.StringDataRightTruncationDataException {
				e.Code = CodeTooLong
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
