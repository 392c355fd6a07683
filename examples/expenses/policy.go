package expenses

import (
	"fmt"

	"github.com/bulwarkdb/bulwark/authz"
)

// Policy reason codes. Stable: services may switch on them.
const (
	CodeNotClaimant = "not_claimant"
	CodeNotVisible  = "not_visible"
	CodeOverLimit   = "over_limit"
	CodeOwnClaim    = "own_claim"
	CodeWrongState  = "wrong_state"
)

// ApprovalLimits are the most, in cents, that a holder of each role may
// approve on one claim. A principal's limit is the highest of its roles';
// expense.review without one of these roles approves nothing. The limit
// is context, decided by the policy: the capability says only that the
// principal may attempt a review.
var ApprovalLimits = map[string]int64{
	RoleApprover: 1_000_00,
	RoleDirector: 25_000_00,
}

// ApprovalLimit returns the most p may approve on one claim, in cents.
func ApprovalLimit(p *authz.Principal) int64 {
	var limit int64
	for role, l := range ApprovalLimits {
		if p.HasRole(role) {
			limit = max(limit, l)
		}
	}
	return limit
}

func isClaimant(p *authz.Principal, c Claim) bool { return c.ClaimantID == p.ID }

func wrongState(action string, c Claim, want State) authz.Decision {
	if State(c.State) == want {
		return authz.Allow()
	}
	return authz.Deny(CodeWrongState, fmt.Sprintf("cannot %s a claim that is %s (needs %s)", action, c.State, want))
}

// PolicyEdit: only the claimant edits, and only a draft.
func PolicyEdit(p *authz.Principal, c Claim, _ EditRequest) authz.Decision {
	if !isClaimant(p, c) {
		return authz.Deny(CodeNotClaimant, "only the claimant edits a claim")
	}
	return wrongState("edit", c, StateDraft)
}

// PolicySubmit: only the claimant submits their draft.
func PolicySubmit(p *authz.Principal, c Claim, _ TransitionRequest) authz.Decision {
	if !isClaimant(p, c) {
		return authz.Deny(CodeNotClaimant, "only the claimant submits a claim")
	}
	return wrongState("submit", c, StateDraft)
}

// PolicyApprove: a submitted claim, never one's own, and no more than the
// approver's limit.
func PolicyApprove(p *authz.Principal, c Claim, _ TransitionRequest) authz.Decision {
	if isClaimant(p, c) {
		return authz.Deny(CodeOwnClaim, "nobody approves their own claim")
	}
	if d := wrongState("approve", c, StateSubmitted); !d.Allowed {
		return d
	}
	if limit := ApprovalLimit(p); c.AmountCents > limit {
		return authz.Deny(CodeOverLimit, fmt.Sprintf("%s is over your approval limit of %s", cents(c.AmountCents), cents(limit)))
	}
	return authz.Allow()
}

// PolicyReject: a submitted claim, never one's own. Rejecting needs no
// limit: saying no costs nothing.
func PolicyReject(p *authz.Principal, c Claim, _ rejectRequest) authz.Decision {
	if isClaimant(p, c) {
		return authz.Deny(CodeOwnClaim, "nobody rejects their own claim")
	}
	return wrongState("reject", c, StateSubmitted)
}

// PolicyPay: an approved claim, never one's own.
func PolicyPay(p *authz.Principal, c Claim, _ TransitionRequest) authz.Decision {
	if isClaimant(p, c) {
		return authz.Deny(CodeOwnClaim, "nobody pays their own claim")
	}
	return wrongState("pay", c, StateApproved)
}

// PolicyGet: a claim is visible to its claimant and to those who review or
// pay claims.
func PolicyGet(p *authz.Principal, c Claim, _ authz.ByID) authz.Decision {
	if isClaimant(p, c) || p.Can(CanReview) || p.Can(CanPay) {
		return authz.Allow()
	}
	return authz.Deny(CodeNotVisible, "this claim is not visible to you")
}

// cents formats a non-negative amount of cents as units: 123456 is
// "1234.56".
func cents(n int64) string { return fmt.Sprintf("%d.%02d", n/100, n%100) }
