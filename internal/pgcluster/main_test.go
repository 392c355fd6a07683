package pgcluster_test

import (
	"os"
	"testing"
)

// TestMain does not use pgtest.Main: these tests start clusters of their
// own, and pgtest is built on this package.
func TestMain(m *testing.M) { os.Exit(m.Run()) }
