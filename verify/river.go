package verify

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// riverSchema is the schema of River's tables, as bulwark's migrations
// install them.
const riverSchema = "river"

// riverRule says what PUBLIC and bulwark_app may not hold on one kind of
// object in schema river (anything at all), and what bulwark_jobs may not.
type riverRule struct {
	kind string // SCHEMA, TABLE, SEQUENCE or FUNCTION, as GRANT writes it
	// objects is the SQL of the objects' OIDs and names; $1 is the
	// schema's OID.
	objects string
	// has is the has_*_privilege function; acl the catalog's ACL column.
	has, acl, catalog string
	// untrusted is every privilege of the kind; runners what bulwark_jobs
	// may not hold either.
	untrusted, runners []string
}

var riverRules = []riverRule{
	{
		kind:      "SCHEMA",
		objects:   `SELECT n.oid, pg_catalog.quote_ident(n.nspname) AS name FROM pg_catalog.pg_namespace AS n WHERE n.oid = $1`,
		has:       "pg_catalog.has_schema_privilege",
		acl:       "nspacl",
		catalog:   "pg_catalog.pg_namespace",
		untrusted: []string{"USAGE", "CREATE"},
		runners:   []string{"CREATE"},
	},
	{
		kind: "TABLE",
		objects: `SELECT c.oid, c.oid::regclass::text AS name FROM pg_catalog.pg_class AS c
			WHERE c.relnamespace = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`,
		has:       "pg_catalog.has_table_privilege",
		acl:       "relacl",
		catalog:   "pg_catalog.pg_class",
		untrusted: []string{"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"},
		// River needs the rest to work jobs.
		runners: []string{"TRUNCATE", "REFERENCES", "TRIGGER"},
	},
	{
		kind: "SEQUENCE",
		objects: `SELECT c.oid, c.oid::regclass::text AS name FROM pg_catalog.pg_class AS c
			WHERE c.relnamespace = $1 AND c.relkind = 'S'`,
		has:       "pg_catalog.has_sequence_privilege",
		acl:       "relacl",
		catalog:   "pg_catalog.pg_class",
		untrusted: []string{"USAGE", "SELECT", "UPDATE"},
	},
	{
		kind: "FUNCTION",
		objects: `SELECT p.oid, p.oid::regprocedure::text AS name FROM pg_catalog.pg_proc AS p
			WHERE p.pronamespace = $1 AND p.prokind IN ('f', 'p')
			  AND NOT EXISTS (
			      SELECT FROM pg_catalog.pg_depend AS d
			      WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
			  )`,
		has:       "pg_catalog.has_function_privilege",
		acl:       "proacl",
		catalog:   "pg_catalog.pg_proc",
		untrusted: []string{"EXECUTE"},
	},
}

// checkRiverPrivileges requires that PUBLIC and bulwark_app hold nothing
// in schema river (no USAGE or CREATE on it, no privilege on its tables,
// sequences or functions, directly, on columns or through role
// membership), and bulwark_jobs no CREATE on it and no TRUNCATE,
// REFERENCES or TRIGGER on its tables. A River job row is an order to act
// as a service principal: only the job runners may write one, and
// applications queue work through the kit's SQL functions. A database
// without schema river has nothing to check.
func (s *session) checkRiverPrivileges(ctx context.Context, c *Check) error {
	var schemaOID uint32
	if err := s.tx.QueryRow(ctx,
		`SELECT coalesce(pg_catalog.to_regnamespace($1)::oid, 0)`, riverSchema,
	).Scan(&schemaOID); err != nil {
		return err
	}
	if schemaOID == 0 {
		return nil
	}
	for _, r := range riverRules {
		var n int
		if err := s.tx.QueryRow(ctx, `SELECT count(*) FROM (`+r.objects+`) AS o`, schemaOID).Scan(&n); err != nil {
			return err
		}
		c.Checked += n

		// Column privileges count as the table's: a column grant is
		// enough to write a job row, or read one.
		column := "false"
		if r.kind == "TABLE" {
			column = `p.name IN ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES') AND pg_catalog.has_any_column_privilege(g.name, o.oid, p.name)`
		}
		rows, err := s.tx.Query(ctx, `
			WITH objects AS (`+r.objects+`),
			grantees AS (`+grantees+`),
			rules (grantee, privilege) AS (
			    SELECT g.name, p.name
			    FROM grantees AS g CROSS JOIN pg_catalog.unnest($2::text[]) AS p (name)
			    WHERE g.name IN ('public', 'bulwark_app')
			    UNION ALL
			    SELECT g.name, p.name
			    FROM grantees AS g CROSS JOIN pg_catalog.unnest($3::text[]) AS p (name)
			    WHERE g.name = 'bulwark_jobs'
			)
			SELECT o.name,
			       g.name,
			       p.name,
			       `+r.has+`(g.name, o.oid, p.name),
			       EXISTS (
			           SELECT FROM `+r.catalog+` AS cat, pg_catalog.aclexplode(cat.`+r.acl+`) AS a
			           WHERE cat.oid = o.oid AND a.grantee = g.oid AND a.privilege_type = p.name
			       )
			FROM objects AS o
			CROSS JOIN rules AS p (grantee, name)
			JOIN grantees AS g ON g.name = p.grantee
			WHERE `+r.has+`(g.name, o.oid, p.name) OR (`+column+`)
			ORDER BY 1, 2, 3`, schemaOID, r.untrusted, r.runners)
		if err != nil {
			return err
		}
		held, err := pgx.CollectRows(rows, pgx.RowToStructByPos[heldPrivilege])
		if err != nil {
			return err
		}
		kind := r.kind
		reportHeld(c, held, func(object string) string { return fmt.Sprintf("ON %s %s", kind, object) },
			"holds %s in schema river: a River job row is an order to act as a service principal, which only job runners and the kit's SQL functions may write")
	}
	return nil
}
