package authz_test

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/fault"
)

// Example_gate walks three principals through the gate's permission and
// policy layers and shows what each caller gets back. A service makes one
// call, authz.Do(ctx, gate, principalID, action, req, nil), which loads the
// principal and the snapshot from the database; an Example cannot get a
// database from the test harness (pgtest hands databases to a testing.TB),
// so this one holds the principals and the snapshot in memory and takes the
// gate's two decisions itself, in the gate's order.
func Example_gate() {
	type draft struct {
		AuthorID uuid.UUID
		State    string
	}
	// The policy is what a domain writes: a pure function of the
	// principal, a snapshot of the target and the request.
	onlyAuthorSubmits := authz.Policy[draft, struct{}](func(p *authz.Principal, d draft, _ struct{}) authz.Decision {
		if d.AuthorID != p.ID {
			return authz.Deny("not_author", "only the author submits an article")
		}
		if d.State != "draft" {
			return authz.Deny("not_draft", "only a draft can be submitted")
		}
		return authz.Allow()
	})

	// Only for the example: principals as Grants would load them.
	author := []authz.Capability{"article.archive", "article.create", "article.edit", "article.submit"}
	alice := &authz.Principal{ID: uuid.MustParse("00000000-0000-0000-0000-0000000000a1"), Active: true, Name: "alice", Capabilities: author}
	bob := &authz.Principal{ID: uuid.MustParse("00000000-0000-0000-0000-0000000000b0"), Active: true, Name: "bob", Capabilities: author}
	erin := &authz.Principal{ID: uuid.MustParse("00000000-0000-0000-0000-0000000000e1"), Active: true, Name: "erin", Capabilities: []authz.Capability{"article.review"}}
	article := draft{AuthorID: alice.ID, State: "draft"}

	for _, p := range []*authz.Principal{alice, bob, erin} {
		// Only for the example: what authz.Do returns at each layer.
		var err error
		if !p.Can("article.submit") {
			err = &fault.Error{Layer: fault.LayerPermission, Code: "missing_capability", Reason: "principal " + p.Name + " lacks capability article.submit"}
		} else if d := onlyAuthorSubmits(p, article, struct{}{}); !d.Allowed {
			err = authz.Denied(d)
		}
		fmt.Printf("%s: %d retryable=%t %v\n", p.Name, fault.HTTPStatus(err), fault.IsRetryable(err), err)
	}

	// Output:
	// alice: 200 retryable=false <nil>
	// bob: 422 retryable=false bulwark: policy (not_author): only the author submits an article
	// erin: 403 retryable=false bulwark: permission (missing_capability): principal erin lacks capability article.submit
}
