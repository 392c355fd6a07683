package bench

import (
	"cmp"
	"slices"

	"github.com/google/uuid"
)

// Step is one move of the state machine as a client understood it: the
// transition it asked for, the state it believed the article was in, and
// the state it was told the article is in now.
type Step struct {
	Name string
	From string
	To   string
}

// Machine is the set of legal steps. [Machine.Check] replays a history
// against it.
type Machine struct {
	steps map[Step]bool
}

// NewMachine returns the machine whose legal steps are steps.
func NewMachine(steps ...Step) *Machine {
	m := &Machine{steps: make(map[Step]bool, len(steps))}
	for _, s := range steps {
		m.steps[s] = true
	}
	return m
}

// Legal reports whether s is one of the machine's steps.
func (m *Machine) Legal(s Step) bool { return m.steps[s] }

// Snapshot is an article's state and version at one moment.
type Snapshot struct {
	State   string
	Version int32
}

// Claim is one success a client was told about.
type Claim struct {
	Step
	// Actor is the principal that acted.
	Actor uuid.UUID
	// Article is the article acted on.
	Article uuid.UUID
	// FromVersion is the version the client decided on: the one it sent.
	FromVersion int32
	// Key is the request's idempotency key, unique per request and shared
	// by its retries.
	Key string
	// Seq places the commit the claim reports in the article's commit
	// order: higher is later. Zero means the database has no record of
	// it.
	Seq int64
	// Version is the version the client was told the article has now.
	Version int32
}

// History is everything the check needs about one article: where it
// started, where it ended, and every success claimed in between.
type History struct {
	Claims  []Claim
	Final   Snapshot
	Initial Snapshot
}

// Violations counts what [Machine.Check] found, by kind. One bad claim can
// break more than one rule (a lost update usually starts from the wrong
// state too), and each broken rule counts.
type Violations struct {
	// AppliedTwice counts commits beyond the first made by one request:
	// a retry with the same idempotency key changed the article again.
	AppliedTwice int `json:"applied_twice"`
	// FinalState counts articles whose chain of claims does not end in
	// the article's final state and version: a write that no client was
	// told about, or a claim that the article does not reflect.
	FinalState int `json:"final_state"`
	// IllegalTransition counts claims whose step the machine does not
	// have.
	IllegalTransition int `json:"illegal_transition"`
	// LostUpdate counts claims applied to a version other than the one
	// their client decided on: something changed the article in between,
	// unseen. Two successes decided on one version are the common case.
	LostUpdate int `json:"lost_update"`
	// SharedCommit counts claims that report a commit another request
	// already claimed, or that report it differently.
	SharedCommit int `json:"shared_commit"`
	// Unrecorded counts claims the database has no record of.
	Unrecorded int `json:"unrecorded"`
	// WrongState counts claims whose client believed the article was in a
	// state other than the one the chain had reached.
	WrongState int `json:"wrong_state"`
}

// Total returns the number of violations of every kind.
func (v Violations) Total() int {
	return v.AppliedTwice + v.FinalState + v.IllegalTransition + v.LostUpdate + v.SharedCommit + v.Unrecorded + v.WrongState
}

// Add returns the sum of v and w.
func (v Violations) Add(w Violations) Violations {
	return Violations{
		AppliedTwice:      v.AppliedTwice + w.AppliedTwice,
		FinalState:        v.FinalState + w.FinalState,
		IllegalTransition: v.IllegalTransition + w.IllegalTransition,
		LostUpdate:        v.LostUpdate + w.LostUpdate,
		SharedCommit:      v.SharedCommit + w.SharedCommit,
		Unrecorded:        v.Unrecorded + w.Unrecorded,
		WrongState:        v.WrongState + w.WrongState,
	}
}

// Check replays h's claims in commit order and counts what breaks the one
// legal chain they must form: from h.Initial, each claim must be a legal
// step from the state and the version the previous one left, and the last
// must leave h.Final. Retries of one request that report the same commit
// count once. The check knows nothing of how an implementation works; it
// sees only what clients were told and the commit order.
func (m *Machine) Check(h History) Violations {
	var v Violations
	claims := make([]Claim, 0, len(h.Claims))
	for _, c := range h.Claims {
		if c.Seq == 0 {
			v.Unrecorded++
			continue
		}
		claims = append(claims, c)
	}
	slices.SortStableFunc(claims, func(a, b Claim) int { return cmp.Compare(a.Seq, b.Seq) })

	state, version := h.Initial.State, h.Initial.Version
	committedBy := make(map[string]int64) // key -> the seq of its first commit
	for i := 0; i < len(claims); {
		c := claims[i]
		// Every other claim of the same commit must be a retry of the same
		// request, told the same result.
		j := i + 1
		for ; j < len(claims) && claims[j].Seq == c.Seq; j++ {
			if claims[j].Key != c.Key || claims[j].Step != c.Step || claims[j].Version != c.Version || claims[j].FromVersion != c.FromVersion {
				v.SharedCommit++
			}
		}
		i = j

		if _, ok := committedBy[c.Key]; ok {
			v.AppliedTwice++
		} else {
			committedBy[c.Key] = c.Seq
		}
		if !m.Legal(c.Step) {
			v.IllegalTransition++
		}
		if c.From != state {
			v.WrongState++
		}
		if c.FromVersion != version {
			v.LostUpdate++
		}
		state, version = c.To, c.Version
	}
	if state != h.Final.State || version != h.Final.Version {
		v.FinalState++
	}
	return v
}
