package bench

import (
	"context"

	"github.com/google/uuid"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/db"
)

// naiveImpl is the check-then-act people write instead of bulwark: read
// the row, check its state and who may act in Go, then UPDATE it. Nothing
// holds the row between the read and the write, and nothing compares
// versions, so a concurrent change in between goes unseen.
type naiveImpl struct {
	copyTable
}

func (n *naiveImpl) do(ctx context.Context, req request) (Snapshot, error) {
	var cur Snapshot
	var author uuid.UUID
	if err := n.pool.QueryRow(ctx, copySelect, req.article).Scan(&cur.State, &author, &cur.Version); err != nil {
		return Snapshot{}, db.InterpretError(err)
	}
	if d := naiveDecide(req, cur.State, author); !d.Allowed {
		return cur, authz.Denied(d)
	}
	return n.write(ctx, req)
}

// naiveDecide is the Go check: the state allows the step, the author acts
// on their own article and a reviewer on someone else's. Principals'
// roles are taken as given: the workload sends each action as the right
// kind of principal.
func naiveDecide(req request, state string, author uuid.UUID) authz.Decision {
	if state != req.action.From {
		return authz.Deny(articles.CodeWrongState, "cannot "+req.action.Name+" an article that is "+state)
	}
	switch req.action.kind {
	case kindAuthor:
		if req.actor != author {
			return authz.Deny(articles.CodeNotAuthor, "only the author may "+req.action.Name)
		}
	case kindEditor:
		if req.actor == author {
			return authz.Deny(articles.CodeOwnArticle, "nobody reviews their own article")
		}
	}
	return authz.Allow()
}
