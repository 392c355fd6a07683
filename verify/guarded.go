package verify

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// guardRecord is a table that is guarded, or was (bulwark.guard_history
// beside bulwark.guarded_tables and the catalog).
type guardRecord struct {
	OID         uint32
	Name        string // when it was guarded; empty if unknown
	Machine     string
	StateColumn string
	Unguarded   *time.Time
	Registered  bool
	Live        string // its name now; empty when gone
	Table       bool   // it still exists as a table
}

// left reports whether g was unguarded yet still exists: it left the
// boundary.
func (g guardRecord) left() bool { return !g.Registered && g.Table }

// loadGuardHistory reads every table that is or was guarded.
func (s *session) loadGuardHistory(ctx context.Context) error {
	rows, err := s.tx.Query(ctx, `
		SELECT coalesce(h.relation, g.relation::oid),
		       coalesce(h.name, ''),
		       coalesce(h.machine, g.machine),
		       coalesce(h.state_column, g.state_column),
		       h.unguarded_at,
		       g.relation IS NOT NULL,
		       coalesce(c.oid::regclass::text, ''),
		       coalesce(c.relkind IN ('r', 'p'), false)
		FROM bulwark.guard_history AS h
		FULL JOIN bulwark.guarded_tables AS g ON g.relation::oid = h.relation
		LEFT JOIN pg_catalog.pg_class AS c ON c.oid = coalesce(h.relation, g.relation::oid)
		ORDER BY 2, 1`)
	if err != nil {
		return err
	}
	s.guardHistory, err = pgx.CollectRows(rows, pgx.RowToStructByPos[guardRecord])
	if err != nil {
		return err
	}
	s.leftBoundary = make(map[string]bool)
	for _, g := range s.guardHistory {
		if g.left() {
			s.leftBoundary[g.Live] = true
		}
	}
	return nil
}

// checkGuardedTables requires every table that was ever guarded
// (bulwark.guard_history) to be guarded still, or gone: unguard belongs in
// a Down migration that then drops the table, so a table that was
// unguarded and still exists has quietly left the boundary. And every
// table bulwark.guarded_tables registers must exist: one dropped without
// its migration's unguard leaves its registration, contract and API
// behind.
func (s *session) checkGuardedTables(_ context.Context, c *Check) error {
	for _, g := range s.guardHistory {
		c.Checked++
		object := g.Name
		if object == "" {
			object = fmt.Sprintf("relation %d", g.OID)
		}
		switch {
		case g.Registered && g.Live == "":
			c.fail(object, "registered in bulwark.guarded_tables (machine "+g.Machine+") but the table no longer exists: dropped without its migration's bulwark.unguard",
				"restore the table from its migration (and backups), or run the Down that drops it, which unguards it first")
		case g.left():
			until := ""
			if g.Unguarded != nil {
				until = " until " + g.Unguarded.UTC().Format(time.RFC3339)
			}
			c.fail(g.Live, fmt.Sprintf("was guarded by machine %s%s, and still exists outside the boundary: nothing guards its writes", g.Machine, until),
				fmt.Sprintf("SELECT bulwark.guard(%s, %s, %s) as the migration role (bulwark.unguard belongs in a Down migration that then drops the table)",
					quoteLiteral(g.Live), quoteLiteral(g.Machine), quoteLiteral(g.StateColumn)))
		}
	}
	return nil
}
