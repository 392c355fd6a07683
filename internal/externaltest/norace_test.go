//go:build !race

package externaltest_test

// raceEnabled says the test runs with the race detector (see race_test.go).
const raceEnabled = false
