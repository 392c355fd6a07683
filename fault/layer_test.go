package fault_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/constant"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/fault"
)

const faultPath = "github.com/bulwarkdb/bulwark/fault"

// TestLayers enumerates the layers package fault declares (every constant
// of type Layer) and requires each to be listed, to have a sentinel of its
// own and a status.
func TestLayers(t *testing.T) {
	t.Parallel()

	base := loadCodeBase(t, "./fault")
	pkg, err := base.importer().Import(faultPath)
	require.NoError(t, err)
	var declared []fault.Layer
	for _, name := range pkg.Scope().Names() {
		c, ok := pkg.Scope().Lookup(name).(*types.Const)
		if ok && isLayer(c.Type()) {
			declared = append(declared, fault.Layer(constant.StringVal(c.Val())))
		}
	}
	slices.Sort(declared)
	require.Equal(t, declared, fault.Layers(), "Layers lists every Layer constant, sorted")
	require.Contains(t, declared, fault.LayerUnavailable)

	sentinels := map[error]fault.Layer{}
	for _, l := range declared {
		require.True(t, l.Declared(), l)
		s := l.Sentinel()
		require.NotNil(t, s, "layer %s has no sentinel", l)
		require.NotContains(t, sentinels, s, "layers %s and %s share a sentinel", l, sentinels[s])
		sentinels[s] = l
		if l != fault.LayerInvariant {
			require.NotEqual(t, http.StatusInternalServerError, l.HTTPStatus(), "layer %s has no status of its own", l)
		}
	}
	for _, l := range []fault.Layer{"", "ok", "Conflict", "unavailble"} {
		require.False(t, l.Declared(), l)
		require.Nil(t, l.Sentinel(), l)
		require.Equal(t, http.StatusInternalServerError, l.HTTPStatus(), l)
	}
}

// TestLayersProducedAreDeclared proves that every layer the code base
// produces is declared: each constant of type Layer in the module's Go
// packages (a literal assigned to an Error's Layer, compared with one, or
// converted), and each SQL list of layers (a CHECK, a declared argument
// check) in its migrations.
func TestLayersProducedAreDeclared(t *testing.T) {
	t.Parallel()

	// Every package of the module: one that does not build fails here,
	// as it fails go vet.
	base := loadCodeBase(t, "./...")
	imp := base.importer()

	t.Run("Go", func(t *testing.T) {
		t.Parallel()

		var checked int
		for _, p := range base.packages {
			if p.Module == nil || p.Module.Path != base.module || len(p.GoFiles) == 0 {
				continue
			}
			var files []*ast.File
			for _, name := range p.GoFiles {
				f, err := parser.ParseFile(base.fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
				require.NoError(t, err)
				files = append(files, f)
			}
			found, n, err := undeclaredLayers(base.fset, p.ImportPath, files, imp)
			require.NoError(t, err, p.ImportPath)
			require.Empty(t, found, "undeclared layers in %s", p.ImportPath)
			checked += n
		}
		// At least the literal that the fault package declares each
		// layer with.
		require.GreaterOrEqual(t, checked, len(fault.Layers()), "layer literals found in the code base")
	})

	t.Run("SQL", func(t *testing.T) {
		t.Parallel()

		var lists int
		err := filepath.WalkDir(base.root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".sql") {
				return nil
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			found, n := undeclaredSQLLayers(string(raw))
			rel, _ := filepath.Rel(base.root, path)
			require.Empty(t, found, "undeclared layers in a list of layers in %s", rel)
			lists += n
			return nil
		})
		require.NoError(t, err)
		require.Positive(t, lists, "lists of layers found in the migrations")
	})
}

// TestLayerScanners proves that the scanners above find what they look
// for: a test that could not fail would prove nothing.
func TestLayerScanners(t *testing.T) {
	t.Parallel()

	t.Run("Go", func(t *testing.T) {
		t.Parallel()

		base := loadCodeBase(t, "./fault")
		const src = `package probe

import "github.com/bulwarkdb/bulwark/fault"

type step struct{ Layer string }

var declared = &fault.Error{Layer: "conflict"}

var typo = &fault.Error{Layer: "unavailble"}

var display = step{Layer: "ok"}

func set(e *fault.Error, s *step) bool {
	e.Layer = "gone"
	s.Layer = "error"
	return e.Layer == "elsewhere" || fault.Layer("converted") == fault.LayerPolicy
}
`
		f, err := parser.ParseFile(base.fset, "probe.go", src, parser.SkipObjectResolution)
		require.NoError(t, err)
		found, n, err := undeclaredLayers(base.fset, "probe", []*ast.File{f}, base.importer())
		require.NoError(t, err)
		require.Equal(t, []string{
			`probe.go:14:12: "gone"`,
			`probe.go:16:20: "elsewhere"`,
			`probe.go:16:47: "converted"`,
			`probe.go:9:32: "unavailble"`,
		}, found)
		require.Equal(t, 5, n, "conflict, unavailble, gone, elsewhere and converted")
	})

	t.Run("SQL", func(t *testing.T) {
		t.Parallel()

		found, n := undeclaredSQLLayers(`
			CONSTRAINT outcome_layer_known CHECK (layer IN ('invalid', 'policy', 'unavailble'))
			$$p_args ->> 'layer' IN ('invalid', 'conflict', 'not_found')$$
			SELECT ARRAY['permission', 'gone', 'invariant'];
			CHECK (state IN ('draft', 'published', 'it''s'))
			SELECT f('fail', 'unavailable', 'job_lost');`)
		require.Equal(t, []string{"unavailble", "gone"}, found)
		require.Equal(t, 3, n)
	})
}

