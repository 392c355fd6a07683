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
// idempotency key, and map the result. Every failure is a *fault.Error
// naming its layer (package fault: the layers, their sentinels, codes and
// HTTP statuses); a lost race on a constraint that a domain declared with
// bulwark.declare_conflict is a conflict with the declared code, read from
// the declarations the first time the gate meets one. [DoOpts].Retry
// retries conflicts by running the whole gate again on fresh state: it
// never re-sends an old mutation.
//
// # An API made of types
//
// Requests say what they are about ([Targeted]), carry their idempotency
// key ([Keyed]) and the version the caller saw ([Pinned]), and check their
// own shape ([Validator]); snapshots say which row and version they are
// ([Entity], methods beside the sqlc models). So the common shapes take a
// policy and a SQL call and nothing else: [Transition], [Create], [Read]
// (whose refusal answers not found, so it does not reveal that the target
// exists) and [Query].
//
// # Round trips
//
// The gate's own statements travel with the action's: the idempotency key
// check in one pgx batch with the snapshot's query, the correlation id in
// one with the transition function's call (one implicit transaction). A
// keyed transition costs two round trips, one when the snapshot is held
// or cached; a read costs one.
//
// # Snapshots from anywhere
//
// A [SnapshotSource], per gate or per call, says where the snapshot comes
// from: the primary ([FromPrimary]), a row the caller holds ([Held]), the
// gate's per-process cache ([FromCache]) or a streaming replica
// ([FromReplica]). A stale snapshot is harmless: the transition function
// re-checks the version under the row lock and refuses with a retryable
// conflict, and a retry decides again on the primary. No refusal rests on a
// copy: one the policy refuses is read again from the primary first.
//
// # Tracing
//
// Each call carries a correlation id ([WithCorrelationID], generated when
// absent). The [Observer] sees it with every decision, and the database
// writes it into bulwark.transition_log.correlation_id, so one attempt can be
// followed from the Go decision to the audit row.
package authz
