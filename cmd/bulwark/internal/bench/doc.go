// Package bench measures what bulwark's enforcement costs and what it
// buys: an article workload (contended, or each client on rows of its
// own) served by several implementations in the same process and database,
// each checked by the same independent test of correctness, with what
// the server's functions cost per call. `bulwark bench` runs it.
//
// The package's rule: it measures, it never weakens the boundary. [Run]
// creates a database of its own and drops it at the end; the naive and raw
// implementations write only bench.articles, an unguarded copy of
// app.articles in that database, and the guarded table changes only
// through the transition functions.
//
// # Implementations
//
//   - [ImplementationGate]: the articles service, the full gate, on a pool
//     that logs in as a member of bulwark_app, deciding on snapshots read
//     from the primary (with the idempotency key check, one round trip),
//     then calling the transition function (with the correlation id, one
//     more).
//   - [ImplementationGateHeld], [ImplementationGateCache],
//     [ImplementationGateReplica]: the same gate deciding on the row the
//     client was given (authz.Held), on the gate's per-process cache
//     (authz.FromCache), or on a streaming replica (authz.FromReplica,
//     with [RunOpts].ReplicaURL). [RunOpts].Implementations picks which
//     run; `bulwark bench --sources all` runs them all side by side.
//   - [ImplementationDB]: the generated db function alone, with the
//     version the client saw.
//   - [ImplementationNaive]: check-then-act on the copy: SELECT the row,
//     check state and ownership in Go, UPDATE it, with no lock and no
//     version check.
//   - [ImplementationRaw]: one UPDATE with no checks on the copy: the
//     ceiling.
//
// # The workloads
//
// [WorkloadHot]: clients act on a small hot set of articles. Each request picks an
// article at random and an action the article's state offers as the
// clients last saw it (submit, edit, request changes, approve, withdraw,
// publish, archive), weighted so that articles go round the review loop
// many times before they are archived, and sends it as the right kind of
// principal: the author for submit, edit and archiving a draft, an editor
// for review, a publisher for publish and archiving a published article.
// An archived article's slot gets a fresh draft. [StaleRate] of the
// requests are decided on the version before the last one the clients
// saw, as from a stale page; [ReplayRate] retry the client's previous
// request with the same idempotency key. Every request carries a key of
// its own.
//
// [WorkloadLow]: each client has articles, an author and a reviewer of
// its own, and sends one keyed, version-pinned request at a time, a submit
// or a request for changes, so that its articles go round draft,
// in_review, draft. Nothing is contended, stale or retried: it measures
// what one transition costs next to the naive and raw writes of the same
// rows, and none of the four should break anything.
//
// # Server cost
//
// Where the server lets it (a superuser's URL, such as the throwaway
// cluster's), the bench database tracks function calls (track_functions
// = 'all'), and each run reports every function's calls per request and
// its self and total time per call, from pg_stat_user_functions. A
// session reports its calls when it ends, so each run starts and ends by
// closing its sessions: the counts cover exactly the run's requests.
// [RunOpts].Durable requires a server with fsync and full_page_writes on
// and sets synchronous_commit on.
//
// # The check
//
// Every success a client is told about is a [Claim]: the step the client
// asked for, the version it decided on, the version it was told the
// article has now. After a run, the claims of each article are placed in
// commit order (for the guarded table, by the bulwark.transition_log row
// each request wrote; for the copy, by the version each UPDATE bumped
// under the row lock) and [Machine.Check] replays them from the article's
// first row: each must be a legal step of the article machine (read from
// bulwark.transitions) from the state and the version the previous one
// left, and the last must leave the article's final row. The check knows
// nothing else about the implementations, so it applies to all of them
// alike. The naive and raw implementations break it under contention, and
// with stale pages and retries even without; the gate, whatever its
// snapshot source, and the db function must never break it.
package bench
