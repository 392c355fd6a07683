package pgtest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/bulwarkdb/bulwark/sql/schema"
)

// Config says which server a test process uses and what its template
// database holds. The zero value means DATABASE_URL or the shared
// throwaway cluster, and bulwark's own migrations ([schema.Up]).
type Config struct {
	// Language, if not empty, is the language the server speaks (see
	// [MainLanguage]).
	Language string
	// Migration builds the template database; nil means bulwark's own
	// migrations.
	Migration *Migration
}

// Migration is how a template database is built, and what it is called.
type Migration struct {
	// Key names what Func installs: the template is named after its hash,
	// built once per server and reused while the key stays the same. It
	// must change whenever what Func installs changes.
	Key string
	// MigrateFunc migrates db, an empty database created from template0,
	// connected as the migration role with the default search_path.
	MigrateFunc func(ctx context.Context, db *sql.DB) error
}

// errNoMigration reports a Migration that names no key or no function.
var errNoMigration = errors.New("pgtest: a migration needs a Key and a MigrateFunc")

// templateName returns the name of m's template database.
func (m *Migration) templateName() (string, error) {
	if m == nil || m.Key == "" || m.MigrateFunc == nil {
		return "", errNoMigration
	}
	h := sha256.Sum256([]byte(m.Key))
	return templatePrefix + hex.EncodeToString(h[:])[:12], nil
}

// KitMigration returns the Migration of bulwark's own tests: the lines
// [schema.Examples] (the core, River and the article domain); see
// [LinesMigration].
func KitMigration() (*Migration, error) {
	return LinesMigration(schema.Examples()...)
}

// LinesMigration returns the Migration that applies lines in order with
// [schema.Up], keyed by each line's name and version table, a hash of its
// files, and the checksums recorded for its Go migrations (which have no
// file). It fails if a line's files cannot be read.
func LinesMigration(lines ...*schema.Line) (*Migration, error) {
	key := sha256.New()
	for _, l := range lines {
		fmt.Fprintf(key, "%s\x00%s\x00", l.Name(), l.VersionTable())
		if l.FS() != nil {
			hash, err := schemaHash(l.FS())
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(key, "%s\x00", hash)
		}
		sums, err := l.Checksums()
		if err != nil {
			return nil, err
		}
		for _, s := range sums {
			fmt.Fprintf(key, "\x00%s/%d=%s", s.Line, s.Version, s.Sum)
		}
		fmt.Fprint(key, "\x00\x00")
	}
	return &Migration{
		Key: "lines:" + hex.EncodeToString(key.Sum(nil)),
		MigrateFunc: func(ctx context.Context, db *sql.DB) error {
			// schema.Up, not the providers' Up: it also records the
			// migrations' checksums, which bulwark verify compares with
			// the files.
			_, err := schema.Up(ctx, db, lines...)
			return err
		},
	}, nil
}

// migration returns the Migration that builds c's template.
func (c Config) migration() (*Migration, error) {
	if c.Migration == nil {
		return KitMigration()
	}
	if _, err := c.Migration.templateName(); err != nil {
		return nil, err
	}
	return c.Migration, nil
}
