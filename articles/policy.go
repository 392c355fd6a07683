package articles

import (
	"fmt"
	"strings"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/db"
)

// Policy reason codes. Stable: services may switch on them.
const (
	CodeIncompleteMetadata = "incomplete_metadata"
	CodeNeedsPublisher     = "needs_publisher"
	CodeNotAuthor          = "not_author"
	CodeNotVisible         = "not_visible"
	CodeOwnArticle         = "own_article"
	CodeWrongState         = "wrong_state"
)

func isAuthor(p *authz.Principal, a Article) bool { return a.AuthorID == p.ID }

func wrongState(action string, a Article, want ...State) authz.Decision {
	for _, s := range want {
		if State(a.State) == s {
			return authz.Allow()
		}
	}
	names := make([]string, len(want))
	for i, s := range want {
		names[i] = string(s)
	}
	return authz.Deny(CodeWrongState, fmt.Sprintf("cannot %s an article that is %s (needs %s)", action, a.State, strings.Join(names, " or ")))
}

// PolicyEdit: only the author edits, and only a draft.
func PolicyEdit(p *authz.Principal, a Article, _ EditRequest) authz.Decision {
	if !isAuthor(p, a) {
		return authz.Deny(CodeNotAuthor, "only the author edits an article")
	}
	return wrongState("edit", a, StateDraft)
}

// PolicySubmit: only the author submits their own draft.
func PolicySubmit(p *authz.Principal, a Article, _ TransitionRequest) authz.Decision {
	if !isAuthor(p, a) {
		return authz.Deny(CodeNotAuthor, "only the author submits an article")
	}
	return wrongState("submit", a, StateDraft)
}

// reviewPolicy: nobody reviews their own article.
func reviewPolicy(action string, from State) authz.Policy[Article, TransitionRequest] {
	return func(p *authz.Principal, a Article, _ TransitionRequest) authz.Decision {
		if isAuthor(p, a) {
			return authz.Deny(CodeOwnArticle, "nobody reviews their own article")
		}
		return wrongState(action, a, from)
	}
}

var (
	// PolicyRequestChanges: a reviewer other than the author, on an
	// article in review.
	PolicyRequestChanges = reviewPolicy("request changes on", StateInReview)
	// PolicyApprove: a reviewer other than the author, on an article in
	// review.
	PolicyApprove = reviewPolicy("approve", StateInReview)
	// PolicyWithdraw: a reviewer other than the author withdraws an
	// approval.
	PolicyWithdraw = reviewPolicy("withdraw", StateApproved)
)

// PolicyPublish: the article is approved and its metadata complete.
func PolicyPublish(_ *authz.Principal, a Article, _ TransitionRequest) authz.Decision {
	if d := wrongState("publish", a, StateApproved); !d.Allowed {
		return d
	}
	var missing []string
	if strings.TrimSpace(a.Title) == "" {
		missing = append(missing, "title")
	}
	if a.Slug == nil || *a.Slug == "" {
		missing = append(missing, "slug")
	}
	if a.Summary == nil || strings.TrimSpace(*a.Summary) == "" {
		missing = append(missing, "summary")
	}
	if len(missing) > 0 {
		return authz.Deny(CodeIncompleteMetadata, "publishing needs a "+strings.Join(missing, ", "))
	}
	return authz.Allow()
}

// CodeSlugTaken: another published article uses the slug. The publish
// policy denies with it, and it is the code of the conflict the article
// migrations declare on the published-slug index (bulwark.declare_conflict)
// for the publisher that lost the race to it.
const CodeSlugTaken = "slug_taken"

// publishTarget is the publish policy's snapshot: the article, and whether
// another published article holds its slug.
type publishTarget = db.ArticleGetForPublishRow

func policyPublishTarget(p *authz.Principal, t publishTarget, req TransitionRequest) authz.Decision {
	if d := PolicyPublish(p, t.AppArticle, req); !d.Allowed {
		return d
	}
	if t.SlugTaken {
		return authz.Deny(CodeSlugTaken, fmt.Sprintf("another published article uses the slug %q", *t.AppArticle.Slug))
	}
	return authz.Allow()
}

// PolicyArchive: a draft is archived by its author (or an admin); a
// published article by a holder of article.publish (or an admin).
func PolicyArchive(p *authz.Principal, a Article, _ TransitionRequest) authz.Decision {
	switch State(a.State) {
	case StateDraft:
		if !isAuthor(p, a) && !p.HasRole(RoleAdmin) {
			return authz.Deny(CodeNotAuthor, "only the author (or an admin) archives a draft")
		}
		return authz.Allow()
	case StatePublished:
		if !p.Can(CanPublish) && !p.HasRole(RoleAdmin) {
			return authz.Deny(CodeNeedsPublisher, "only a publisher (or an admin) archives a published article")
		}
		return authz.Allow()
	}
	return wrongState("archive", a, StateDraft, StatePublished)
}

// canSeeUnpublished: the author, reviewers, publishers and admins see
// articles that are not published.
func canSeeUnpublished(p *authz.Principal, a Article) bool {
	return isAuthor(p, a) || p.Can(CanReview) || p.Can(CanPublish) || p.HasRole(RoleAdmin)
}

// PolicyGet: a published article is visible to every active principal;
// any other only to its author and the staff.
func PolicyGet(p *authz.Principal, a Article, _ authz.ByID) authz.Decision {
	if State(a.State) == StatePublished || canSeeUnpublished(p, a) {
		return authz.Allow()
	}
	return authz.Deny(CodeNotVisible, "this article is not visible to you")
}

// PolicyList: everyone lists published articles; other states are for the
// staff.
func PolicyList(p *authz.Principal, _ Page, req ListRequest) authz.Decision {
	if req.State == StatePublished || p.Can(CanReview) || p.Can(CanPublish) || p.HasRole(RoleAdmin) {
		return authz.Allow()
	}
	return authz.Deny(CodeNotVisible, fmt.Sprintf("listing %s articles is for reviewers and publishers", req.State))
}
