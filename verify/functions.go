package verify

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// function is a function or procedure in a schema behind the boundary.
type function struct {
	// Signature is the regprocedure: schema-qualified name and argument
	// types, usable in ALTER FUNCTION.
	Signature string
	Schema    string
	Name      string
	Kind      string // pg_proc.prokind: f or p
	Definer   bool
	Owner     string
	Config    []string
	Volatile  string // pg_proc.provolatile: i, s or v
	// PublicExec is true when PUBLIC may execute it.
	PublicExec bool
	// AppExec is true when bulwark_app or bulwark_jobs may execute it
	// other than through PUBLIC.
	AppExec bool
}

// loadFunctions reads the functions and procedures of the boundary
// schemas, leaving out those an extension owns.
func (s *session) loadFunctions(ctx context.Context) error {
	rows, err := s.tx.Query(ctx, `
		WITH app AS (`+appRoles+`)
		SELECT p.oid::regprocedure::text,
		       n.nspname::text,
		       p.proname::text,
		       p.prokind::text,
		       p.prosecdef,
		       pg_catalog.pg_get_userbyid(p.proowner)::text,
		       coalesce(p.proconfig, '{}'),
		       p.provolatile::text,
		       pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE'),
		       NOT pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE')
		           AND EXISTS (SELECT FROM app WHERE pg_catalog.has_function_privilege(app.name, p.oid, 'EXECUTE'))
		FROM pg_catalog.pg_proc AS p
		JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
		WHERE n.nspname = ANY ($1::text[])
		  AND p.prokind IN ('f', 'p')
		  AND NOT EXISTS (
		      SELECT FROM pg_catalog.pg_depend AS d
		      WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
		  )
		ORDER BY 1`, s.boundary)
	if err != nil {
		return err
	}
	s.functions, err = pgx.CollectRows(rows, pgx.RowToStructByPos[function])
	return err
}

// transition reports whether f is a transition function: a SECURITY
// DEFINER function behind the boundary, or a volatile function the
// application roles may call (the API they write through). Stable and
// immutable functions they may call only read, with their own rights.
func (f function) transition() bool {
	return f.Definer || (f.AppExec && f.Volatile == "v")
}

// searchPath returns the schemas f pins search_path to, nil if it pins
// none.
func (f function) searchPath() []string {
	for _, setting := range f.Config {
		value, ok := strings.CutPrefix(setting, "search_path=")
		if !ok {
			continue
		}
		path := []string{}
		for _, part := range strings.Split(value, ",") {
			part = strings.TrimSpace(part)
			if len(part) >= 2 && part[0] == '"' && part[len(part)-1] == '"' {
				part = strings.ReplaceAll(part[1:len(part)-1], `""`, `"`)
			}
			if part != "" {
				path = append(path, part)
			}
		}
		return path
	}
	return nil
}

// keyword is FUNCTION or PROCEDURE, for ALTER, GRANT and REVOKE.
func (f function) keyword() string {
	if f.Kind == "p" {
		return "PROCEDURE"
	}
	return "FUNCTION"
}

func (s *session) transitionFunctions() []function {
	var fns []function
	for _, f := range s.functions {
		if f.transition() {
			fns = append(fns, f)
		}
	}
	return fns
}

// checkFunctionDefiner requires every transition function to be SECURITY
// DEFINER: the application roles hold no write privileges, so only a
// function that runs as its owner can write.
func (s *session) checkFunctionDefiner(_ context.Context, c *Check) error {
	for _, f := range s.transitionFunctions() {
		c.Checked++
		if !f.Definer {
			c.fail(f.Signature, "not SECURITY DEFINER, yet bulwark_app or bulwark_jobs may call it",
				fmt.Sprintf("ALTER %s %s SECURITY DEFINER, or REVOKE EXECUTE ON %[1]s %[2]s FROM bulwark_app, bulwark_jobs if it is no transition function",
					f.keyword(), f.Signature))
		}
	}
	return nil
}

