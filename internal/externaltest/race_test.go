//go:build race

package externaltest_test

// raceEnabled says the test runs with the race detector: the programs it
// builds are built with it too, which reuses the packages compiled for the
// test.
const raceEnabled = true
