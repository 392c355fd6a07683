package verify

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// conflictRow is a row of bulwark.conflict_constraints next to what the
// catalog holds under its name now.
type conflictRow struct {
	Table       string
	TableExists bool
	Name        string
	Code        string
	LiveKind    *string
	InContract  bool
	Retryable   bool
	CoreTable   bool
}

// coreConflict is the one conflict the core declares on its own tables: a
// taken principal name, which a retry meets again.
var coreConflict = conflictRow{Table: "bulwark.principals", Name: "principal_name_unique", Code: "name_taken"}

// checkConflicts requires every declared conflict
// (bulwark.declare_conflict) to name a table that exists and a unique or
// exclusion constraint (or unique index) of it: a declaration left behind
// by a dropped or replaced constraint maps nothing, and says the domain
// expects a race that can no longer happen. A declaration on a unique or
// exclusion constraint of a guarded table's contract is the constraints
// check's to report, once. A database that predates the declarations has
// none to check (migrations reports it).
func (s *session) checkConflicts(ctx context.Context, c *Check) error {
	var present bool
	if err := s.tx.QueryRow(ctx, `SELECT pg_catalog.to_regclass('bulwark.conflict_constraints') IS NOT NULL`).Scan(&present); err != nil {
		return err
	}
	if !present {
		return nil
	}
	rows, err := s.tx.Query(ctx, `
		SELECT k.relation::text,
		       EXISTS (SELECT FROM pg_catalog.pg_class AS c WHERE c.oid = k.relation),
		       k.name,
		       k.code,
		       (SELECT l.kind FROM bulwark.contract_catalog(k.relation) AS l WHERE l.name = k.name),
		       EXISTS (
		           SELECT FROM bulwark.contract_constraints AS cc
		           WHERE cc.relation = k.relation AND cc.name = k.name
		             AND cc.kind IN ('exclusion', 'primary_key', 'unique', 'unique_index')
		       ),
		       k.retryable,
		       coalesce((SELECT c.relnamespace = 'bulwark'::pg_catalog.regnamespace FROM pg_catalog.pg_class AS c WHERE c.oid = k.relation), false)
		FROM bulwark.conflict_constraints AS k
		ORDER BY 1, 3`)
	if err != nil {
		return err
	}
	declared, err := pgx.CollectRows(rows, pgx.RowToStructByPos[conflictRow])
	if err != nil {
		return err
	}
	c.Checked = len(declared) + 1
	coreDeclared := false
	for _, k := range declared {
		object := k.Table + "." + k.Name
		undeclare := fmt.Sprintf("SELECT bulwark.undeclare_conflict(%s, %s) in a migration", quoteLiteral(k.Table), quoteLiteral(k.Name))
		isCore := k.Table == coreConflict.Table && k.Name == coreConflict.Name && k.Code == coreConflict.Code && !k.Retryable
		coreDeclared = coreDeclared || isCore
		switch {
		case k.CoreTable && !isCore:
			// declare_conflict refuses it: it was written around the
			// function, and turns a defect of the core into an answer.
			c.fail(object, fmt.Sprintf("declared conflict %s (retryable %t) on a table of the core: only the core declares those", k.Code, k.Retryable),
				"DELETE the row from bulwark.conflict_constraints under bulwark.maintenance_begin, and find who wrote it")
		case k.InContract:
			// The constraints check keeps it as declared.
		case !k.TableExists:
			c.fail(object, fmt.Sprintf("declared conflict %s of a table that is gone", k.Code), undeclare)
		case k.LiveKind == nil:
			c.fail(object, fmt.Sprintf("declared conflict %s, but the table has no such constraint or unique index", k.Code),
				"restore the constraint, or "+undeclare)
		case *k.LiveKind != "unique" && *k.LiveKind != "unique_index" && *k.LiveKind != "exclusion" && *k.LiveKind != "primary_key":
			c.fail(object, fmt.Sprintf("declared conflict %s, but it is a %s constraint now: its violations are never a race", k.Code, *k.LiveKind),
				"restore the unique or exclusion constraint, or "+undeclare)
		}
	}
	if !coreDeclared {
		c.fail(coreConflict.Table+"."+coreConflict.Name, "the core's declared conflict name_taken is missing or changed: a taken name reads as a defect",
			"migrate the core again (bulwark migrate redo), or restore the row under bulwark.maintenance_begin")
	}
	return nil
}
