package scaffold

import (
	"fmt"
	"go/token"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/sql/schema"
)

// ColumnTypes are the PostgreSQL types a declared column may have: those
// whose values travel through the engine's jsonb arguments and back
// without loss.
func ColumnTypes() []string {
	return []string{"bigint", "boolean", "date", "integer", "jsonb", "numeric", "smallint", "text", "timestamptz", "uuid"}
}

// Limits on names, from the core's CHECK constraints and PostgreSQL's
// 63-byte identifiers: the machine's name goes into its trigger functions'
// names (trg_<machine>_boundary).
const (
	maxIdentifier  = 63
	maxMachineName = maxIdentifier - len("trg__boundary")
	maxRoleOrState = 100
	maxDescription = 1000
)

var (
	identPattern     = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	packagePattern   = regexp.MustCompile(`^[a-z][a-z0-9]*$`)
	modelPattern     = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
	referencePattern = regexp.MustCompile(`^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]* \([a-z_][a-z0-9_]*\)$`)
)

// reservedColumns are the columns every guarded table gets.
var reservedColumns = []string{"created_at", "id", "state", "version"}

// reservedArgs are the names of the wrappers' own parameters (p_actor,
// p_id, ...), which an argument column would collide with.
var reservedArgs = []string{"actor", "args", "expected_version", "id", "idem_key", "note"}

// Validate checks the declaration against the core's rules and returns a
// *ValidationError listing every problem, or nil. It needs no database:
// the capability-name rule is applied with the core's qualifier words
// ([Qualifiers]) and the declaration's own states; the database applies
// it again with every machine's states when the migration runs.
func (d *Declaration) Validate() error {
	v := &validator{d: d}
	v.names()
	v.states()
	v.capabilities()
	v.roles()
	v.columns()
	v.actions()
	v.transitions()
	if len(v.problems) == 0 {
		// Only for names that are valid: the Go names of the generated
		// constants and queries must not collide.
		v.problems = (&generator{d: d}).goNames()
	}
	if len(v.problems) > 0 {
		return &ValidationError{Problems: v.problems}
	}
	return nil
}

type validator struct {
	d        *Declaration
	problems []Problem
}