// codeBase is the module's packages as `go list` describes them, with
// the export data the compiler wrote for each, so that they type-check
// without reading their dependencies' sources.
type codeBase struct {
	exports  map[string]string
	fset     *token.FileSet
	module   string
	packages []listedPackage
	root     string
}

type listedPackage struct {
	Dir        string
	Export     string
	GoFiles    []string
	ImportPath string
	Module     *struct{ Path string }
}

// loadCodeBase lists the packages that patterns name (relative to the
// module root) and their dependencies.
func loadCodeBase(t *testing.T, patterns ...string) *codeBase {
	t.Helper()

	root, err := filepath.Abs("..")
	require.NoError(t, err)
	goMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err, "package fault lives one level below the module root")
	module := strings.TrimSpace(strings.TrimPrefix(strings.SplitN(string(goMod), "\n", 2)[0], "module"))

	cmd := exec.Command("go", append([]string{"list", "-deps", "-export", "-json=Dir,Export,GoFiles,ImportPath,Module"}, patterns...)...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())

	base := &codeBase{exports: map[string]string{}, fset: token.NewFileSet(), module: module, root: root}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else {
			require.NoError(t, err)
		}
		base.exports[p.ImportPath] = p.Export
		base.packages = append(base.packages, p)
	}
	return base
}

// importer returns an importer that reads the compiler's export data.
func (b *codeBase) importer() types.Importer {
	return importer.ForCompiler(b.fset, "gc", func(path string) (io.ReadCloser, error) {
		export, ok := b.exports[path]
		if !ok || export == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(export)
	})
}

// undeclaredLayers type-checks one package and returns, with their
// positions, the literals of type fault.Layer in it that are not declared
// layers, and how many such literals it met.
func undeclaredLayers(fset *token.FileSet, path string, files []*ast.File, imp types.Importer) ([]string, int, error) {
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}}
	conf := types.Config{Importer: imp}
	if _, err := conf.Check(path, fset, files, info); err != nil {
		return nil, 0, err
	}
	var found []string
	var n int
	for expr, tv := range info.Types {
		// Literals only: a named constant or a conversion of a literal
		// is checked at the literal.
		if _, ok := expr.(*ast.BasicLit); !ok || tv.Value == nil || tv.Value.Kind() != constant.String || !isLayer(tv.Type) {
			continue
		}
		n++
		// "" is no layer: what LayerOf answers for an unlayered error.
		if l := fault.Layer(constant.StringVal(tv.Value)); l != "" && !l.Declared() {
			found = append(found, fmt.Sprintf("%s: %q", fset.Position(expr.Pos()), l))
		}
	}
	slices.Sort(found)
	return found, n, nil
}

// isLayer reports whether t is fault.Layer (from export data, or from the
// package's own source).
func isLayer(t types.Type) bool {
	named, ok := t.(*types.Named)
	return ok && named.Obj().Name() == "Layer" && named.Obj().Pkg() != nil && named.Obj().Pkg().Path() == faultPath
}

var (
	sqlLiteral = `'(?:[^']|'')*'`
	sqlList    = regexp.MustCompile(`[(\[]\s*(` + sqlLiteral + `(?:\s*,\s*` + sqlLiteral + `)+)\s*[)\]]`)
	sqlItem    = regexp.MustCompile(sqlLiteral)
)

// undeclaredSQLLayers returns the undeclared members of every list of
// literals in src that names at least two declared layers (a list of
// layers), and how many such lists it met.
func undeclaredSQLLayers(src string) ([]string, int) {
	var found []string
	var lists int
	for _, m := range sqlList.FindAllStringSubmatch(src, -1) {
		var items []string
		var layers int
		for _, lit := range sqlItem.FindAllString(m[1], -1) {
			item := strings.ReplaceAll(lit[1:len(lit)-1], "''", "'")
			items = append(items, item)
			if fault.Layer(item).Declared() {
				layers++
			}
		}
		if layers < 2 {
			continue
		}
		lists++
		for _, item := range items {
			if !fault.Layer(item).Declared() {
				found = append(found, item)
			}
		}
	}
	return found, lists
}
