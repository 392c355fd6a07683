package scaffold_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/scaffold"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/*/golden")

// load reads testdata/<name>/declaration.json.
func load(t *testing.T, name string) *scaffold.Declaration {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name, "declaration.json"))
	require.NoError(t, err)
	defer f.Close()
	d, err := scaffold.Parse(f)
	require.NoError(t, err)
	return d
}

// TestGenerateGolden holds every generated file to its golden copy in
// testdata/<case>/golden (go test -update rewrites them), and the golden
// directory to exactly the generated files.
func TestGenerateGolden(t *testing.T) {
	t.Parallel()

	for _, name := range []string{"expense", "ticket"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			files, err := scaffold.Generate(load(t, name), &scaffold.Opts{Source: "declaration.json"})
			require.NoError(t, err)
			golden := filepath.Join("testdata", name, "golden")
			if *update {
				require.NoError(t, os.RemoveAll(golden))
				_, err := scaffold.Write(golden, files, nil)
				require.NoError(t, err)
			}
			want := map[string]bool{}
			for _, f := range files {
				want[filepath.ToSlash(f.Path)] = true
				raw, err := os.ReadFile(filepath.Join(golden, filepath.FromSlash(f.Path)))
				require.NoError(t, err, "no golden file for %s: run go test ./scaffold -run TestGenerateGolden -update", f.Path)
				require.Equal(t, string(raw), string(f.Data), "%s differs from its golden file", f.Path)
			}
			err = filepath.WalkDir(golden, func(path string, e os.DirEntry, err error) error {
				if err != nil || e.IsDir() {
					return err
				}
				rel, err := filepath.Rel(golden, path)
				require.NoError(t, err)
				require.True(t, want[filepath.ToSlash(rel)], "golden file %s is not generated any more", rel)
				return nil
			})
			require.NoError(t, err)
		})
	}
}

// TestGenerateOpts: the version names the migration; a version out of
// goose's five digits is refused.
func TestGenerateOpts(t *testing.T) {
	t.Parallel()

	files, err := scaffold.Generate(load(t, "ticket"), &scaffold.Opts{Version: 7})
	require.NoError(t, err)
	require.Equal(t, "migrations/00007_ticket_workflow.sql", files[0].Path)
	require.Contains(t, string(files[0].Data), "from its declaration.")

	_, err = scaffold.Generate(load(t, "ticket"), &scaffold.Opts{Version: 100000})
	require.Error(t, err)
	_, err = scaffold.Generate(nil, nil)
	require.Error(t, err)
}

// TestGenerateRefusesAnnotationsInTheSourceName keeps the one text that
// does not come from the declaration out of goose's reach too.
func TestGenerateRefusesAnnotationsInTheSourceName(t *testing.T) {
	t.Parallel()
	_, err := scaffold.Generate(load(t, "expense"), &scaffold.Opts{Source: "x.json -- +goose NO TRANSACTION"})
	require.ErrorContains(t, err, "goose annotations")
	_, err = scaffold.Generate(load(t, "expense"), &scaffold.Opts{Source: "x.json\n-- +goose NO TRANSACTION"})
	require.Error(t, err)
}
