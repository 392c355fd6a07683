package auditlog

// Breaks kit-knows-no-domain: a package of the kit reaching for the
// reference domain.
import _ "github.com/bulwarkdb/bulwark/articles"
