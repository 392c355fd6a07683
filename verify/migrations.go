package verify

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/bulwarkdb/bulwark/sql/schema"
)

// checkMigrations compares the migrations the database applied with those
// the binary knows: an applied migration whose file changed since it was
// applied, or one the binary does not know, means the schema is not what
// the migrations in hand describe.
func (s *session) checkMigrations(ctx context.Context, c *Check) error {
	var exists bool
	if err := s.tx.QueryRow(ctx, `SELECT pg_catalog.to_regclass($1) IS NOT NULL`, s.opts.VersionTable).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		c.fail(s.opts.VersionTable, "missing: there is no telling which migrations ran",
			"verify the database that bulwark migrate up migrated, or name goose's version table in Opts.VersionTable")
		return nil
	}
	table := pgx.Identifier(strings.Split(s.opts.VersionTable, ".")).Sanitize()
	// goose keeps a row per apply; the newest row of a version says
	// whether it is applied now.
	rows, err := s.tx.Query(ctx, `
		SELECT v.version_id, m.checksum
		FROM (
		    SELECT DISTINCT ON (g.version_id) g.version_id, g.is_applied
		    FROM `+table+` AS g
		    ORDER BY g.version_id, g.id DESC
		) AS v
		LEFT JOIN bulwark.migration_checksums AS m ON m.version = v.version_id
		WHERE v.is_applied
		  AND v.version_id > 0
		ORDER BY 1`)
	if err != nil {
		return err
	}
	known := make(map[int64]schema.Checksum, len(s.opts.Migrations))
	for _, m := range s.opts.Migrations {
		known[m.Version] = m
	}
	var (
		version  int64
		recorded *string
	)
	_, err = pgx.ForEachRow(rows, []any{&version, &recorded}, func() error {
		c.Checked++
		m, ok := known[version]
		if !ok {
			c.fail(fmt.Sprintf("version %d", version), "applied, but this binary does not know it (a newer binary or another branch applied it)",
				"run the bulwark binary that applied it, or roll the version back with it")
			return nil
		}
		object := m.Path
		if object == "" {
			object = fmt.Sprintf("version %d", version)
		}
		switch {
		case recorded == nil:
			c.fail(object, "applied, but no checksum was recorded (migrated by goose without schema.Up?)",
				"run bulwark migrate up, which records the checksums of applied migrations")
		case *recorded != m.Sum:
			c.fail(object, fmt.Sprintf("changed since it was applied (applied %s, now %s)", shortSum(*recorded), shortSum(m.Sum)),
				"a merged migration is never edited: restore the file as applied (git log) and fix forward in a new migration")
		}
		return nil
	})
	return err
}

// shortSum abbreviates a checksum for a message.
func shortSum(sum string) string {
	if len(sum) > len("sha256:")+12 {
		return sum[:len("sha256:")+12]
	}
	return sum
}
