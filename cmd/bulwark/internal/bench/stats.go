package bench

import (
	"math"
	"slices"
	"time"

	"github.com/bulwarkdb/bulwark/fault"
)

// Errors counts failed requests by the layer that refused them.
type Errors struct {
	Conflict  int `json:"conflict"`
	Invalid   int `json:"invalid"`
	Invariant int `json:"invariant"`
	NotFound  int `json:"not_found"`
	// Other counts errors that name no layer, such as a lost connection.
	// The check cannot know whether such a request committed, so any
	// makes its result doubtful.
	Other      int `json:"other"`
	Permission int `json:"permission"`
	Policy     int `json:"policy"`
}

func (e *Errors) add(layer fault.Layer) {
	switch layer {
	case fault.LayerConflict:
		e.Conflict++
	case fault.LayerInvalid:
		e.Invalid++
	case fault.LayerInvariant:
		e.Invariant++
	case fault.LayerNotFound:
		e.NotFound++
	case fault.LayerPermission:
		e.Permission++
	case fault.LayerPolicy:
		e.Policy++
	default:
		e.Other++
	}
}

// Total returns the number of failed requests.
func (e Errors) Total() int {
	return e.Conflict + e.Invalid + e.Invariant + e.NotFound + e.Other + e.Permission + e.Policy
}

func (e Errors) plus(o Errors) Errors {
	return Errors{
		Conflict:   e.Conflict + o.Conflict,
		Invalid:    e.Invalid + o.Invalid,
		Invariant:  e.Invariant + o.Invariant,
		NotFound:   e.NotFound + o.NotFound,
		Other:      e.Other + o.Other,
		Permission: e.Permission + o.Permission,
		Policy:     e.Policy + o.Policy,
	}
}

// Replays counts retries: requests sent again with the same idempotency
// key.
type Replays struct {
	// AnsweredOriginal counts the retries of a success that were answered
	// with the first answer's version: the retry changed nothing and the
	// client learnt the outcome.
	AnsweredOriginal int `json:"answered_original"`
	// OfSuccesses counts the retries of a request that had succeeded.
	OfSuccesses int `json:"of_successes"`
	// Sent counts every retry.
	Sent int `json:"sent"`
}

func (r Replays) plus(o Replays) Replays {
	return Replays{
		AnsweredOriginal: r.AnsweredOriginal + o.AnsweredOriginal,
		OfSuccesses:      r.OfSuccesses + o.OfSuccesses,
		Sent:             r.Sent + o.Sent,
	}
}

// percentile returns the p-th percentile (0 < p <= 1, nearest rank) of
// sorted, in milliseconds; zero for none.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := max(int(math.Ceil(p*float64(len(sorted))))-1, 0)
	return float64(sorted[i]) / float64(time.Millisecond)
}

// latencies returns the p50 and p99 of all, in milliseconds. It sorts all.
func latencies(all []time.Duration) (p50, p99 float64) {
	slices.Sort(all)
	return percentile(all, 0.50), percentile(all, 0.99)
}
