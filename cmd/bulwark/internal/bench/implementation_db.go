package bench

import (
	"context"
	"fmt"

	"github.com/bulwarkdb/bulwark/db"
)

// dbImpl serves requests with the generated db function alone: one
// statement, no Go policy, the version the client saw. It shows what the
// gate adds on top of the database's own enforcement.
type dbImpl struct {
	guardedTable
}

func (d *dbImpl) do(ctx context.Context, req request) (Snapshot, error) {
	key := &req.key
	var a db.AppArticle
	var err error
	switch req.action.Name {
	case "approve":
		a, err = d.q.ArticleApprove(ctx, d.pool, db.ArticleApproveParams{Actor: req.actor, ID: req.article, ExpectedVersion: req.expected, IdemKey: key})
	case "archive":
		a, err = d.q.ArticleArchive(ctx, d.pool, db.ArticleArchiveParams{Actor: req.actor, ID: req.article, ExpectedVersion: req.expected, IdemKey: key})
	case "edit":
		body := req.body()
		a, err = d.q.ArticleEdit(ctx, d.pool, db.ArticleEditParams{Actor: req.actor, ID: req.article, ExpectedVersion: req.expected, Body: &body, IdemKey: key})
	case "publish":
		a, err = d.q.ArticlePublish(ctx, d.pool, db.ArticlePublishParams{Actor: req.actor, ID: req.article, ExpectedVersion: req.expected, IdemKey: key})
	case "request_changes":
		note := requestChangesNote
		a, err = d.q.ArticleRequestChanges(ctx, d.pool, db.ArticleRequestChangesParams{Actor: req.actor, ID: req.article, ExpectedVersion: req.expected, Note: &note, IdemKey: key})
	case "submit":
		a, err = d.q.ArticleSubmit(ctx, d.pool, db.ArticleSubmitParams{Actor: req.actor, ID: req.article, ExpectedVersion: req.expected, IdemKey: key})
	case "withdraw":
		a, err = d.q.ArticleWithdraw(ctx, d.pool, db.ArticleWithdrawParams{Actor: req.actor, ID: req.article, ExpectedVersion: req.expected, IdemKey: key})
	default:
		return Snapshot{}, fmt.Errorf("db: no action %q", req.action.Name)
	}
	if err != nil {
		return Snapshot{}, db.InterpretError(err)
	}
	return Snapshot{State: a.State, Version: a.Version}, nil
}
