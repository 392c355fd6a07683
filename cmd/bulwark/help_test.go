package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHelp asks every command for its help, both ways: each prints its own
// synopsis ("Usage: bulwark <command>") and its flags to stderr and exits
// 0. An unknown flag is still a usage error (2).
func TestHelp(t *testing.T) {
	t.Parallel()

	for _, c := range commands() {
		for _, flag := range []string{"-h", "--help"} {
			t.Run(c.name+flag, func(t *testing.T) {
				t.Parallel()
				calls := [][]string{{c.name, flag}}
				if c.name == "migrate" {
					calls = append(calls, []string{c.name, "up", flag})
				}
				for _, args := range calls {
					var stdout, stderr bytes.Buffer
					code := run(context.Background(), args, &stdout, &stderr)
					require.Equal(t, 0, code, stderr.String())
					require.Contains(t, stderr.String(), "Usage: bulwark "+c.name)
					require.Contains(t, stderr.String(), "\n  -", "the flags are listed")
					require.NotContains(t, stderr.String(), "help requested")
				}
			})
		}
		t.Run(c.name+"-unknown-flag", func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			args := []string{c.name, "--no-such-flag"}
			if c.name == "migrate" {
				args = []string{c.name, "up", "--no-such-flag"}
			}
			require.Equal(t, exitUsage, run(context.Background(), args, &stdout, &stderr), stderr.String())
		})
	}
}