func (v *validator) add(field, format string, args ...any) {
	v.problems = append(v.problems, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// ident checks a SQL name: lower-case snake_case of at most max bytes.
func (v *validator) ident(field, name string, limit int) bool {
	switch {
	case name == "":
		v.add(field, "is required")
	case !identPattern.MatchString(name):
		v.add(field, "%q must be lower-case snake_case: a-z first, then a-z, 0-9 or _", name)
	case len(name) > limit:
		v.add(field, "%q is longer than %d characters", name, limit)
	default:
		return true
	}
	return false
}

// text checks a sentence for a comment or description.
func (v *validator) text(field, s string, required bool) {
	switch {
	case strings.TrimSpace(s) == "":
		if required {
			v.add(field, "is required")
		}
	case len([]rune(s)) > maxDescription:
		v.add(field, "is longer than %d characters", maxDescription)
	case strings.ContainsFunc(s, unicode.IsControl):
		v.add(field, "must be one line without control characters")
	case strings.Contains(strings.ToLower(s), "+goose"):
		// The text lands in the migration's comments, where goose would
		// read it as an annotation (NO TRANSACTION, say).
		v.add(field, "must not contain \"+goose\": goose would read it as an annotation")
	}
}

func (v *validator) names() {
	d := v.d
	if v.ident("machine", d.Machine, maxMachineName) && d.Machine == "bulwark" {
		v.add("machine", "bulwark is the core's")
	}
	if v.ident("schema", d.Schema, maxIdentifier) {
		switch {
		case d.Schema == "bulwark" || d.Schema == "public" || d.Schema == "information_schema" || strings.HasPrefix(d.Schema, "pg_"):
			v.add("schema", "%q is not the domain's own schema: the migration creates a schema of its own", d.Schema)
		case d.Schema == schema.LineCore || d.Schema == schema.LineRiver || d.Schema == schema.LineArticles:
			// The schema names the domain's migration line too.
			v.add("schema", "%q is the name of a built-in migration line", d.Schema)
		case len(d.Schema+"_goose_version") > maxIdentifier:
			v.add("schema", "makes the version table's name %s_goose_version longer than %d characters", d.Schema, maxIdentifier)
		}
	}
	v.ident("table", d.Table, maxIdentifier)
	if pkg := d.pkg(); !packagePattern.MatchString(pkg) || token.IsKeyword(pkg) {
		v.add("package", "%q is not a Go package name: lower-case letters and digits, a letter first", pkg)
	}
	if d.Model != "" && (!modelPattern.MatchString(d.Model) || !token.IsIdentifier(d.Model)) {
		v.add("model", "%q is not an exported Go name", d.Model)
	}
	v.text("description", d.Description, true)
	for _, name := range []string{
		d.Machine + "_apply",
		d.Machine + "_state_created",
		d.Machine + "_version_positive",
		"trg_" + d.Machine + "_audit",
	} {
		if len(name) > maxIdentifier {
			v.add("machine", "makes the name %s longer than %d characters", name, maxIdentifier)
		}
	}
}

func (v *validator) states() {
	d := v.d
	if len(d.States) == 0 {
		v.add("states", "a machine needs at least one state")
	}
	seen := map[string]bool{}
	for i, s := range d.States {
		field := fmt.Sprintf("states[%d]", i)
		if !v.ident(field, s, maxRoleOrState) {
			continue
		}
		if seen[s] {
			v.add(field, "state %q is declared twice", s)
		}
		seen[s] = true
	}
	switch {
	case d.Initial == "":
		v.add("initial", "is required: the state a create starts in")
	case !slices.Contains(d.States, d.Initial):
		v.add("initial", "%q is not among the states", d.Initial)
	}
}

func (v *validator) capabilities() {
	d := v.d
	rules := &authz.NameRules{Qualifiers: qualifiers, States: d.States}
	seen := map[string]bool{}
	for i, c := range d.Capabilities {
		field := fmt.Sprintf("capabilities[%d]", i)
		if problem := rules.Problem(authz.Capability(c.Name)); problem != "" {
			v.add(field+".name", "%s", problem)
		} else if seen[c.Name] {
			v.add(field+".name", "capability %q is declared twice", c.Name)
		}
		seen[c.Name] = true
		v.text(field+".description", c.Description, true)
	}
}

// capability checks a reference to a declared capability.
func (v *validator) capability(field, name string) {
	switch {
	case name == "":
		v.add(field, "is required: every action needs a capability")
	case !slices.ContainsFunc(v.d.Capabilities, func(c Capability) bool { return c.Name == name }):
		v.add(field, "%q is not among the declared capabilities", name)
	}
}

func (v *validator) roles() {
	seen := map[string]bool{}
	for i, r := range v.d.Roles {
		field := fmt.Sprintf("roles[%d]", i)
		if v.ident(field+".name", r.Name, maxRoleOrState) {
			if seen[r.Name] {
				v.add(field+".name", "role %q is declared twice", r.Name)
			}
			seen[r.Name] = true
		}
		if len(r.Capabilities) == 0 {
			v.add(field+".capabilities", "a role bundles at least one capability")
		}
		caps := map[string]bool{}
		for j, c := range r.Capabilities {
			cf := fmt.Sprintf("%s.capabilities[%d]", field, j)
			v.capability(cf, c)
			if caps[c] {
				v.add(cf, "%q is listed twice", c)
			}
			caps[c] = true
		}
	}
}

func (v *validator) columns() {
	d := v.d
	seen := map[string]bool{}
	for i, c := range d.Columns {
		field := fmt.Sprintf("columns[%d]", i)
		if v.ident(field+".name", c.Name, maxIdentifier) {
			switch {
			case slices.Contains(reservedColumns, c.Name):
				v.add(field+".name", "%q is a column every guarded table gets: leave it out", c.Name)
			case seen[c.Name]:
				v.add(field+".name", "column %q is declared twice", c.Name)
			}
			seen[c.Name] = true
		}
		if !slices.Contains(ColumnTypes(), c.Type) {
			v.add(field+".type", "%q is not one of %s", c.Type, strings.Join(ColumnTypes(), ", "))
		}
		switch {
		case c.MaxLength < 0:
			v.add(field+".max_length", "must be positive")
		case c.MaxLength > 0 && c.Type != "text":
			v.add(field+".max_length", "bounds text columns only")
		case c.MaxLength > 0 && len(d.Machine+"_"+c.Name+"_length") > maxIdentifier:
			v.add(field+".name", "makes the constraint name %s_%s_length longer than %d characters", d.Machine, c.Name, maxIdentifier)
		}
		if c.References != "" && !referencePattern.MatchString(c.References) {
			v.add(field+".references", "%q is not of the form schema.table (column)", c.References)
		}
		v.text(field+".comment", c.Comment, false)
	}
}

// wrapper checks the name of an action's typed wrapper.
func (v *validator) wrapper(field, action string) {
	if action == "apply" {
		v.add(field, "apply is the engine's own function (%s_apply): name the action otherwise", v.d.Machine)
	}
	if name := v.d.Machine + "_" + action; len(name) > maxIdentifier {
		v.add(field, "makes the wrapper's name %s longer than %d characters", name, maxIdentifier)
	}
}

// actorColumn checks a column an action sets to the acting principal.
func (v *validator) actorColumn(field, name string) {
	if name == "" {
		return
	}
	c, ok := v.d.column(name)
	switch {
	case !ok:
		v.add(field, "%q is not a declared column", name)
	case c.Type != "uuid":
		v.add(field, "%q is %s: the actor is a uuid", name, c.Type)
	}
}

// actionNames returns every action's and transition's name with where it
// is declared, for duplicates.
func (v *validator) actionNames() map[string][]string {
	names := map[string][]string{}
	for i, a := range v.d.Actions {
		names[a.Name] = append(names[a.Name], fmt.Sprintf("actions[%d]", i))
	}
	for i, t := range v.d.Transitions {
		names[t.Name] = append(names[t.Name], fmt.Sprintf("transitions[%d]", i))
	}
	return names
}

func (v *validator) actions() {
	d := v.d
	names := v.actionNames()
	if len(d.Actions) == 0 && len(d.Transitions) == 0 {
		v.add("transitions", "a machine needs at least one action or transition")
	}
	for i, a := range d.Actions {
		field := fmt.Sprintf("actions[%d]", i)
		if v.ident(field+".name", a.Name, maxRoleOrState) {
			v.wrapper(field+".name", a.Name)
			if where := names[a.Name]; where[0] != field {
				v.add(field+".name", "action %q is already declared at %s", a.Name, where[0])
			}
		}
		if a.Kind != KindCreate && a.Kind != KindUpdate {
			v.add(field+".kind", "%q is neither create nor update (state changes are transitions)", a.Kind)
		}
		v.capability(field+".capability", a.Capability)
		v.actorColumn(field+".actor", a.Actor)
		seen := map[string]bool{}
		for j, arg := range a.Args {
			af := fmt.Sprintf("%s.args[%d]", field, j)
			_, declared := d.column(arg)
			switch {
			case slices.Contains(reservedArgs, arg):
				v.add(af, "%q would collide with the wrapper's own parameter p_%s: rename the column", arg, arg)
			case seen[arg]:
				v.add(af, "%q is listed twice", arg)
			case !declared:
				v.add(af, "%q is not a declared column", arg)
			case arg == a.Actor:
				v.add(af, "%q is set to the actor already", arg)
			}
			seen[arg] = true
		}
		switch a.Kind {
		case KindCreate:
			// The insert must give every NOT NULL column a value.
			for _, c := range d.Columns {
				if !c.Null && !seen[c.Name] && c.Name != a.Actor {
					v.add(field+".args", "a create sets every NOT NULL column: %q is missing (add it to args, or make it \"null\": true)", c.Name)
				}
			}
		case KindUpdate:
			if len(a.Args) == 0 && a.Actor == "" {
				v.add(field+".args", "an update changes at least one column")
			}
		}
	}
}

func (v *validator) transitions() {
	d := v.d
	names := v.actionNames()
	type edge struct{ from, to string }
	edges := map[edge]string{}
	for i, t := range d.Transitions {
		field := fmt.Sprintf("transitions[%d]", i)
		if v.ident(field+".name", t.Name, maxRoleOrState) {
			v.wrapper(field+".name", t.Name)
			if where := names[t.Name]; where[0] != field {
				v.add(field+".name", "%q is already declared at %s: list every source state of one transition in its from", t.Name, where[0])
			}
		}
		if len(t.From) == 0 {
			v.add(field+".from", "a transition needs at least one source state")
		}
		toKnown := slices.Contains(d.States, t.To)
		if !toKnown {
			v.add(field+".to", "%q is not among the states", t.To)
		}
		for j, from := range t.From {
			ff := fmt.Sprintf("%s.from[%d]", field, j)
			if !slices.Contains(d.States, from) {
				v.add(ff, "%q is not among the states", from)
				continue
			}
			if !toKnown {
				continue
			}
			// The core keeps one edge per pair of states, so that the
			// audit can name any state change.
			e := edge{from, t.To}
			if prev, ok := edges[e]; ok {
				v.add(ff, "duplicate transition %s -> %s: already declared by %s", from, t.To, prev)
				continue
			}
			edges[e] = fmt.Sprintf("%s (%s)", field, t.Name)
		}
		v.capability(field+".capability", t.Capability)
		v.actorColumn(field+".actor", t.Actor)
	}
}
