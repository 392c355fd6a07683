package verify

// Breaks library-never-imports-binary.
import _ "github.com/bulwarkdb/bulwark/cmd/lintfixture"
