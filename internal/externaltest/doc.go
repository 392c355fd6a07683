// Package externaltest proves bulwark from outside: a fresh Go module,
// built in a test, that requires bulwark as any team would (a replace to
// this checkout stands in for a release), migrates bulwark's core and one
// migration of its own, puts a table behind the boundary, runs actions
// through the gate, and passes `bulwark verify --migrations DIR`, which
// fails once one of its triggers is disabled.
//
// The team's module is in testdata/team. The package has no code of its
// own: only the test.
package externaltest
