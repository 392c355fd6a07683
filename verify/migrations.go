package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/bulwarkdb/bulwark/sql/schema"
)

// migrationLine is one line the migrations check compares: its migrations
// as the binary (or the caller's directory) has them.
type migrationLine struct {
	line *schema.Line
	sums []schema.Checksum
	// required lines must have their version table; the optional ones
	// (River's, the articles') are checked when they have one.
	required bool
}

// migrationLines returns the lines to check: the core's, River's and the
// articles' as the binary embeds them, then extra, which replace a
// built-in line of the same name.
func migrationLines(extra []*schema.Line) ([]migrationLine, error) {
	var lines []migrationLine
	add := func(l *schema.Line, required bool) error {
		sums, err := l.Checksums()
		if err != nil {
			return fmt.Errorf("list migrations: %w", err)
		}
		lines = append(lines, migrationLine{line: l, sums: sums, required: required})
		return nil
	}
	given := make(map[string]bool)
	for _, l := range extra {
		if l == nil {
			return nil, errors.New("verify: Opts.Lines holds a nil line")
		}
		given[l.Name()] = true
	}
	for _, l := range []*schema.Line{schema.Core(), schema.River(), schema.Articles()} {
		if !given[l.Name()] {
			if err := add(l, l.Name() == schema.LineCore); err != nil {
				return nil, err
			}
		}
	}
	for _, l := range extra {
		if err := add(l, true); err != nil {
			return nil, err
		}
	}
	return lines, nil
}

// checkMigrations compares the migrations the database applied, line by
// line, with those the binary (or the caller's directory) knows: an
// applied migration whose file changed since it was applied, or one the
// line does not know, means the schema is not what the migrations in hand
// describe.
func (s *session) checkMigrations(ctx context.Context, c *Check) error {
	names := make([]string, 0, len(s.lines))
	for _, ml := range s.lines {
		names = append(names, ml.line.Name())
		if err := s.checkLine(ctx, c, ml); err != nil {
			return err
		}
	}
	// A line the database recorded but verify was not given: a check that
	// forgot --migrations would never look at its files.
	var recorded bool
	if err := s.tx.QueryRow(ctx, `SELECT pg_catalog.to_regclass('bulwark.migration_checksums') IS NOT NULL`).Scan(&recorded); err != nil {
		return err
	}
	if !recorded {
		return nil
	}
	rows, err := s.tx.Query(ctx, `
		SELECT DISTINCT m.line FROM bulwark.migration_checksums AS m
		WHERE m.line <> ALL ($1::text[])
		ORDER BY 1`, names)
	if err != nil {
		return err
	}
	others, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, line := range others {
		c.Checked++
		c.fail("line "+line, "migrated here, but verify was not given its migrations: their files are not checked",
			"name them: bulwark verify --migrations DIR --line-name "+line+" (or verify.Opts.Lines)")
	}
	return nil
}

// checkLine is [session.checkMigrations] for one line.
func (s *session) checkLine(ctx context.Context, c *Check, ml migrationLine) error {
	l := ml.line
	var exists bool
	if err := s.tx.QueryRow(ctx, `SELECT pg_catalog.to_regclass($1) IS NOT NULL`, l.VersionTable()).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		if ml.required {
			c.fail(l.VersionTable(), fmt.Sprintf("missing: there is no telling which migrations of line %s ran", l.Name()),
				"verify the database that bulwark migrate up migrated, with the migrations and version table that migrated it")
		}
		return nil
	}
	table := pgx.Identifier(strings.Split(l.VersionTable(), ".")).Sanitize()
	// goose keeps a row per apply; the newest row of a version says
	// whether it is applied now.
	rows, err := s.tx.Query(ctx, `
		SELECT v.version_id, m.checksum
		FROM (
		    SELECT DISTINCT ON (g.version_id) g.version_id, g.is_applied
		    FROM `+table+` AS g
		    ORDER BY g.version_id, g.id DESC
		) AS v
		LEFT JOIN bulwark.migration_checksums AS m ON m.line = $1 AND m.version = v.version_id
		WHERE v.is_applied
		  AND v.version_id > 0
		ORDER BY 1`, l.Name())
	if err != nil {
		return err
	}
	known := make(map[int64]schema.Checksum, len(ml.sums))
	for _, m := range ml.sums {
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
			c.fail(fmt.Sprintf("%s version %d", l.Name(), version), "applied, but the line's migrations in hand do not have it (a newer binary, another branch or another migrations directory applied it)",
				"verify with the migrations that applied it, or roll the version back with them")
			return nil
		}
		object := l.Name() + "/" + m.Path
		if m.Path == "" {
			object = fmt.Sprintf("%s version %d", l.Name(), version)
		}
		switch {
		case recorded == nil:
			c.fail(object, "applied, but no checksum was recorded (migrated by goose without schema.Up?)",
				"run bulwark migrate up with the same lines, which records the checksums of applied migrations")
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
