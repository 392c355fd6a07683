package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/bulwarkdb/bulwark/fault"
)

const (
	// ReplayRate is the share of requests that retry the client's previous
	// request with the same idempotency key, as a client does when a
	// response is lost.
	ReplayRate = 0.05
	// StaleRate is the share of requests decided on the article's
	// previous version, as from a page loaded before the last change.
	StaleRate = 0.10
)

// Workload names what the clients do.
type Workload string

const (
	// WorkloadHot is the contended workload: every client acts on one
	// small hot set of articles, anywhere in the workflow, with
	// [StaleRate] stale pages and [ReplayRate] retries.
	WorkloadHot Workload = "hot"
	// WorkloadLow is the low-contention workload: each client has
	// articles of its own, an author and a reviewer of its own, and sends
	// one keyed, version-pinned submit or request_changes per request,
	// so that its articles go draft, in_review, draft, and so on. Nothing
	// is stale and nothing is retried: it measures what one transition
	// costs when nothing competes for its rows.
	WorkloadLow Workload = "low"
)

// Workloads returns the workloads [Run] knows.
func Workloads() []Workload { return []Workload{WorkloadHot, WorkloadLow} }

// rates returns the workload's stale and replay rates.
func (wl Workload) rates() (stale, replay float64) {
	if wl == WorkloadLow {
		return 0, 0
	}
	return StaleRate, ReplayRate
}

// The article states the workload knows.
const (
	stateApproved  = "approved"
	stateArchived  = "archived"
	stateDraft     = "draft"
	stateInReview  = "in_review"
	statePublished = "published"
)

// actorKind is the kind of principal that takes an action.
type actorKind int

const (
	// kindAuthor is the article's own author.
	kindAuthor actorKind = iota
	// kindEditor is a reviewer, never the author.
	kindEditor
	// kindPublisher holds article.publish.
	kindPublisher
)

// action is one thing a client may ask for, from one state.
type action struct {
	Step
	kind   actorKind
	weight int
}

// stepEdit is the edit of a draft: not a transition of the machine, but a
// write with a rule of its own (only a draft is edited), so the check
// treats it as the step draft to draft.
var stepEdit = Step{Name: "edit", From: stateDraft, To: stateDraft}

// actions are the requests the workload sends, weighted within their
// from-state. Published and archived articles leave the workflow's loop
// (only archive leaves published; nothing leaves archived), so publish
// and archive from draft are rarer than the moves that send an article
// round again: an article takes about fourteen steps, edits included,
// before it is archived and its slot gets a fresh draft.
var actions = []action{
	{Step: Step{Name: "archive", From: stateDraft, To: stateArchived}, kind: kindAuthor, weight: 1},
	{Step: stepEdit, kind: kindAuthor, weight: 3},
	{Step: Step{Name: "submit", From: stateDraft, To: stateInReview}, kind: kindAuthor, weight: 8},
	{Step: Step{Name: "approve", From: stateInReview, To: stateApproved}, kind: kindEditor, weight: 5},
	{Step: Step{Name: "request_changes", From: stateInReview, To: stateDraft}, kind: kindEditor, weight: 5},
	{Step: Step{Name: "publish", From: stateApproved, To: statePublished}, kind: kindPublisher, weight: 2},
	{Step: Step{Name: "withdraw", From: stateApproved, To: stateDraft}, kind: kindEditor, weight: 8},
	{Step: Step{Name: "archive", From: statePublished, To: stateArchived}, kind: kindPublisher, weight: 1},
}

// pickAction returns a random action from state, by weight, or nil when
// the workload has none (archived).
func pickAction(rng *rand.Rand, state string) *action {
	total := 0
	for i := range actions {
		if actions[i].From == state {
			total += actions[i].weight
		}
	}
	if total == 0 {
		return nil
	}
	n := rng.IntN(total)
	for i := range actions {
		if actions[i].From != state {
			continue
		}
		if n < actions[i].weight {
			return &actions[i]
		}
		n -= actions[i].weight
	}
	return nil
}

// request is one request of the workload, the same whichever
// implementation serves it.
type request struct {
	action  *action
	actor   uuid.UUID
	article uuid.UUID
	// expected is the version the client decided on: the one it saw.
	expected int32
	key      string
	slot     *slot
}

