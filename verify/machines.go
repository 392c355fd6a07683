package verify

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// checkStateMachines requires each state machine to be sane: its initial
// state and every transition's states declared, and every state reachable
// from the initial state. An unreachable state is a rule nobody can
// satisfy, or a row that got there around the machine.
func (s *session) checkStateMachines(ctx context.Context, c *Check) error {
	if err := s.tx.QueryRow(ctx, `SELECT count(*) FROM bulwark.machines`).Scan(&c.Checked); err != nil {
		return err
	}
	rows, err := s.tx.Query(ctx, `
		WITH RECURSIVE reachable (machine, state) AS (
		    SELECT m.name, m.initial_state
		    FROM bulwark.machines AS m
		    UNION
		    SELECT t.machine, t.to_state
		    FROM bulwark.transitions AS t
		    JOIN reachable AS r ON r.machine = t.machine AND r.state = t.from_state
		)
		SELECT f.object, f.problem, f.fix
		FROM (
		SELECT m.name AS object,
		       'initial state ' || m.initial_state || ' is not declared' AS problem,
		       'declare the state (bulwark.states) or set machines.initial_state to a declared one, under bulwark.maintenance_begin' AS fix
		FROM bulwark.machines AS m
		WHERE NOT EXISTS (SELECT FROM bulwark.states AS s WHERE s.machine = m.name AND s.name = m.initial_state)
		UNION ALL
		SELECT t.machine || '/' || t.name,
		       'transition ' || t.from_state || ' -> ' || t.to_state || ' references an undeclared state',
		       'declare the state, or delete the transition under bulwark.maintenance_begin'
		FROM bulwark.transitions AS t
		WHERE NOT EXISTS (SELECT FROM bulwark.states AS s WHERE s.machine = t.machine AND s.name = t.from_state)
		   OR NOT EXISTS (SELECT FROM bulwark.states AS s WHERE s.machine = t.machine AND s.name = t.to_state)
		UNION ALL
		SELECT s.machine || '/' || s.name,
		       'state ' || s.name || ' is unreachable from the initial state ' || m.initial_state,
		       'SELECT bulwark.declare_transition(' || pg_catalog.quote_literal(s.machine) || ', name, from_state, '
		           || pg_catalog.quote_literal(s.name) || ') in a migration, or delete the state under bulwark.maintenance_begin'
		FROM bulwark.states AS s
		JOIN bulwark.machines AS m ON m.name = s.machine
		WHERE NOT EXISTS (SELECT FROM reachable AS r WHERE r.machine = s.machine AND r.state = s.name)
		) AS f
		ORDER BY f.object COLLATE "C"`)
	if err != nil {
		return err
	}
	var object, problem, fix string
	_, err = pgx.ForEachRow(rows, []any{&object, &problem, &fix}, func() error {
		c.fail(object, problem, fix)
		return nil
	})
	return err
}

// checkActionRules requires every rule of every guarded machine to compile
// against its table as the engine runs it (bulwark.rule_problems: parsed
// and analyzed, never planned or run). A declaration is refused when its
// rule does not compile; a rule that stops compiling later (a column it
// names renamed, dropped or retyped, a function it calls gone) fails every
// call of its action as an invariant until this check reports it. An error
// of the probe itself (a lock it could not take in time) ends the run: it
// says nothing of the rules.
func (s *session) checkActionRules(ctx context.Context, c *Check) error {
	if err := s.tx.QueryRow(ctx, `
		SELECT count(*)
		FROM bulwark.action_rules AS r
		JOIN bulwark.guarded_tables AS g ON g.machine = r.machine`,
	).Scan(&c.Checked); err != nil {
		return err
	}
	rows, err := s.tx.Query(ctx, `
		SELECT p.machine, p.rule_id, p.error_code, p.problem
		FROM bulwark.rule_problems(NULL) AS p
		ORDER BY p.machine COLLATE "C", p.rule_id`)
	if err != nil {
		return err
	}
	var (
		machine, code, problem string
		id                     int64
	)
	_, err = pgx.ForEachRow(rows, []any{&machine, &id, &code, &problem}, func() error {
		c.fail(fmt.Sprintf("%s/rule %d", machine, id), fmt.Sprintf("%s (SQLSTATE %s)", problem, code),
			fmt.Sprintf("put back what the rule names (the column or function the problem names, as a migration left it); if the change was meant, replace the rule in a migration: under bulwark.maintenance_begin delete rule %d from bulwark.action_rules, declare it again as it should now read, then SELECT bulwark.engine_build(%s)",
				id, quoteLiteral(machine)))
		return nil
	})
	return err
}
