package schema

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed core/*.sql articles/*.sql
var embedded embed.FS

// The built-in lines' names.
const (
	LineArticles = "articles"
	LineCore     = "core"
	LineRiver    = "river"
)

// The built-in lines' version tables, schema-qualified so that every
// session finds the same table whatever its search_path (a login whose
// search_path is empty would otherwise find none, or create one elsewhere).
// They live in schema public, not bulwark: rolling the core back to zero
// drops schema bulwark, and the version table must outlive it.
const (
	VersionTableArticles = "public.bulwark_articles_version"
	VersionTableCore     = "public.bulwark_core_version"
	VersionTableRiver    = "public.bulwark_river_version"
)

// DefaultVersionTable is goose's own default version table, where [Own]
// records a team's migrations unless told otherwise: a team that already
// runs goose keeps its table.
const DefaultVersionTable = "public.goose_db_version"

// DefaultOwnName is the name of a line made by [Own] without one.
const DefaultOwnName = "own"

// Line is one goose line of migrations with its own version table: bulwark's
// core, River's tables, the article domain, or a team's own (see the package
// documentation). Lines are values: the functions that make them return a
// new one each time, and nothing changes one after.
type Line struct {
	name         string
	versionTable string
	// fsys holds the line's SQL files at its root; nil for a line of Go
	// migrations only.
	fsys         fs.FS
	goMigrations []*goose.Migration
	// markers are the checksums of Go migrations, by version: what they
	// install, since they have no file to hash.
	markers  map[int64]string
	requires []string
}

// Core returns bulwark's core line: schema bulwark, recorded in
// [VersionTableCore]. Every database needs it, first.
func Core() *Line {
	return &Line{name: LineCore, versionTable: VersionTableCore, fsys: sub("core")}
}

// River returns the line that installs River's tables in schema river
// ([RiverSchema]), recorded in [VersionTableRiver]. Programs that run jobs
// (package jobs) need it. It requires [Core].
func River() *Line {
	return &Line{
		name:         LineRiver,
		versionTable: VersionTableRiver,
		goMigrations: []*goose.Migration{riverMigration()},
		markers:      map[int64]string{riverMigrationVersion: riverMarker},
		requires:     []string{LineCore},
	}
}

// Articles returns the reference article domain's line (schema app),
// recorded in [VersionTableArticles]: the demo, the bench and bulwark's own
// tests use it; a team's program does not need it. It requires [Core] and
// [River] (scheduled publishing queues River jobs).
func Articles() *Line {
	return &Line{
		name:         LineArticles,
		versionTable: VersionTableArticles,
		fsys:         sub("articles"),
		requires:     []string{LineCore, LineRiver},
	}
}

// Examples returns the lines bulwark's examples need, in order: [Core],
// [River] and [Articles]. The demo, the bench and bulwark's own tests
// migrate them; `bulwark migrate up --with-examples` does too.
func Examples() []*Line { return []*Line{Core(), River(), Articles()} }

// OwnOpts configures [Own]. A nil *OwnOpts means the defaults.
type OwnOpts struct {
	// GoMigrations are Go migrations of the line, besides its files (see
	// goose.NewGoMigration). Their recorded checksum is [ChecksumGo].
	GoMigrations []*goose.Migration

	// Name names the line in bulwark.migration_checksums and in messages:
	// lower-case letters, digits and underscores, at most 63, not a
	// built-in line's name. Empty means [DefaultOwnName]. Two lines of one
	// database need two names.
	Name string

	// RequiresRiver says that the line's migrations use River's tables:
	// [Up] then wants [River] before it.
	RequiresRiver bool

	// VersionTable is the line's goose version table, schema-qualified
	// (schema.table, lower-case). Empty means [DefaultVersionTable].
	VersionTable string
}

// lineNamePattern is what a line's name may be; bulwark.migration_checksums
// holds the same rule.
var lineNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// versionTablePattern is what a version table's name may be: goose puts it
// into its SQL unquoted.
var versionTablePattern = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}\.[a-z_][a-z0-9_]{0,62}$`)

// Own returns a team's own line of migrations: the goose SQL files at the
// root of fsys (os.DirFS("migrations"), an embed.FS through fs.Sub) and
// opts' Go migrations, recorded in opts' version table. The line requires
// [Core], and [River] if opts says so. It returns a [*LineError] for a bad
// name or version table, or one that a built-in line uses.
func Own(fsys fs.FS, opts *OwnOpts) (*Line, error) {
	var o OwnOpts
	if opts != nil {
		o = *opts
	}
	if o.Name == "" {
		o.Name = DefaultOwnName
	}
	if o.VersionTable == "" {
		o.VersionTable = DefaultVersionTable
	}
	if !lineNamePattern.MatchString(o.Name) {
		return nil, &LineError{Line: o.Name, Problem: "a line's name is lower-case letters, digits and underscores, at most 63"}
	}
	if !versionTablePattern.MatchString(o.VersionTable) {
		return nil, &LineError{Line: o.Name, Problem: fmt.Sprintf("version table %q is not schema.table in lower case", o.VersionTable)}
	}
	for _, b := range builtin() {
		if b.name == o.Name {
			return nil, &LineError{Line: o.Name, Problem: "the name of a built-in line"}
		}
		if b.versionTable == o.VersionTable {
			return nil, &LineError{Line: o.Name, Problem: fmt.Sprintf("version table %s is line %s's", o.VersionTable, b.name)}
		}
	}
	if fsys == nil && len(o.GoMigrations) == 0 {
		return nil, &LineError{Line: o.Name, Problem: "no migrations: neither files nor Go migrations"}
	}
	requires := []string{LineCore}
	if o.RequiresRiver {
		requires = append(requires, LineRiver)
	}
	return &Line{
		name:         o.Name,
		versionTable: o.VersionTable,
		fsys:         fsys,
		goMigrations: slices.Clone(o.GoMigrations),
		requires:     requires,
	}, nil
}

// builtin returns the built-in lines in the order they apply.
func builtin() []*Line { return Examples() }

// sub returns the embedded directory dir as a file system of its own.
func sub(dir string) fs.FS {
	fsys, err := fs.Sub(embedded, dir)
	if err != nil {
		// dir is a constant of this package, embedded above.
		panic(fmt.Sprintf("schema: embedded %s: %v", dir, err))
	}
	return fsys
}

// FS returns the line's SQL migration files, named with five-digit versions
// so that sqlc's lexicographic order matches goose's numeric order; nil for
// a line of Go migrations only (River).
func (l *Line) FS() fs.FS { return l.fsys }

// Name returns the line's name: "core", "river", "articles" or an own
// line's.
func (l *Line) Name() string { return l.name }

// Requires returns the names of the lines that must be applied before
// this one.
func (l *Line) Requires() []string { return slices.Clone(l.requires) }

// String returns the line's name and version table, for messages.
func (l *Line) String() string { return l.name + " (" + l.versionTable + ")" }

// VersionTable returns the line's goose version table, schema-qualified.
func (l *Line) VersionTable() string { return l.versionTable }

// NewProvider returns a goose provider over db for the line's migrations,
// recorded in its version table. It holds a PostgreSQL advisory lock while
// migrating, so several processes may run it at once against one database.
// Extra options (a logger, verbose output) are passed through to goose; a
// goose.WithStore option conflicts with the pinned table name and fails.
// Prefer [Up], [Down] and [Redo], which also keep the record verify reads.
//
// Every method of the provider, even Status, first creates the version
// table if it is missing: call [Line.Migrated] or [Status] where a read must
// not write.
func (l *Line) NewProvider(db *sql.DB, opts ...goose.ProviderOption) (*goose.Provider, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("create migration lock: %w", err)
	}
	p, err := l.newProvider(db, append([]goose.ProviderOption{goose.WithSessionLocker(locker)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("line %s: create migration provider: %w", l.name, err)
	}
	return p, nil
}

// newProvider is [Line.NewProvider] without the lock, returning goose's
// error as it is.
func (l *Line) newProvider(db *sql.DB, opts ...goose.ProviderOption) (*goose.Provider, error) {
	all := append([]goose.ProviderOption{
		goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(l.goMigrations...),
		goose.WithTableName(l.versionTable),
	}, opts...)
	return goose.NewProvider(goose.DialectPostgres, db, l.fsys, all...)
}

// Migrated reports whether the line was ever migrated in db, that is
// whether its version table exists, by asking the catalog: unlike a
// provider's methods, it never creates the table. It returns the query's
// error when the database cannot answer.
func (l *Line) Migrated(ctx context.Context, db *sql.DB) (bool, error) {
	var exists bool
	if err := db.QueryRowContext(ctx,
		`SELECT pg_catalog.to_regclass($1) IS NOT NULL`, l.versionTable,
	).Scan(&exists); err != nil {
		return false, fmt.Errorf("look up %s: %w", l.versionTable, err)
	}
	return exists, nil
}

// Check reports whether goose can take every migration of the line, without
// a database: a goose provider can be made of it (no two migrations share a
// version, the line has one at all) and every SQL file parses, Up and Down
// alike (it starts with `-- +goose Up`, each StatementBegin has its
// StatementEnd). It returns a [*MigrationFileError] naming the line and the
// file. [Up], [Redo] and [Reset] check every line they are given this way
// before they touch the database, so that a bad file in the last line
// leaves the first ones unapplied too.
func (l *Line) Check() error {
	// Making a provider and listing its migrations never connects; only
	// the dry runs of parse take a connection, which executes nothing.
	db := sql.OpenDB(dryRunConnector{})
	defer db.Close()
	p, err := l.newProvider(db)
	if err != nil {
		return &MigrationFileError{Line: l.name, File: l.sharedVersion(), Err: err}
	}
	sources := p.ListSources()
	for _, src := range sources {
		if src.Type != goose.TypeSQL {
			continue
		}
		if err := l.parse(db, src, sources); err != nil {
			return &MigrationFileError{Line: l.name, File: src.Path, Err: err}
		}
	}
	return nil
}

// parse has goose parse the SQL migration src, one of sources (the line's
// migrations), and returns goose's error if it cannot.
//
// goose's parser is internal to goose, but its provider parses every
// migration it is about to run, in both directions, before it runs any
// (so that a bad file leaves nothing half-applied). A provider of src
// alone, without a version table, run over db, whose connections refuse
// every statement and transaction, therefore parses src and applies
// nothing: a parse error comes back as such, a parsed file as
// errDryRun (or as no error at all when, outside a transaction, it has
// no statement to run).
func (l *Line) parse(db *sql.DB, src *goose.Source, sources []*goose.Source) error {
	var others []int64
	for _, s := range sources {
		if s.Version != src.Version {
			others = append(others, s.Version)
		}
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, l.fsys,
		goose.WithDisableGlobalRegistry(true),
		goose.WithDisableVersioning(true),
		goose.WithExcludeVersions(others),
	)
	if err != nil {
		return err
	}
	if _, err := p.Up(context.Background()); err != nil && !errors.Is(err, errDryRun) {
		return err
	}
	return nil
}

// sharedVersion returns the line's SQL file that has the version of an
// earlier one by name, or of one of its Go migrations, for naming in an
// error after goose refused the line; "" when no file does (the line has
// no migration at all, say). goose.NumericComponent reads the versions as
// goose does.
func (l *Line) sharedVersion() string {
	if l.fsys == nil {
		return ""
	}
	// fs.Glob lists in lexical order, as goose collects.
	names, err := fs.Glob(l.fsys, "*.sql")
	if err != nil {
		return ""
	}
	byVersion := make(map[int64]string)
	for _, name := range names {
		v, err := goose.NumericComponent(name)
		if err != nil {
			// goose skips a file without a version too.
			continue
		}
		if _, ok := byVersion[v]; ok {
			return name
		}
		byVersion[v] = name
	}
	for _, m := range l.goMigrations {
		if name, ok := byVersion[m.Version]; ok {
			return name
		}
	}
	return ""
}

// errDryRun is what a connection of [dryRunConnector] answers to every
// statement and transaction.
var errDryRun = errors.New("schema: a dry run executes nothing")

// dryRunConnector is a database/sql connector whose connections open but
// refuse every statement and transaction with errDryRun: goose may take
// one, and parse what it would run on it (see [Line.parse]), but can
// change nothing through it.
type dryRunConnector struct{}

func (dryRunConnector) Connect(context.Context) (driver.Conn, error) { return dryRunConn{}, nil }
func (c dryRunConnector) Driver() driver.Driver                      { return c }
func (dryRunConnector) Open(string) (driver.Conn, error)             { return dryRunConn{}, nil }

// dryRunConn is a connection of [dryRunConnector].
type dryRunConn struct{}

func (dryRunConn) Begin() (driver.Tx, error)           { return nil, errDryRun }
func (dryRunConn) Close() error                        { return nil }
func (dryRunConn) Prepare(string) (driver.Stmt, error) { return nil, errDryRun }
