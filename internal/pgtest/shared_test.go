package pgtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/pgtest"
)

// childEnv marks a process that TestSharedCluster started.
const childEnv = "BULWARK_PGTEST_CHILD"

// stateLineRE finds the line in which a child reports the shared state.
var stateLineRE = regexp.MustCompile(`(?m)pgtest-child-state: (\{.*\})$`)

// TestSharedCluster runs test processes side by side, as `go test ./...`
// does, against a private state directory, and checks that they share one
// cluster and that the last one out stops it.
func TestSharedCluster(t *testing.T) {
	t.Parallel()

	stateDir := t.TempDir()
	// A previous run that died leaves state naming a dead server; the
	// children must start anew.
	stale := `{"dir": "/nonexistent/bulwark-pgcluster-stale", "pid": 1, "url": "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable"}`
	require.NoError(t, os.WriteFile(filepath.Join(stateDir, "state.json"), []byte(stale), 0o600))

	env := []string{childEnv + "=1", "BULWARK_PGTEST_STATE_DIR=" + stateDir}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATABASE_URL=") {
			env = append(env, kv)
		}
	}

	const children = 3
	outputs := make([][]byte, children)
	errs := make([]error, children)
	var wg sync.WaitGroup
	for i := range children {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSharedClusterChild$", "-test.count=1", "-test.v")
			cmd.Env = env
			outputs[i], errs[i] = cmd.CombinedOutput()
		})
	}
	wg.Wait()

	var states []map[string]any
	for i := range children {
		require.NoError(t, errs[i], "child %d:\n%s", i, outputs[i])
		m := stateLineRE.FindSubmatch(outputs[i])
		require.NotNil(t, m, "child %d reported no state:\n%s", i, outputs[i])
		var st map[string]any
		require.NoError(t, json.Unmarshal(m[1], &st))
		states = append(states, st)
	}
	for _, st := range states[1:] {
		require.Equal(t, states[0], st, "children used different clusters")
	}
	require.NotEqual(t, "/nonexistent/bulwark-pgcluster-stale", states[0]["dir"])

	require.NoFileExists(t, filepath.Join(stateDir, "state.json"), "the last child must remove the state")
	require.NoDirExists(t, states[0]["dir"].(string), "the last child must stop the cluster")
}

// TestSharedClusterChild is a child process of TestSharedCluster.
func TestSharedClusterChild(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skipf("%s is not set: TestSharedCluster runs this test in child processes", childEnv)
	}

	ctx := context.Background()
	conn := connect(ctx, t, pgtest.NewDatabase(t))
	var one int
	require.NoError(t, conn.QueryRow(ctx, "SELECT 1").Scan(&one))

	raw, err := os.ReadFile(filepath.Join(os.Getenv("BULWARK_PGTEST_STATE_DIR"), "state.json"))
	require.NoError(t, err)
	var compact bytes.Buffer
	require.NoError(t, json.Compact(&compact, raw))
	t.Logf("pgtest-child-state: %s", compact.String())

	// Stay a while, so that the siblings join this cluster rather than
	// follow it.
	time.Sleep(2 * time.Second)
}