// body is an edit's new body; a retry sends the same.
func (r request) body() string { return "Edited by request " + r.key + "." }

// slot is one place in the hot set, or one of a client's own articles in
// the low-contention workload. Its article is replaced by a fresh draft
// once archived.
type slot struct {
	author uuid.UUID
	// reviewer requests changes in the low-contention workload; the hot
	// workload picks an editor per request.
	reviewer uuid.UUID

	mu        sync.Mutex
	article   uuid.UUID
	cur       Snapshot // the newest state any client saw
	prev      Snapshot // the one before: what a stale page shows
	replacing bool
}

// observe records that a client saw article at s.
func (sl *slot) observe(article uuid.UUID, s Snapshot) {
	if s.Version == 0 {
		return
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.article == article && s.Version > sl.cur.Version {
		sl.prev, sl.cur = sl.cur, s
	}
}

// workload is one run's shared state: the hot set (or each client's own
// articles) and the cast.
type workload struct {
	editors []uuid.UUID
	impl    implementation
	// own holds each client's own articles in the low-contention
	// workload; nil in the hot one, whose clients share slots.
	own        [][]*slot
	publishers []uuid.UUID
	replayRate float64
	run        int
	slots      []*slot

	created atomic.Int64 // articles made, for unique slugs

	mu       sync.Mutex
	initials map[uuid.UUID]Snapshot // every article the run used, as it started
}

// fill makes the run's articles: the hot set, shared by all clients and
// written by authors in turn, or for the low-contention workload
// spec.articles for each client, written by the client's own author
// (authors[c]) and reviewed by its own editor (w.editors[c]).
func (w *workload) fill(ctx context.Context, spec runSpec, authors []uuid.UUID) error {
	if spec.workload != WorkloadLow {
		for i := range spec.articles {
			author := authors[i%len(authors)]
			id, s, err := w.newArticle(ctx, author)
			if err != nil {
				return err
			}
			w.slots = append(w.slots, &slot{author: author, article: id, cur: s})
		}
		return nil
	}
	if len(authors) < spec.clients || len(w.editors) < spec.clients {
		return fmt.Errorf("fill: %d clients need an author and an editor each, and the cast has %d and %d",
			spec.clients, len(authors), len(w.editors))
	}
	w.own = make([][]*slot, spec.clients)
	for c := range spec.clients {
		for range spec.articles {
			id, s, err := w.newArticle(ctx, authors[c])
			if err != nil {
				return err
			}
			w.own[c] = append(w.own[c], &slot{author: authors[c], reviewer: w.editors[c], article: id, cur: s})
		}
	}
	return nil
}

// newArticle makes a fresh draft by author and records where it started.
func (w *workload) newArticle(ctx context.Context, author uuid.UUID) (uuid.UUID, Snapshot, error) {
	n := w.created.Add(1)
	id, s, err := w.impl.newArticle(ctx, author, fmt.Sprintf("bench-%d-%d", w.run, n))
	if err != nil {
		return id, s, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.initials[id] = s
	return id, s, nil
}

// clientResult is what one client measured and was told.
type clientResult struct {
	claims     []Claim
	errors     Errors
	firstOther error // the first error that named no layer
	latencies  []time.Duration
	ops        int
	replaced   int
	replays    Replays
	// requests counts every request answered, the warm-up's included:
	// the server's function statistics cover them all.
	requests    int
	stale       int
	transitions int
}

// sent is a request and what the client was told.
type sent struct {
	ok  bool
	got Snapshot
	req request
}

// client sends requests until the deadline and returns what it saw. Only
// requests sent from measureFrom on count in the measurements; the ones
// before warm the connections' caches. Every success is claimed, so the
// check sees the whole history. Requests already sent run to completion
// with the deadline passed, because a request cut off after its commit
// would be a success no client was told about; the client stops early,
// with ctx's error, only when ctx is done. A client sends at least one
// measured request, past the deadline if it must (a short run on a busy
// machine: a warm-up request can outlast the window): the run's elapsed
// time includes it, so its rate stays what was measured, and no run
// reports nothing.
func (w *workload) client(ctx context.Context, slice, id int, rng *rand.Rand, measureFrom, deadline time.Time) (clientResult, error) {
	var res clientResult
	var last *sent
	for n := 0; time.Now().Before(deadline) || res.ops == 0; n++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		measured := !time.Now().Before(measureFrom)
		var req request
		replay := last != nil && rng.Float64() < w.replayRate
		if replay {
			req = last.req
		} else {
			var stale bool
			var outcome nextOutcome
			var err error
			key := fmt.Sprintf("r%d-c%d-%d", slice, id, n)
			if w.own != nil {
				req, err = w.nextOwn(id, n, key)
			} else {
				req, stale, outcome, err = w.next(ctx, rng, key)
			}
			if err != nil {
				return res, err
			}
			if outcome != nextRequest {
				res.replaced += boolInt(outcome == nextReplaced && measured)
				continue
			}
			res.stale += boolInt(stale && measured)
		}

		start := time.Now()
		got, err := w.impl.do(ctx, req)
		latency := time.Since(start)
		req.slot.observe(req.article, got)
		if err != nil && ctx.Err() != nil {
			return res, ctx.Err()
		}
		res.requests++
		original := replay && last.ok && err == nil && got.Version == last.got.Version
		if err == nil {
			c := Claim{
				Step:        req.action.Step,
				Actor:       req.actor,
				Article:     req.article,
				FromVersion: req.expected,
				Key:         req.key,
				Version:     got.Version,
			}
			if !w.impl.guarded() {
				// The copy's version is a counter bumped inside each
				// UPDATE, under the row lock: it numbers the commits.
				c.Seq = int64(got.Version)
			}
			res.claims = append(res.claims, c)
		}
		if measured {
			res.latencies = append(res.latencies, latency)
			res.ops++
			if err != nil {
				layer := fault.LayerOf(err)
				res.errors.add(layer)
				if layer == "" && res.firstOther == nil {
					res.firstOther = err
				}
			} else {
				res.transitions += boolInt(!original)
			}
			if replay {
				res.replays.Sent++
				if last.ok {
					res.replays.OfSuccesses++
					res.replays.AnsweredOriginal += boolInt(original)
				}
			}
		}
		if !replay {
			last = &sent{ok: err == nil, got: got, req: req}
		}
	}
	return res, nil
}

// nextOutcome says what [workload.next] did.
type nextOutcome int

const (
	// nextRequest: it returned a request to send.
	nextRequest nextOutcome = iota
	// nextReplaced: the slot's article was archived, so it made the slot
	// a fresh draft.
	nextReplaced
	// nextSkip: nothing to send (another client is replacing the slot's
	// article, or the stale page offers no action); pick again.
	nextSkip
)

// next returns a fresh request on a random slot, decided on what the
// clients last saw of its article or, as from a stale page, on the
// version before. When the slot's article is archived it makes the slot a
// fresh draft instead.
func (w *workload) next(ctx context.Context, rng *rand.Rand, key string) (req request, stale bool, outcome nextOutcome, err error) {
	sl := w.slots[rng.IntN(len(w.slots))]
	sl.mu.Lock()
	if sl.cur.State == stateArchived {
		if sl.replacing {
			sl.mu.Unlock()
			return request{}, false, nextSkip, nil
		}
		sl.replacing = true
		sl.mu.Unlock()
		id, s, err := w.newArticle(ctx, sl.author)
		sl.mu.Lock()
		defer sl.mu.Unlock()
		sl.replacing = false
		if err != nil {
			return request{}, false, nextSkip, fmt.Errorf("replace an archived article: %w", err)
		}
		sl.article, sl.cur, sl.prev = id, s, Snapshot{}
		return request{}, false, nextReplaced, nil
	}
	view := sl.cur
	if sl.prev.Version > 0 && rng.Float64() < StaleRate {
		view, stale = sl.prev, true
	}
	article := sl.article
	sl.mu.Unlock()

	a := pickAction(rng, view.State)
	if a == nil {
		return request{}, false, nextSkip, nil
	}
	var actor uuid.UUID
	switch a.kind {
	case kindAuthor:
		actor = sl.author
	case kindEditor:
		actor = w.editors[rng.IntN(len(w.editors))]
	case kindPublisher:
		actor = w.publishers[rng.IntN(len(w.publishers))]
	}
	return request{action: a, actor: actor, article: article, expected: view.Version, key: key, slot: sl}, stale, nextRequest, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
