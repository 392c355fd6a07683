// Package articles is bulwark's reference domain: the article workflow
// (draft, in_review, approved, published, archived) as a Go API over the
// gate.
//
// Every method runs through [authz.Do]: the capability says who may attempt
// an action, a policy in this package decides whether the request makes
// sense for this article now, and the transition function in PostgreSQL
// decides what is true. Ownership is context for policies, never a
// capability: there is no article.edit_own.
package articles
