package fault

// Stable error codes of the kit. They are part of the API: services may
// switch on them and log them; they never change meaning. A domain adds its
// own (its policies' reason codes, the codes it declares for its
// constraints with bulwark.declare_conflict).
const (
	// CodeBoundaryViolation (invariant): the database refused a statement
	// that goes around the transition functions (SQLSTATE 42501).
	CodeBoundaryViolation = "boundary_violation"
	// CodeDeadlock (conflict, retryable): SQLSTATE 40P01.
	CodeDeadlock = "deadlock"
	// CodeDirectWrite (invariant): a write to a guarded table outside a
	// transition function (BWI04).
	CodeDirectWrite = "direct_write"
	// CodeFrozen (invariant): a write to a frozen field or record (BWI02).
	CodeFrozen = "frozen"
	// CodeIdempotencyKeyReused (conflict, final): the key was used with
	// other arguments (BWC02).
	CodeIdempotencyKeyReused = "idempotency_key_reused"
	// CodeIllegalTransition (invariant): no such transition from the
	// current state (BWI01).
	CodeIllegalTransition = "illegal_transition"
	// CodeIntegrity (invariant): an integrity constraint refused the change
	// (class 23), and no declaration makes it a conflict.
	CodeIntegrity = "integrity_violation"
	// CodeInvalidInput (invalid): a malformed value (class 22).
	CodeInvalidInput = "invalid_input"
	// CodeInvalidText (invalid): text that is not valid UTF-8 or holds NUL.
	CodeInvalidText = "invalid_text"
	// CodeMissingCapability (permission): the principal lacks the
	// capability (BWP01, or the gate before any write).
	CodeMissingCapability = "missing_capability"
	// CodeNameTaken (conflict, final): the core declares it for a
	// principal's name that another principal holds.
	CodeNameTaken = "name_taken"
	// CodeNotFound (not_found): no such entity or principal (BWN01, or no
	// rows).
	CodeNotFound = "not_found"
	// CodePreconditionFailed (invariant): the target state's precondition
	// is not met (BWI03).
	CodePreconditionFailed = "precondition_failed"
	// CodeRetriesExhausted (unavailable): background work retried errors
	// that name no layer until its attempts ran out.
	CodeRetriesExhausted = "retries_exhausted"
	// CodeSeparationOfDuties (invariant): the same principal may not take
	// both steps (BWI05).
	CodeSeparationOfDuties = "separation_of_duties"
	// CodeSerializationFailure (conflict, retryable): SQLSTATE 40001.
	CodeSerializationFailure = "serialization_failure"
	// CodeStaleVersion (conflict, retryable): the row is not at the version
	// the caller read (BWC01).
	CodeStaleVersion = "stale_version"
	// CodeTooLong (invalid): a value longer than its bound (22001).
	CodeTooLong = "too_long"
)
