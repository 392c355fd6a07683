package expenses_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/scaffold"
)

// TestScaffolded holds the files the domain keeps as `bulwark new
// expense.json` generated them (the queries, sqlc.yaml and the Go
// constants) to what it generates. The migration is not held to it: it
// was extended by hand before it was merged, and a merged migration is
// never edited, whatever the generator does later.
func TestScaffolded(t *testing.T) {
	t.Parallel()

	f, err := os.Open("expense.json")
	require.NoError(t, err)
	defer f.Close()
	decl, err := scaffold.Parse(f)
	require.NoError(t, err)
	files, err := scaffold.Generate(decl, &scaffold.Opts{Source: "expense.json"})
	require.NoError(t, err)

	checked := 0
	for _, g := range files {
		if strings.HasPrefix(g.Path, "migrations/") {
			continue
		}
		raw, err := os.ReadFile(filepath.FromSlash(g.Path))
		require.NoError(t, err)
		require.Equal(t, string(g.Data), string(raw), "%s is no longer what bulwark new generates", g.Path)
		checked++
	}
	require.Equal(t, 6, checked)
}
