package authz

// Breaks authz-knows-no-domain: authz reaching a layer above it.
import _ "github.com/bulwarkdb/bulwark/verify"
