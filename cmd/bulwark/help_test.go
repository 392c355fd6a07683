package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHelp asks bulwark and every command for help, each way Go's flag
// package reads it: each prints its own synopsis ("Usage: bulwark
// <command>") and its flags to stderr and exits 0. An unknown flag is
// still a usage error (2).
func TestHelp(t *testing.T) {
	t.Parallel()

	for _, flag := range []string{"-h", "--h", "-help", "--help", "help"} {
		var stdout, stderr bytes.Buffer
		require.Equal(t, 0, run(context.Background(), []string{flag}, &stdout, &stderr), flag)
		require.Contains(t, stderr.String(), "Usage: bulwark <command>", flag)
	}

	for _, c := range commands() {
		for _, flag := range []string{"-h", "--h", "-help", "--help"} {
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
