package authz_test

// Breaks authz-knows-no-domain: a test of authz that reaches for a domain.
import _ "github.com/bulwarkdb/bulwark/articles"
