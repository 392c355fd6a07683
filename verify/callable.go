package verify

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// callableGrant is one application role's EXECUTE on a function.
type callableGrant struct {
	Function string
	Kind     string // pg_proc.prokind
	Role     string
	// Public, Direct: the role holds EXECUTE through PUBLIC, or by the
	// function's own grant to it; neither means through a role it belongs
	// to.
	Public   bool
	Direct   bool
	Declared bool
}

// checkCallableFunctions requires every function that bulwark_app or
// bulwark_jobs may execute (directly, through a role they belong to, or
// through PUBLIC; in a schema they may use; in any schema but the
// system's, leaving out extensions' and trigger functions) to be declared:
// a typed API wrapper (bulwark.api_functions, made by declare_api, each
// with its action's capability) or a declared callable
// (bulwark.callable_functions: the core's grant functions with their
// capabilities, documented reads). Anything else is a door nobody
// declared, such as a SECURITY DEFINER function that writes a guarded
// table.
func (s *session) checkCallableFunctions(ctx context.Context, c *Check) error {
	rows, err := s.tx.Query(ctx, `
		WITH app AS (`+appRoles+`)
		SELECT p.oid::regprocedure::text,
		       p.prokind::text,
		       app.name,
		       pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE'),
		       EXISTS (
		           SELECT FROM pg_catalog.aclexplode(p.proacl) AS a
		           WHERE a.grantee = app.oid AND a.privilege_type = 'EXECUTE'
		       ),
		       EXISTS (SELECT FROM bulwark.api_functions AS f WHERE f.function::oid = p.oid)
		           OR EXISTS (SELECT FROM bulwark.callable_functions AS k WHERE k.function::oid = p.oid)
		FROM pg_catalog.pg_proc AS p
		JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
		CROSS JOIN app
		WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
		  AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
		  AND p.prorettype NOT IN ('pg_catalog.trigger'::pg_catalog.regtype, 'pg_catalog.event_trigger'::pg_catalog.regtype)
		  AND NOT EXISTS (
		      SELECT FROM pg_catalog.pg_depend AS d
		      WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
		  )
		  AND pg_catalog.has_schema_privilege(app.name, n.oid, 'USAGE')
		  AND pg_catalog.has_function_privilege(app.name, p.oid, 'EXECUTE')
		ORDER BY 1, 3`)
	if err != nil {
		return err
	}
	grants, err := pgx.CollectRows(rows, pgx.RowToStructByPos[callableGrant])
	if err != nil {
		return err
	}
	var (
		order  []string
		byFunc = make(map[string][]callableGrant)
	)
	for _, g := range grants {
		if _, ok := byFunc[g.Function]; !ok {
			order = append(order, g.Function)
		}
		byFunc[g.Function] = append(byFunc[g.Function], g)
	}
	c.Checked = len(order)
	for _, fn := range order {
		gs := byFunc[fn]
		if gs[0].Declared {
			continue
		}
		keyword := functionKeyword(gs[0].Kind)
		var who, fixes []string
		public := false
		var direct []string
		for _, g := range gs {
			switch {
			case g.Public:
				public = true
			case g.Direct:
				who = append(who, g.Role)
				direct = append(direct, g.Role)
			default:
				who = append(who, g.Role+" (through a role it belongs to)")
			}
		}
		if public {
			who = []string{"every role (PUBLIC)"}
			fixes = append(fixes, fmt.Sprintf("REVOKE EXECUTE ON %s %s FROM PUBLIC", keyword, fn))
		} else {
			if len(direct) > 0 {
				fixes = append(fixes, fmt.Sprintf("REVOKE EXECUTE ON %s %s FROM %s", keyword, fn, strings.Join(direct, ", ")))
			}
		}
		fix := strings.Join(fixes, "; ")
		if len(direct) < len(gs) && !public {
			fix += fmt.Sprintf(" -- and revoke it from the role they hold it through (see \\df+ %s);", fn)
		}
		fix += " -- or, if they should call it, declare it in a migration: bulwark.declare_api (a typed wrapper of an action) or bulwark.declare_callable (a read, or a call that checks its capability)"
		c.fail(fn, strings.Join(who, ", ")+" may execute it, but it is neither a declared API nor a declared callable", fix)
	}
	return nil
}

// defaultGrant is one privilege a pg_default_acl entry gives on future
// objects.
type defaultGrant struct {
	Role      string
	Schema    string // empty for every schema
	ObjType   string // pg_default_acl.defaclobjtype: r (tables) or f (functions)
	Grantee   string // "public" for PUBLIC
	Privilege string
}