// generatedFunctions returns the code bulwark.engine_build generates for
// each existing guarded table's machine, as schema and name:
// <schema>.<machine>_apply, bulwark.trg_<machine>_boundary and
// bulwark.trg_<machine>_audit.
func (s *session) generatedFunctions() map[[2]string]bool {
	names := make(map[[2]string]bool, 3*len(s.guarded))
	for _, g := range s.guarded {
		if g.Name == "" {
			continue
		}
		names[[2]string{g.Schema, g.Machine + "_apply"}] = true
		names[[2]string{"bulwark", "trg_" + g.Machine + "_boundary"}] = true
		names[[2]string{"bulwark", "trg_" + g.Machine + "_audit"}] = true
	}
	return names
}

// checkFunctionOwner requires bulwark_engine to own the code the engine
// generates (its apply function and its boundary and audit triggers'
// functions: whoever owns them can replace them, and only the member-less
// engine role must), and bulwark_owner or bulwark_engine to own every
// other transition function: a SECURITY DEFINER function runs with its
// owner's rights, and the engine's own code is the only code the write
// guards let through.
func (s *session) checkFunctionOwner(_ context.Context, c *Check) error {
	generated := s.generatedFunctions()
	for _, f := range s.functions {
		switch {
		case generated[[2]string{f.Schema, f.Name}]:
			c.Checked++
			if f.Owner != roleEngine {
				c.fail(f.Signature, "engine code owned by "+f.Owner+", not "+roleEngine+": its owner can replace it",
					fmt.Sprintf("as a superuser: ALTER %s %s OWNER TO %s (the engine's generated code belongs to the member-less %[3]s)",
						f.keyword(), f.Signature, roleEngine))
			}
		case f.transition():
			c.Checked++
			if f.Owner != roleOwner && f.Owner != roleEngine {
				c.fail(f.Signature, "owned by "+f.Owner+", not "+roleOwner,
					fmt.Sprintf("ALTER %s %s OWNER TO %s", f.keyword(), f.Signature, roleOwner))
			}
		}
	}
	return nil
}

// checkFunctionSearchPath requires every transition function to pin
// search_path to existing schemas, with pg_temp explicitly last: left
// out, PostgreSQL searches pg_temp first for tables, and any session may
// create a temporary table that shadows a guarded one. Whether the roles
// may create in those schemas is schema_create's concern.
func (s *session) checkFunctionSearchPath(ctx context.Context, c *Check) error {
	fns := s.transitionFunctions()
	var named []string
	for _, f := range fns {
		for _, name := range f.searchPath() {
			if !slices.Contains(named, name) {
				named = append(named, name)
			}
		}
	}
	rows, err := s.tx.Query(ctx, `SELECT n.nspname::text FROM pg_catalog.pg_namespace AS n WHERE n.nspname = ANY ($1::text[])`, named)
	if err != nil {
		return err
	}
	existing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}

	for _, f := range fns {
		c.Checked++
		fix := fmt.Sprintf("ALTER %s %s SET search_path = pg_catalog, pg_temp (and qualify every name in its body)", f.keyword(), f.Signature)
		path := f.searchPath()
		if path == nil {
			c.fail(f.Signature, "does not pin search_path: its names resolve in the caller's search_path", fix)
			continue
		}
		var problems []string
		if len(path) == 0 || path[len(path)-1] != "pg_temp" {
			problems = append(problems, "pg_temp is not explicitly last (left out, it is searched first)")
		}
		for _, name := range path {
			switch {
			case name == "pg_temp":
			case strings.HasPrefix(name, "$"):
				problems = append(problems, "names "+name+", which resolves per caller")
			case !slices.Contains(existing, name):
				problems = append(problems, "names schema "+name+", which does not exist (whoever creates it decides what names mean)")
			}
		}
		if len(problems) > 0 {
			c.fail(f.Signature, "search_path = "+strings.Join(path, ", ")+": "+strings.Join(problems, "; "), fix)
		}
	}
	return nil
}

// checkFunctionExecute refuses EXECUTE for PUBLIC on every function behind
// the boundary, transition function or helper: the application roles get
// EXECUTE on the API by name, and no other role gets anything.
func (s *session) checkFunctionExecute(_ context.Context, c *Check) error {
	for _, f := range s.functions {
		c.Checked++
		if f.PublicExec {
			c.fail(f.Signature, "PUBLIC may EXECUTE it",
				fmt.Sprintf("REVOKE EXECUTE ON %s %s FROM PUBLIC", f.keyword(), f.Signature))
		}
	}
	return nil
}
