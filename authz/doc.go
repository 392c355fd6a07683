// Package authz is bulwark's permission and policy layer and the gate every
// mutation passes through.
//
// No domain knowledge here; every mutation goes through the gate.
//
// # Layers
//
// A [Capability] says what a principal may attempt ("article.publish"); it
// never encodes state or condition, and the [Registry] refuses one that does,
// by the database's own rule and data. A [Policy] decides whether a request
// makes sense in context, as a pure function of the principal, a snapshot of
// the target and the request. The database decides what is true: the
// transition function re-checks the capability, the version and the
// invariants, whoever calls it.
//
// # The gate
//
// [Do] runs one [Action] in a fixed order: validate the input, check the
// capability ([Grants]), load the snapshot, run the policy, call the
// transition function with the snapshot's version and the caller's
// idempotency key, and map the result. Every failure is an [*Error] naming
// its layer; [HTTPStatus] maps layers to status codes. [DoRetry] retries
// conflicts by running the whole gate again on fresh state: it never re-sends
// an old mutation.
//
// # Tracing
//
// Each call carries a correlation id ([WithCorrelationID], generated when
// absent). The [Observer] sees it with every decision, and the database
// writes it into bulwark.transition_log.correlation_id, so one attempt can be
// followed from the Go decision to the audit row.
package authz