// checkDefaultPrivileges refuses default privileges (ALTER DEFAULT
// PRIVILEGES) that would give bulwark_app or bulwark_jobs, directly,
// through a role they belong to or through PUBLIC, INSERT, UPDATE,
// DELETE, TRUNCATE, REFERENCES or TRIGGER on future tables, or EXECUTE on
// future functions; and requires bulwark_owner's and bulwark_engine's new
// functions to start without EXECUTE for PUBLIC (PostgreSQL's built-in
// default, which migration 00001 revokes for them).
func (s *session) checkDefaultPrivileges(ctx context.Context, c *Check) error {
	rows, err := s.tx.Query(ctx, `
		WITH app AS (`+appRoles+`)
		SELECT pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(d.defaclrole)),
		       coalesce(pg_catalog.quote_ident(n.nspname), ''),
		       d.defaclobjtype::text,
		       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END,
		       a.privilege_type
		FROM pg_catalog.pg_default_acl AS d
		LEFT JOIN pg_catalog.pg_namespace AS n ON n.oid = d.defaclnamespace
		CROSS JOIN LATERAL pg_catalog.aclexplode(d.defaclacl) AS a
		WHERE ((d.defaclobjtype = 'r' AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'))
		       OR (d.defaclobjtype = 'f' AND a.privilege_type = 'EXECUTE'))
		  AND (
		      EXISTS (SELECT FROM app WHERE a.grantee = app.oid OR (a.grantee <> 0 AND pg_catalog.pg_has_role(app.oid, a.grantee, 'USAGE')))
		      -- PUBLIC's EXECUTE on functions is PostgreSQL's default, and
		      -- is the owner and engine roles' concern below, or a
		      -- schema's entry's.
		      OR (a.grantee = 0 AND (d.defaclobjtype = 'r' OR d.defaclnamespace <> 0))
		  )
		ORDER BY 1, 2, 3, 4, 5`)
	if err != nil {
		return err
	}
	grants, err := pgx.CollectRows(rows, pgx.RowToStructByPos[defaultGrant])
	if err != nil {
		return err
	}
	type key struct{ role, schema, objType, grantee string }
	var (
		order []key
		privs = make(map[key][]string)
	)
	for _, g := range grants {
		k := key{g.Role, g.Schema, g.ObjType, g.Grantee}
		if _, ok := privs[k]; !ok {
			order = append(order, k)
		}
		privs[k] = append(privs[k], g.Privilege)
	}
	for _, k := range order {
		object := "role " + k.role
		in := ""
		if k.schema != "" {
			object += " in schema " + k.schema
			in = " IN SCHEMA " + k.schema
		}
		objects := map[string]string{"r": "TABLES", "f": "FUNCTIONS"}[k.objType]
		c.fail(object,
			fmt.Sprintf("new %s it creates give %s %s", strings.ToLower(objects), k.grantee, strings.Join(privs[k], ", ")),
			fmt.Sprintf("ALTER DEFAULT PRIVILEGES FOR ROLE %s%s REVOKE %s ON %s FROM %s",
				k.role, in, strings.Join(privs[k], ", "), objects, k.grantee))
	}

	// The boundary's owners: their new functions land behind the
	// boundary, so PUBLIC must not get EXECUTE by default.
	owners := []string{roleOwner, roleEngine}
	rows, err = s.tx.Query(ctx, `
		SELECT r.rolname::text
		FROM pg_catalog.pg_roles AS r
		WHERE r.rolname = ANY ($1::text[])
		  AND EXISTS (
		      SELECT FROM pg_catalog.aclexplode(coalesce(
		          (SELECT d.defaclacl FROM pg_catalog.pg_default_acl AS d
		           WHERE d.defaclrole = r.oid AND d.defaclnamespace = 0 AND d.defaclobjtype = 'f'),
		          pg_catalog.acldefault('f', r.oid))) AS a
		      WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'
		  )
		ORDER BY 1`, owners)
	if err != nil {
		return err
	}
	open, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, role := range open {
		c.fail("role "+role, "new functions it creates are executable by PUBLIC (the default privileges' revoke is gone)",
			fmt.Sprintf("ALTER DEFAULT PRIVILEGES FOR ROLE %s REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC", role))
	}
	// Every entry, and the owners' built-in default when they have none.
	if err := s.tx.QueryRow(ctx, `
		SELECT pg_catalog.count(*)::integer + $1::integer FROM pg_catalog.pg_default_acl`, len(owners)).Scan(&c.Checked); err != nil {
		return err
	}
	return nil
}
