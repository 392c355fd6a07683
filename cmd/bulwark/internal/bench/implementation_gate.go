package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/google/uuid"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/authz"
)

// gateImpl serves requests through the articles service: validation, the
// principal's capabilities, the snapshot, the policy, and the transition
// function. Its service's gate reads snapshots from the primary, its cache
// or a replica; with held, each request carries the row the client was
// given at the version it pins.
type gateImpl struct {
	guardedTable
	held bool
	svc  *articles.Service

	mu   sync.Mutex
	rows map[uuid.UUID][]articles.Article // the last rows each article was given as
}

// heldRows is how many of an article's rows a client keeps: the one it
// shows, and the one a stale page shows.
const heldRows = 3

// do pins the version the client saw, as a client that shows the user an
// article and sends back its version does: the gate then refuses a stale
// page as a conflict instead of deciding on a newer state the user never
// saw. (ExpectedVersion 0 would let it decide on its own snapshot.)
func (g *gateImpl) do(ctx context.Context, req request) (Snapshot, error) {
	tr := articles.TransitionRequest{ID: req.article, ExpectedVersion: req.expected, IdemKey: req.key}
	var opts *authz.DoOpts
	if g.held {
		if row, ok := g.heldRow(req.article, req.expected); ok {
			opts = &authz.DoOpts{Snapshot: authz.Held(row)}
		}
	}
	var a articles.Article
	var err error
	switch req.action.Name {
	case "approve":
		a, err = g.svc.Approve(ctx, req.actor, tr, opts)
	case "archive":
		a, err = g.svc.Archive(ctx, req.actor, tr, opts)
	case "edit":
		body := req.body()
		a, err = g.svc.Edit(ctx, req.actor, articles.EditRequest{
			ID:              req.article,
			Body:            &body,
			ExpectedVersion: req.expected,
			IdemKey:         req.key,
		}, opts)
	case "publish":
		a, err = g.svc.Publish(ctx, req.actor, tr, opts)
	case "request_changes":
		tr.Note = requestChangesNote
		a, err = g.svc.RequestChanges(ctx, req.actor, tr, opts)
	case "submit":
		a, err = g.svc.Submit(ctx, req.actor, tr, opts)
	case "withdraw":
		a, err = g.svc.Withdraw(ctx, req.actor, tr, opts)
	default:
		return Snapshot{}, fmt.Errorf("gate: no action %q", req.action.Name)
	}
	if err != nil {
		return Snapshot{}, err
	}
	g.give(a)
	return Snapshot{State: a.State, Version: a.Version}, nil
}

// newArticle makes the draft, and gives the client its row.
func (g *gateImpl) newArticle(ctx context.Context, author uuid.UUID, slug string) (uuid.UUID, Snapshot, error) {
	a, err := g.guardedTable.newRow(ctx, author, slug)
	if err != nil {
		return uuid.Nil, Snapshot{}, err
	}
	g.give(a)
	return a.ID, Snapshot{State: a.State, Version: a.Version}, nil
}

// give records that a client was given row a.
func (g *gateImpl) give(a articles.Article) {
	if !g.held {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.rows == nil {
		g.rows = make(map[uuid.UUID][]articles.Article)
	}
	rows := append(g.rows[a.ID], a)
	slices.SortFunc(rows, func(x, y articles.Article) int { return int(x.Version - y.Version) })
	if len(rows) > heldRows {
		rows = rows[len(rows)-heldRows:]
	}
	g.rows[a.ID] = rows
}

// heldRow returns the row of article at version, if a client was given it.
func (g *gateImpl) heldRow(article uuid.UUID, version int32) (articles.Article, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, a := range g.rows[article] {
		if a.Version == version {
			return a, true
		}
	}
	return articles.Article{}, false
}

// requestChangesNote is the reviewer's note on every request for changes.
const requestChangesNote = "Please tighten the summary."
