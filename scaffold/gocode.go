package scaffold

import (
	"fmt"
	"go/format"
	"slices"
	"strings"
)

// gofmt formats generated Go source.
func gofmt(src string) ([]byte, error) {
	out, err := format.Source([]byte(src))
	if err != nil {
		return nil, fmt.Errorf("format generated Go: %w", err)
	}
	return out, nil
}

// header is the comment that opens every generated Go file: not a package
// doc, and not "DO NOT EDIT": the file is the team's to extend.
func (g *generator) header() string {
	return fmt.Sprintf("// Scaffolded by `bulwark new` from %s; yours to edit (bulwark new\n// overwrites it only with --force).\n\n", g.source)
}

// capabilityGo returns capability.go: the capabilities and roles as
// typed constants.
func (g *generator) capabilityGo() string {
	d := g.d
	var b strings.Builder
	b.WriteString(g.header())
	fmt.Fprintf(&b, "package %s\n\nimport \"github.com/bulwarkdb/bulwark/authz\"\n\n", d.pkg())
	type named struct{ goName, value, comment string }
	caps := make([]named, len(d.Capabilities))
	for i, c := range d.Capabilities {
		caps[i] = named{g.capabilityConst(c.Name), c.Name, c.Description}
	}
	slices.SortFunc(caps, func(a, b named) int { return strings.Compare(a.goName, b.goName) })
	fmt.Fprintf(&b, "// The %s capabilities, as the migration declares them. They say what a\n// principal may attempt, nothing about which row or when.\nconst (\n", d.Machine)
	for _, c := range caps {
		fmt.Fprintf(&b, "\t%s = authz.Capability(%q) // %s\n", c.goName, c.value, oneLine(c.comment))
	}
	b.WriteString(")\n\n")
	b.WriteString("// Capabilities lists every capability the domain declares: register\n// them with authz.Registry.Register at start-up, so that a name the\n// database does not declare fails there.\nfunc Capabilities() []authz.Capability {\n\treturn []authz.Capability{")
	for i, c := range caps {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.goName)
	}
	b.WriteString("}\n}\n")
	if len(d.Roles) == 0 {
		return b.String()
	}
	roles := make([]named, len(d.Roles))
	for i, r := range d.Roles {
		roles[i] = named{"Role" + goName(r.Name), r.Name, strings.Join(r.Capabilities, ", ")}
	}
	slices.SortFunc(roles, func(a, b named) int { return strings.Compare(a.goName, b.goName) })
	b.WriteString("\n// The domain roles the migration declares, with their capabilities.\n// Policies may read them (authz.Principal.HasRole); grants are made with\n// bulwark.role_grant.\nconst (\n")
	for _, r := range roles {
		fmt.Fprintf(&b, "\t%s = %q // %s\n", r.goName, r.value, r.comment)
	}
	b.WriteString(")\n")
	return b.String()
}

// stateGo returns state.go: the machine's states as typed constants.
func (g *generator) stateGo() string {
	d := g.d
	var b strings.Builder
	b.WriteString(g.header())
	fmt.Fprintf(&b, "package %s\n\n", d.pkg())
	fmt.Fprintf(&b, "// State is the state of a row of %s in the %s machine.\ntype State string\n\n", g.table(), d.Machine)
	names := slices.Clone(d.States)
	slices.Sort(names)
	fmt.Fprintf(&b, "// The states of the %s machine; a create starts in %s.\nconst (\n", d.Machine, "State"+goName(d.Initial))
	for _, s := range names {
		fmt.Fprintf(&b, "\tState%s State = %q\n", goName(s), s)
	}
	b.WriteString(")\n\n")
	b.WriteString("// States lists every state, in the declaration's order.\nfunc States() []State {\n\treturn []State{")
	for i, s := range d.States {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("State" + goName(s))
	}
	b.WriteString("}\n}\n")
	return b.String()
}

// migrationsGo returns migrations.go: the migrations as an fs.FS, and
// the domain's migration line for package schema.
func (g *generator) migrationsGo() string {
	d := g.d
	return g.header() + fmt.Sprintf(`package %[1]s

import (
	"embed"
	"io/fs"

	"github.com/bulwarkdb/bulwark/sql/schema"
)

// LineName and VersionTable name the domain's migration line: its name in
// bulwark.migration_checksums, and its own goose version table beside the
// core's.
const (
	LineName     = %[2]q
	VersionTable = %[3]q
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the domain's goose migration files.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // unreachable: the directory is embedded
	}
	return sub
}

// Line returns the domain's migration line, applied after bulwark's core:
//
//	schema.Up(ctx, db, schema.Core(), %[1]s.Line())
//
// and named to bulwark verify with verify.Opts.Lines (or bulwark verify
// --migrations DIR --line-name %[2]s --version-table %[3]s).
func Line() *schema.Line {
	l, err := schema.Own(Migrations(), &schema.OwnOpts{Name: LineName, VersionTable: VersionTable})
	if err != nil {
		panic(err) // unreachable: the name and the table are valid constants
	}
	return l
}

`, d.pkg(), d.Schema, g.versionTable())
}

// versionTable returns the domain's goose version table.
func (g *generator) versionTable() string { return "public." + g.d.Schema + "_goose_version" }

// entityGo returns <package>db/entity.go: what the gate reads from the
// row type sqlc generates.
func (g *generator) entityGo() string {
	d := g.d
	return g.header() + fmt.Sprintf(`package %[1]s

import "github.com/google/uuid"

// The row type describes itself to the gate (package authz's Entity): which
// row it is and at which version, so that the gate compares a caller's
// pinned version and keys its snapshot cache. Hand-written beside the
// models sqlc generates.

// EntityID returns the row's id.
func (r %[3]s) EntityID() uuid.UUID { return r.ID }

// EntityVersion returns the row's version.
func (r %[3]s) EntityVersion() int32 { return r.Version }
`, d.dbPkg(), d.Machine, d.model())
}

// oneLine returns s with its whitespace runs as single spaces.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
