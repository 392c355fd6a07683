package verify

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// contractRow is a row of bulwark.contract_constraints next to what the
// catalog holds under its name now.
type contractRow struct {
	Table          string
	Name           string
	QuotedName     string
	Kind           string
	Definition     string
	LiveKind       *string
	LiveDefinition *string
	Validated      *bool
}

// checkConstraints compares the enforcement contract with the catalog:
// every declared constraint and unique index must exist, be validated
// (valid, for an index) and keep its declared definition.
func (s *session) checkConstraints(ctx context.Context, c *Check) error {
	// One call of contract_catalog per guarded table, not per constraint.
	rows, err := s.tx.Query(ctx, `
		WITH live AS (
		    SELECT g.relation, l.name, l.kind, l.definition, l.validated
		    FROM bulwark.guarded_tables AS g
		    JOIN pg_catalog.pg_class AS c ON c.oid = g.relation
		    CROSS JOIN LATERAL bulwark.contract_catalog(g.relation) AS l
		)
		SELECT c.oid::regclass::text,
		       k.name,
		       pg_catalog.quote_ident(k.name),
		       k.kind,
		       k.definition,
		       live.kind,
		       live.definition,
		       live.validated
		FROM bulwark.contract_constraints AS k
		-- A contract of a table that is gone is reported by guard_triggers.
		JOIN pg_catalog.pg_class AS c ON c.oid = k.relation
		LEFT JOIN live ON live.relation = k.relation AND live.name = k.name
		ORDER BY 1, 2`)
	if err != nil {
		return err
	}
	contract, err := pgx.CollectRows(rows, pgx.RowToStructByPos[contractRow])
	if err != nil {
		return err
	}
	c.Checked = len(contract)
	for _, k := range contract {
		object := k.Table + "." + k.Name
		if k.LiveDefinition == nil {
			c.fail(object, "missing: declared "+k.Kind+" "+k.Definition, restoreConstraint(k)+
				" (or, if dropped on purpose, bulwark.undeclare_constraint in a migration)")
			continue
		}
		var problems []string
		if *k.LiveKind != k.Kind || *k.LiveDefinition != k.Definition {
			problems = append(problems, fmt.Sprintf("changed: now %s %s, declared %s %s", *k.LiveKind, *k.LiveDefinition, k.Kind, k.Definition))
		}
		if !*k.Validated {
			if k.Kind == "unique_index" || *k.LiveKind == "unique_index" {
				problems = append(problems, "invalid index: it enforces nothing (a failed CREATE INDEX CONCURRENTLY?)")
			} else {
				problems = append(problems, "NOT VALID: rows written before it were never checked")
			}
		}
		if len(problems) == 0 {
			continue
		}
		var fix string
		switch {
		case len(problems) == 1 && !*k.Validated && *k.LiveKind == "unique_index":
			fix = fmt.Sprintf("REINDEX INDEX CONCURRENTLY %s", indexName(k))
		case len(problems) == 1 && !*k.Validated:
			fix = fmt.Sprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s", k.Table, k.QuotedName)
		default:
			fix = fmt.Sprintf("restore it (%s), or re-declare it in a migration: SELECT bulwark.declare_constraint(%s, %s)",
				restoreConstraint(k), quoteLiteral(k.Table), quoteLiteral(k.Name))
		}
		c.fail(object, strings.Join(problems, "; "), fix)
	}
	return nil
}

// restoreConstraint is the statement that creates k as declared.
func restoreConstraint(k contractRow) string {
	if k.Kind == "unique_index" {
		return k.Definition
	}
	return fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", k.Table, k.QuotedName, k.Definition)
}

// indexName is k's index, schema-qualified like its table.
func indexName(k contractRow) string {
	name := k.QuotedName
	if i := strings.LastIndexByte(k.Table, '.'); i >= 0 {
		return k.Table[:i+1] + name
	}
	return name
}
