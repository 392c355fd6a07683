// Package lintfixture stands for a package of the binary that is not main
// and not internal, so that only the lint rule can stop the library from
// importing it.
package lintfixture

// Name is here to be imported.
const Name = "lintfixture"
