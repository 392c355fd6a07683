package authz_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/google/uuid"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
)

// Example_gate walks three principals through the gate with one action,
// submitting a draft for review, and shows what each caller gets back: the
// author's submission passes, another author's is refused by the policy,
// and an editor's by the permission layer, before any write. It runs the
// real gate on a real database (bulwarktest's), so it cannot drift from
// what the gate does.
func Example_gate() {
	ctx := context.Background()
	// Only for the example: a database from the test kit, and a
	// testing.TB that panics on failure.
	t := bulwarktest.NewPanicTB()
	defer t.Close()
	dbURL := bulwarktest.NewDatabase(t)
	admin := bulwarktest.Pool(t, dbURL, nil)
	alice := bulwarktest.Principal(t, admin, "alice", "author")
	bob := bulwarktest.Principal(t, admin, "bob", "author")
	erin := bulwarktest.Principal(t, admin, "erin", "editor")
	q := db.New()
	draft, err := q.ArticleCreate(ctx, admin, db.ArticleCreateParams{Actor: alice, Title: "A title", Body: "Body."})
	if err != nil {
		panic(err)
	}

	// The service logs in as a member of bulwark_app, and its gate acts
	// for the principals it authenticated.
	app := bulwarktest.Pool(t, bulwarktest.LoginAs(t, dbURL, bulwarktest.RoleApp), nil)
	gate := authz.NewGate(app, nil, &authz.GateOpts{Observer: &authz.SlogObserver{Logger: slog.New(slog.DiscardHandler)}})

	// The policy is what a domain writes: a pure function of the
	// principal, a snapshot of the target and the request.
	onlyAuthorSubmitsDraft := func(p *authz.Principal, a db.AppArticle, _ authz.ByID) authz.Decision {
		if a.AuthorID != p.ID {
			return authz.Deny("not_author", "only the author submits an article")
		}
		if a.State != "draft" {
			return authz.Deny("not_draft", "only a draft can be submitted")
		}
		return authz.Allow()
	}
	submit := authz.Transition("article.submit", "article.submit", q.ArticleGetByID, onlyAuthorSubmitsDraft,
		func(ctx context.Context, conn db.DBTX, c authz.Call[db.AppArticle, authz.ByID]) (db.AppArticle, error) {
			return q.ArticleSubmit(ctx, conn, db.ArticleSubmitParams{Actor: c.Principal.ID, ID: c.Snapshot.ID, ExpectedVersion: c.Snapshot.Version})
		})

	for _, p := range []struct {
		name string
		id   uuid.UUID
	}{{"erin", erin}, {"bob", bob}, {"alice", alice}} {
		_, err := authz.Do(ctx, gate, p.id, submit, authz.ByID(draft.ID), nil)
		fmt.Printf("%s: %d retryable=%t %v\n", p.name, fault.HTTPStatus(err), fault.IsRetryable(err), err)
	}

	// Output:
	// erin: 403 retryable=false bulwark: permission (missing_capability): principal erin lacks capability article.submit
	// bob: 422 retryable=false bulwark: policy (not_author): only the author submits an article
	// alice: 200 retryable=false <nil>
}
