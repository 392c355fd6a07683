package schema

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"
)

const (
	// RiverSchema is the schema that holds River's tables. Job clients set
	// river.Config.Schema to it.
	RiverSchema = "river"

	// riverVersion is the River schema version that migration 3 installs.
	// It is pinned so that a River upgrade never changes what an applied
	// migration did; an upgrade that brings River migrations adds a goose
	// migration that migrates River to the new version.
	riverVersion = 8

	riverMigrationVersion = 3

	// riverGrantsRevision counts changes to what migration 3 grants on
	// River's tables, so that its recorded checksum changes with them.
	riverGrantsRevision = 3
)

// goMigrationMarkers are the checksums recorded for Go migrations: what
// they install, since they have no file to hash.
var goMigrationMarkers = map[int64]string{
	riverMigrationVersion: fmt.Sprintf("go:river-schema-%d-grants-%d", riverVersion, riverGrantsRevision),
}

// riverMigration installs River's tables in schema river with River's own
// migrator, so `bulwark migrate up` brings everything and Down removes it.
// It runs outside a goose transaction because River commits between some of
// its migrations (a new enum value must be committed before it is used);
// River records its own versions, so a run that stopped half-way resumes.
// River's tables are not guarded data: the application and job roles get
// DML on them (to enqueue and to work jobs) and nothing more anywhere else.
func riverMigration() *goose.Migration {
	return goose.NewGoMigration(riverMigrationVersion,
		&goose.GoFunc{RunDB: riverUp},
		&goose.GoFunc{RunDB: riverDown},
	)
}

func riverMigrator(db *sql.DB) (*rivermigrate.Migrator[*sql.Tx], error) {
	return rivermigrate.New(riverdatabasesql.New(db), &rivermigrate.Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Schema: RiverSchema,
	})
}

// inTx runs statements in one transaction.
func inTx(ctx context.Context, db *sql.DB, stmts ...string) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	for _, stmt := range stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return tx.Commit()
}

func riverUp(ctx context.Context, db *sql.DB) error {
	if err := inTx(ctx, db,
		`CREATE SCHEMA IF NOT EXISTS river AUTHORIZATION bulwark_owner`,
		`REVOKE ALL ON SCHEMA river FROM PUBLIC`,
	); err != nil {
		return err
	}
	migrator, err := riverMigrator(db)
	if err != nil {
		return err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, &rivermigrate.MigrateOpts{TargetVersion: riverVersion}); err != nil {
		return fmt.Errorf("migrate river up: %w", err)
	}
	return inTx(ctx, db,
		`GRANT USAGE ON SCHEMA river TO bulwark_app, bulwark_jobs`,
		// Job runners work River's tables: fetch, lock, complete, elect a
		// leader, clean up.
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA river TO bulwark_jobs`,
		`GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA river TO bulwark_jobs`,
		`GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA river TO bulwark_jobs`,
		// Services only enqueue: no leader election, no deleting or
		// rescheduling others' jobs.
		`GRANT SELECT, INSERT ON river.river_job TO bulwark_app`,
		// River's unique insert returns the existing row with
		// ON CONFLICT DO UPDATE SET kind = river_job.kind: a no-op, but it
		// needs UPDATE on that column, and only that one.
		`GRANT UPDATE (kind) ON river.river_job TO bulwark_app`,
		`GRANT USAGE ON ALL SEQUENCES IN SCHEMA river TO bulwark_app`,
		`GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA river TO bulwark_app`,
	)
}

func riverDown(ctx context.Context, db *sql.DB) error {
	migrator, err := riverMigrator(db)
	if err != nil {
		return err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionDown, &rivermigrate.MigrateOpts{TargetVersion: -1}); err != nil {
		return fmt.Errorf("migrate river down: %w", err)
	}
	return inTx(ctx, db, `DROP SCHEMA IF EXISTS river`)
}
