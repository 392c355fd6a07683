package bench

import (
	"context"

	"github.com/google/uuid"
)

// Implementation names one of the ways the bench serves the same
// workload.
type Implementation string

const (
	// ImplementationGate is the articles service: the full gate
	// (validate, permission, snapshot, policy, transition function) on a
	// pool that logs in as a member of bulwark_app, its snapshots read from
	// the primary. Requests pin the version the client saw.
	ImplementationGate Implementation = "gate"
	// ImplementationGateHeld is the gate deciding on the row the client
	// holds (the one an earlier answer gave it, at the version it pins):
	// authz.Held.
	ImplementationGateHeld Implementation = "gate-held"
	// ImplementationGateCache is the gate deciding on its per-process
	// snapshot cache: authz.FromCache.
	ImplementationGateCache Implementation = "gate-cache"
	// ImplementationGateReplica is the gate deciding on a streaming
	// replica's rows: authz.FromReplica. It runs only with a replica
	// ([RunOpts].ReplicaURL).
	ImplementationGateReplica Implementation = "gate-replica"
	// ImplementationDB is the generated db function alone
	// (db.Queries.ArticleSubmit and the rest), called with the version
	// the client saw.
	ImplementationDB Implementation = "db"
	// ImplementationNaive is the check-then-act people write instead, on
	// the unguarded copy: SELECT the row, check state and ownership in
	// Go, UPDATE it (no lock, no version check).
	ImplementationNaive Implementation = "naive"
	// ImplementationRaw is a single UPDATE with no checks on the
	// unguarded copy: the ceiling.
	ImplementationRaw Implementation = "raw"
)

// Implementations returns the four a run has by default, in the order
// each client count runs them: the gate on the primary, the db function,
// naive and raw.
func Implementations() []Implementation {
	return []Implementation{ImplementationGate, ImplementationDB, ImplementationNaive, ImplementationRaw}
}

// AllImplementations returns every implementation, each snapshot source
// of the gate's included, in the order each client count runs them.
func AllImplementations() []Implementation {
	return []Implementation{ImplementationGate, ImplementationGateHeld, ImplementationGateCache, ImplementationGateReplica,
		ImplementationDB, ImplementationNaive, ImplementationRaw}
}

// Guarded reports whether impl writes through bulwark's boundary (a gate,
// or the db function): anything but zero violations from it is a defect.
func (impl Implementation) Guarded() bool {
	switch impl {
	case ImplementationNaive, ImplementationRaw:
		return false
	}
	return true
}

// gate reports whether impl is one of the gate's.
func (impl Implementation) gate() bool {
	switch impl {
	case ImplementationGate, ImplementationGateHeld, ImplementationGateCache, ImplementationGateReplica:
		return true
	}
	return false
}

// implementation serves the workload's requests.
type implementation interface {
	// do sends req. It returns the article as the implementation last
	// saw it: the changed row on success; on failure, the fresh row if
	// it read one, else the zero Snapshot.
	do(ctx context.Context, req request) (Snapshot, error)
	// finals returns the final row of each article in ids.
	finals(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]Snapshot, error)
	// guarded reports whether the implementation writes the guarded
	// table, whose commit order the transition log records; the copy's
	// is the version each UPDATE returns.
	guarded() bool
	// newArticle makes a draft by author with everything publishing
	// needs, and returns its ID and row.
	newArticle(ctx context.Context, author uuid.UUID, slug string) (uuid.UUID, Snapshot, error)
	// order sets the Seq of each claim (all of the guarded table) from
	// the transition log, leaving zero where the log has no row for it.
	order(ctx context.Context, claims []Claim) error
}
