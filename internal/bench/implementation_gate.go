package bench

import (
	"context"
	"fmt"

	"github.com/bulwarkdb/bulwark/articles"
)

// gateImpl serves requests through the articles service: validation, the
// principal's capabilities, the snapshot, the policy, and the transition
// function, in one transaction.
type gateImpl struct {
	guardedTable
	svc *articles.Service
}

// do pins the version the client saw, as a client that shows the user an
// article and sends back its version does: the gate then refuses a stale
// page as a conflict instead of deciding on a newer state the user never
// saw. (ExpectedVersion 0 would let it decide on its own snapshot.)
func (g *gateImpl) do(ctx context.Context, req request) (Snapshot, error) {
	tr := articles.TransitionRequest{ID: req.article, ExpectedVersion: req.expected, IdemKey: req.key}
	var a articles.Article
	var err error
	switch req.action.Name {
	case "approve":
		a, err = g.svc.Approve(ctx, req.actor, tr, nil)
	case "archive":
		a, err = g.svc.Archive(ctx, req.actor, tr, nil)
	case "edit":
		body := req.body()
		a, err = g.svc.Edit(ctx, req.actor, articles.EditRequest{
			ID:              req.article,
			Body:            &body,
			ExpectedVersion: req.expected,
			IdemKey:         req.key,
		}, nil)
	case "publish":
		a, err = g.svc.Publish(ctx, req.actor, tr, nil)
	case "request_changes":
		tr.Note = requestChangesNote
		a, err = g.svc.RequestChanges(ctx, req.actor, tr, nil)
	case "submit":
		a, err = g.svc.Submit(ctx, req.actor, tr, nil)
	case "withdraw":
		a, err = g.svc.Withdraw(ctx, req.actor, tr, nil)
	default:
		return Snapshot{}, fmt.Errorf("gate: no action %q", req.action.Name)
	}
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{State: a.State, Version: a.Version}, nil
}

// requestChangesNote is the reviewer's note on every request for changes.
const requestChangesNote = "Please tighten the summary."
