package authz

import (
	"fmt"

	"github.com/bulwarkdb/bulwark/fault"
)

// The Go layers' own codes, added to those of package fault.
const (
	CodeInactivePrincipal = "inactive_principal"
	CodeUnknownPrincipal  = "unknown_principal"
)

// Invalid returns an invalid-input error with a stable code and a reason
// safe to show the caller.
func Invalid(code, reason string) *fault.Error {
	return &fault.Error{Layer: fault.LayerInvalid, Code: code, Reason: reason}
}

// Denied returns the policy error for a denying decision.
func Denied(d Decision) *fault.Error {
	return &fault.Error{Layer: fault.LayerPolicy, Code: d.Code, Reason: d.Reason}
}

func permissionError(code, reason string, cause error) *fault.Error {
	return &fault.Error{Layer: fault.LayerPermission, Code: code, Reason: reason, Cause: cause}
}

func missingCapability(p *Principal, c Capability) *fault.Error {
	return permissionError(fault.CodeMissingCapability, fmt.Sprintf("principal %s lacks capability %s", p.Name, c), nil)
}
