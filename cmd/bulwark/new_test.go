package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNew: bulwark new writes the domain's files from a declaration,
// refuses to overwrite them without --force, and refuses a declaration
// with problems, naming each, with exit 1 and nothing written.
func TestNew(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	decl, err := filepath.Abs(filepath.Join("..", "..", "examples", "expenses", "expense.json"))
	require.NoError(t, err)

	newCmd := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(ctx, append([]string{"new"}, args...), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}

	t.Run("WritesAndRefusesToOverwrite", func(t *testing.T) {
		t.Parallel()

		dir := t.TempDir()
		code, stdout, stderr := newCmd("--out", dir, decl)
		require.Equal(t, 0, code, stderr)
		for _, f := range []string{"migrations/00001_expense_workflow.sql", "queries/expense.sql", "sqlc.yaml", "capability.go", "state.go", "migrations.go", "expensesdb/entity.go"} {
			require.FileExists(t, filepath.Join(dir, f))
			require.Contains(t, stdout, filepath.Join(dir, f))
		}

		require.NoError(t, os.WriteFile(filepath.Join(dir, "state.go"), []byte("package expenses // by hand\n"), 0o644))
		code, _, stderr = newCmd("--out", dir, decl)
		require.Equal(t, exitFailure, code)
		require.Contains(t, stderr, "--force")
		raw, err := os.ReadFile(filepath.Join(dir, "state.go"))
		require.NoError(t, err)
		require.Equal(t, "package expenses // by hand\n", string(raw))

		code, _, stderr = newCmd("--force", "--version", "3", "--out", dir, decl)
		require.Equal(t, 0, code, stderr)
		require.FileExists(t, filepath.Join(dir, "migrations", "00003_expense_workflow.sql"))
		raw, err = os.ReadFile(filepath.Join(dir, "state.go"))
		require.NoError(t, err)
		require.Contains(t, string(raw), "StateDraft")
	})

	t.Run("VersionOutOfRangeIsAUsageError", func(t *testing.T) {
		t.Parallel()

		for _, v := range []string{"0", "-1", "100000"} {
			dir := t.TempDir()
			code, _, stderr := newCmd("--version", v, "--out", dir, decl)
			require.Equal(t, exitUsage, code, stderr)
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Empty(t, entries, "nothing written")
		}
	})

	t.Run("DefaultsToTheDeclarationsDirectory", func(t *testing.T) {
		t.Parallel()

		dir := t.TempDir()
		raw, err := os.ReadFile(decl)
		require.NoError(t, err)
		local := filepath.Join(dir, "expense.json")
		require.NoError(t, os.WriteFile(local, raw, 0o644))
		code, _, stderr := newCmd(local)
		require.Equal(t, 0, code, stderr)
		require.FileExists(t, filepath.Join(dir, "migrations", "00001_expense_workflow.sql"))
	})

	t.Run("RefusesAnInvalidDeclaration", func(t *testing.T) {
		t.Parallel()

		dir := t.TempDir()
		bad := filepath.Join(dir, "bad.json")
		require.NoError(t, os.WriteFile(bad, []byte(`{
			"machine": "expense", "schema": "expenses", "table": "claims", "description": "Claims.",
			"states": ["draft", "submitted"], "initial": "draft",
			"capabilities": [{"name": "expense.submit_draft", "description": "Submit."}],
			"transitions": [
				{"name": "submit", "from": ["draft"], "to": "submitted", "capability": "expense.submit_draft"},
				{"name": "send", "from": ["draft"], "to": "submitted", "capability": "expense.send"},
				{"name": "archive", "from": ["done"], "to": "draft", "capability": "expense.submit_draft"}
			]
		}`), 0o644))
		code, stdout, stderr := newCmd(bad)
		require.Equal(t, exitFailure, code)
		require.Empty(t, stdout)
		for _, want := range []string{
			"capabilities[0].name",      // encodes the state draft
			"transitions[1].from[0]",    // draft -> submitted twice
			"transitions[1].capability", // undeclared
			"transitions[2].from[0]",    // unknown state
			"declaration has 4 problems",
		} {
			require.Contains(t, stderr, want)
		}
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Len(t, entries, 1, "nothing is written from a declaration with problems")
	})

	t.Run("Usage", func(t *testing.T) {
		t.Parallel()

		code, _, _ := newCmd()
		require.Equal(t, exitUsage, code)
		code, _, _ = newCmd("--nope", decl)
		require.Equal(t, exitUsage, code)
		code, _, _ = newCmd(filepath.Join(t.TempDir(), "missing.json"))
		require.Equal(t, exitUsage, code)
		code, _, stderr := newCmd(filepath.Join("..", "..", "go.mod"))
		require.Equal(t, exitFailure, code)
		require.Contains(t, stderr, "declaration is not valid")
	})
}
