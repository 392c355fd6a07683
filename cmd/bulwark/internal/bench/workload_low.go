package bench

import (
	"fmt"
)

// ownActions are the low-contention workload's two steps, by the state
// they leave: the author submits a draft, the article's own reviewer
// sends it back. Round and round, an article never leaves the loop.
var ownActions = map[string]*action{
	stateDraft:    {Step: Step{Name: "submit", From: stateDraft, To: stateInReview}, kind: kindAuthor},
	stateInReview: {Step: Step{Name: "request_changes", From: stateInReview, To: stateDraft}, kind: kindEditor},
}

// nextOwn returns client's n-th request of the low-contention workload:
// the next of its own articles in turn, the step its state offers, sent
// by the article's author or reviewer, pinned to the version the client
// last saw, which no other client changes.
func (w *workload) nextOwn(client, n int, key string) (request, error) {
	own := w.own[client]
	sl := own[n%len(own)]
	sl.mu.Lock()
	view, article := sl.cur, sl.article
	sl.mu.Unlock()

	a, ok := ownActions[view.State]
	if !ok {
		return request{}, fmt.Errorf("client %d: article %s is %s, which the low-contention workload never leaves it in", client, article, view.State)
	}
	actor := sl.author
	if a.kind == kindEditor {
		actor = sl.reviewer
	}
	return request{action: a, actor: actor, article: article, expected: view.Version, key: key, slot: sl}, nil
}
