package authz

import (
	"slices"

	"github.com/google/uuid"
)

// PrincipalKind is human or service.
type PrincipalKind string

const (
	PrincipalHuman   PrincipalKind = "human"
	PrincipalService PrincipalKind = "service"
)

// Principal is who acts, with the capabilities in force when it was loaded.
// An inactive principal holds no capabilities.
type Principal struct {
	ID           uuid.UUID
	Active       bool
	Capabilities []Capability // sorted
	Kind         PrincipalKind
	Name         string
	Roles        []string // sorted; context for policies, never a substitute for a capability
}

// clone returns a copy that shares nothing with p, so a caller that changes
// what it got cannot change the cache.
func (p *Principal) clone() *Principal {
	c := *p
	c.Capabilities = slices.Clone(p.Capabilities)
	c.Roles = slices.Clone(p.Roles)
	return &c
}

// Can reports whether p holds capability c.
func (p *Principal) Can(c Capability) bool {
	if p == nil || !p.Active {
		return false
	}
	_, found := slices.BinarySearch(p.Capabilities, c)
	return found
}

// HasRole reports whether p holds the domain role. Policies may use it as
// context (an admin may archive any draft); the gate never does.
func (p *Principal) HasRole(role string) bool {
	if p == nil || !p.Active {
		return false
	}
	_, found := slices.BinarySearch(p.Roles, role)
	return found
}
