package scaffold

import (
	"fmt"
	"slices"
	"strings"
)

// queries returns the sqlc query file: reads, and one call per typed
// wrapper, sorted by name.
func (g *generator) queries() []byte {
	d := g.d
	w := &sqlWriter{}
	w.comment(fmt.Sprintf("Queries of the %s machine (%s), for sqlc: reads, and one call per typed wrapper. Scaffolded by `bulwark new` from %s. Queries only read or call the wrappers: sqlc vet refuses a write of the guarded schemas.", d.Machine, g.table(), g.source))

	type query struct{ name, sql string }
	var qs []query
	qs = append(qs, query{g.queryName("get_by_id"), fmt.Sprintf("-- name: %s :one\nSELECT *\nFROM %s\nWHERE id = @id::uuid;", g.queryName("get_by_id"), g.table())})
	list := g.queryName("list_by_state")
	qs = append(qs, query{list, fmt.Sprintf(`-- %s pages through one state in creation order. Pass the
-- last row's created_at and id to get the next page (keyset pagination:
-- stable under concurrent inserts, no OFFSET scans).
-- name: %s :many
SELECT *
FROM %s
WHERE state = @state::text
  AND (created_at, id) > (@after_created_at::timestamptz, @after_id::uuid)
ORDER BY created_at, id
LIMIT @max_rows::integer;`, list, list, g.table())})
	for _, a := range g.actions() {
		type arg struct{ name, value string }
		var args []arg
		for _, p := range a.params() {
			name := strings.TrimPrefix(p.name, "p_")
			value := fmt.Sprintf("@%s::%s", name, p.typ)
			// Optional: the key and the note always; an update's
			// arguments (NULL keeps the value) and a create's nullable
			// columns.
			optional := name == "idem_key" || name == "note"
			for _, c := range a.args {
				if c.Name == name && (a.kind == KindUpdate || c.Null) {
					optional = true
				}
			}
			if optional {
				value = fmt.Sprintf("sqlc.narg('%s')::%s", name, p.typ)
			}
			args = append(args, arg{p.name, value})
		}
		width := 0
		for _, x := range args {
			width = max(width, len(x.name))
		}
		lines := make([]string, len(args))
		for i, x := range args {
			lines[i] = fmt.Sprintf("    %-*s => %s", width, x.name, x.value)
		}
		name := g.queryName(a.name)
		qs = append(qs, query{name, fmt.Sprintf("-- name: %s :one\nSELECT * FROM %s(\n%s\n);", name, g.wrapper(a.name), strings.Join(lines, ",\n"))})
	}
	slices.SortFunc(qs, func(a, b query) int { return strings.Compare(a.name, b.name) })
	for _, q := range qs {
		w.blank()
		w.line("%s", q.sql)
	}
	return []byte(w.b.String())
}

// sqlcConfig returns sqlc.yaml: the domain's migrations and queries, Go
// out to the <package>db package, and the rule that refuses writes.
func (g *generator) sqlcConfig() []byte {
	d := g.d
	return fmt.Appendf(nil, `# sqlc's configuration for the %[1]s domain: scaffolded by `+"`bulwark new`"+`
# from %[2]s. `+"`sqlc generate`"+` writes package %[3]s from the migrations and
# queries; `+"`sqlc vet`"+` refuses a query that writes the guarded schemas.
version: "2"
rules:
  - name: no-direct-writes-to-guarded-schemas
    message: "queries may only read or call the typed wrappers: INSERT/UPDATE/DELETE/MERGE on the %[4]s or bulwark schemas goes around the boundary"
    rule: |
      query.sql.matches("(?is)\\b(insert\\s+into|update|delete\\s+from|merge\\s+into|truncate(\\s+table)?)\\s+(only\\s+)?\"?(%[4]s|bulwark)\"?\\s*\\.")
sql:
  - engine: postgresql
    # goose files; sqlc ignores the Down parts.
    schema: migrations
    queries: queries
    rules:
      - no-direct-writes-to-guarded-schemas
    gen:
      go:
        package: %[3]s
        out: %[3]s
        sql_package: pgx/v5
        emit_methods_with_db_argument: true
        emit_pointers_for_null_types: true
        # The row type's name is pinned (rename), not inflected from the
        # table's.
        emit_exact_table_names: true
        rename:
          %[4]s_%[5]s: %[6]s
        overrides:
          - db_type: uuid
            go_type:
              import: github.com/google/uuid
              type: UUID
          - db_type: uuid
            nullable: true
            go_type:
              import: github.com/google/uuid
              type: UUID
              pointer: true
          - db_type: timestamptz
            go_type:
              import: time
              type: Time
          - db_type: timestamptz
            nullable: true
            go_type:
              import: time
              type: Time
              pointer: true
`, d.Machine, g.source, d.dbPkg(), d.Schema, d.Table, d.model())
}
