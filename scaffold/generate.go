package scaffold

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"unicode"
)

// File is one generated file.
type File struct {
	// Path is relative to the domain's directory, with forward slashes:
	// "migrations/00001_expense_workflow.sql".
	Path string
	Data []byte
}

// Opts are options for [Generate]. A nil *Opts means defaults.
type Opts struct {
	// Source names the declaration in the generated files' headers.
	// Default "its declaration".
	Source string
	// Version is the goose version of the generated migration, in the
	// domain's own migration line. Default 1.
	Version int
}

// Generate validates d and returns the files of its domain, in a fixed
// order, each as a careful person would write it: the migration, the
// queries, sqlc's configuration and the Go package (see the package doc).
// It returns the *ValidationError of [Declaration.Validate] when d has
// problems, and generates nothing then.
func Generate(d *Declaration, opts *Opts) ([]File, error) {
	if d == nil {
		return nil, errors.New("generate: no declaration")
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	o := Opts{Source: "its declaration", Version: 1}
	if opts != nil {
		if opts.Source != "" {
			o.Source = opts.Source
		}
		if opts.Version != 0 {
			o.Version = opts.Version
		}
	}
	if o.Version < 1 || o.Version > 99999 {
		return nil, fmt.Errorf("generate: migration version %d is not between 1 and 99999", o.Version)
	}
	if strings.ContainsFunc(o.Source, unicode.IsControl) || strings.Contains(strings.ToLower(o.Source), "+goose") {
		return nil, fmt.Errorf("generate: the source name %q must be one line without goose annotations", o.Source)
	}
	g := &generator{d: d, source: o.Source, version: o.Version}
	migration := g.migration()
	if err := checkAnnotations(string(migration)); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	files := []File{
		{Path: path.Join("migrations", g.migrationName()+".sql"), Data: migration},
		{Path: path.Join("queries", d.Machine+".sql"), Data: g.queries()},
		{Path: "sqlc.yaml", Data: g.sqlcConfig()},
	}
	gofiles := []struct {
		path string
		src  func() string
	}{
		{"capability.go", g.capabilityGo},
		{"state.go", g.stateGo},
		{"migrations.go", g.migrationsGo},
		{path.Join(d.dbPkg(), "entity.go"), g.entityGo},
	}
	for _, f := range gofiles {
		src, err := gofmt(f.src())
		if err != nil {
			return nil, fmt.Errorf("generate %s: %w", f.path, err)
		}
		files = append(files, File{Path: f.path, Data: src})
	}
	return files, nil
}

// generator holds what every file is generated from.
type generator struct {
	d       *Declaration
	source  string
	version int
}

// migrationName is the migration's file name without .sql: what the
// change is, never a release.
func (g *generator) migrationName() string {
	return fmt.Sprintf("%05d_%s_workflow", g.version, g.d.Machine)
}

// table returns the schema-qualified table.
func (g *generator) table() string { return g.d.Schema + "." + g.d.Table }

// wrapper returns the schema-qualified name of an action's typed wrapper.
func (g *generator) wrapper(action string) string {
	return g.d.Schema + "." + g.d.Machine + "_" + action
}

// goNames returns a problem for each SQL name that would become the same
// Go name as another.
func (g *generator) goNames() []Problem {
	seen := map[string]string{}
	var problems []Problem
	check := func(field, goName, sqlName string) {
		if prev, ok := seen[goName]; ok && prev != sqlName {
			problems = append(problems, Problem{Field: field, Message: fmt.Sprintf("%q and %q both become the Go name %s", prev, sqlName, goName)})
		}
		seen[goName] = sqlName
	}
	for i, c := range g.d.Capabilities {
		check(fmt.Sprintf("capabilities[%d].name", i), g.capabilityConst(c.Name), c.Name)
	}
	for i, r := range g.d.Roles {
		check(fmt.Sprintf("roles[%d].name", i), "Role"+goName(r.Name), r.Name)
	}
	for i, s := range g.d.States {
		check(fmt.Sprintf("states[%d]", i), "State"+goName(s), s)
	}
	// The reads are queries too.
	check("machine", g.queryName("get_by_id"), "the read get_by_id")
	check("machine", g.queryName("list_by_state"), "the read list_by_state")
	for _, a := range g.actions() {
		check(a.field+".name", g.queryName(a.name), a.name)
	}
	return problems
}

// capabilityConst returns the Go constant of a capability: Can<Action>
// when no other declared capability shares its action word, else
// Can<Resource><Action>.
func (g *generator) capabilityConst(name string) string {
	resource, action := splitCapability(name)
	for _, c := range g.d.Capabilities {
		r, a := splitCapability(c.Name)
		if a == action && r != resource {
			return "Can" + goName(resource) + goName(action)
		}
	}
	return "Can" + goName(action)
}

func splitCapability(name string) (resource, action string) {
	for i := 0; i < len(name); i++ {
		if name[i] == '.' {
			return name[:i], name[i+1:]
		}
	}
	return name, ""
}

// queryName returns the sqlc query name of a machine's query: noun first,
// so that one table's calls group together.
func (g *generator) queryName(what string) string { return goName(g.d.Machine) + goName(what) }

// action is an action or a transition, as its wrapper sees it.
type action struct {
	field      string // where it is declared
	name       string
	kind       string // create, update or transition
	capability string
	args       []Column
	actor      string
	note       bool
}

// actions returns the declaration's actions and transitions, sorted by
// name, as the house style orders queries.
func (g *generator) actions() []action {
	var out []action
	for i, a := range g.d.Actions {
		x := action{field: fmt.Sprintf("actions[%d]", i), name: a.Name, kind: a.Kind, capability: a.Capability, actor: a.Actor, note: a.Note}
		for _, arg := range a.Args {
			c, _ := g.d.column(arg)
			x.args = append(x.args, c)
		}
		out = append(out, x)
	}
	for i, t := range g.d.Transitions {
		out = append(out, action{field: fmt.Sprintf("transitions[%d]", i), name: t.Name, kind: "transition", capability: t.Capability, actor: t.Actor, note: t.Note})
	}
	slices.SortStableFunc(out, func(a, b action) int { return strings.Compare(a.name, b.name) })
	return out
}

// gooseAnnotations are the annotations a generated migration carries, in
// this order: one Up, one Down, and statement blocks. goose reads any line
// that starts with "-- +goose" as one, so text from the declaration that
// made one more would change how the migration runs (NO TRANSACTION, say).
var gooseAnnotations = map[string]bool{
	"-- +goose Up":             true,
	"-- +goose Down":           true,
	"-- +goose StatementBegin": true,
	"-- +goose StatementEnd":   true,
}

// checkAnnotations refuses a migration with any goose annotation but the
// generator's own, or with Up or Down other than once each.
func checkAnnotations(migration string) error {
	ups, downs := 0, 0
	for i, line := range strings.Split(migration, "\n") {
		trimmed := strings.TrimSpace(line)
		if !strings.Contains(strings.ToLower(trimmed), "+goose") {
			continue
		}
		if !gooseAnnotations[trimmed] {
			return fmt.Errorf("line %d of the migration reads as a goose annotation it must not have: %q", i+1, trimmed)
		}
		switch trimmed {
		case "-- +goose Up":
			ups++
		case "-- +goose Down":
			downs++
		}
	}
	if ups != 1 || downs != 1 {
		return fmt.Errorf("the migration has %d Up and %d Down annotations, not one of each", ups, downs)
	}
	return nil
}
