package articles

import "github.com/bulwarkdb/bulwark/authz"

// The article capabilities, as declared by the article line's migration
// 00001. They say what a principal may attempt, nothing about which article
// or when.
const (
	CanArchive  = authz.Capability("article.archive")
	CanCreate   = authz.Capability("article.create")
	CanEdit     = authz.Capability("article.edit")
	CanPublish  = authz.Capability("article.publish")
	CanReview   = authz.Capability("article.review") // request changes, approve, withdraw
	CanSchedule = authz.Capability("article.schedule")
	CanSubmit   = authz.Capability("article.submit")
)

// Capabilities lists every article capability.
func Capabilities() []authz.Capability {
	return []authz.Capability{CanArchive, CanCreate, CanEdit, CanPublish, CanReview, CanSchedule, CanSubmit}
}

// RoleAdmin is the domain role the archive policy treats as an override.
const RoleAdmin = "admin"
