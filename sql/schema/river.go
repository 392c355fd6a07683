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

	// riverVersion is the River schema version that the River line's
	// migration 1 installs. It is pinned so that a River upgrade never
	// changes what an applied migration did; an upgrade that brings River
	// migrations adds a Go migration to the line that migrates River to the
	// new version.
	riverVersion = 8

	riverMigrationVersion = 1

	// riverGrantsRevision counts changes to what migration 1 grants on
	// River's tables and declares, so that its recorded checksum changes
	// with them. Revision 4: the application roles and PUBLIC hold nothing
	// in schema river; bulwark_owner may queue jobs for the kit's SQL
	// functions. Revision 6: River's line declares River's helper callable
	// itself (the core names no River object).
	riverGrantsRevision = 6
)

// riverMarker is the checksum recorded for the River line's migration: what
// it installs, since it has no file to hash.
var riverMarker = fmt.Sprintf("go:river-schema-%d-grants-%d", riverVersion, riverGrantsRevision)

// riverCallable is River's own helper that its job runners' queries call,
// declared callable so that bulwark verify can tell it from a door nobody
// declared.
const riverCallable = "river.river_job_state_in_bitmask(bit, river.river_job_state)"

// riverMigration installs River's tables in schema river with River's own
// migrator, and Down removes them. It runs outside a goose transaction
// because River commits between some of its migrations (a new enum value
// must be committed before it is used); River records its own versions, so
// a run that stopped half-way resumes. River's tables are not guarded
// data, but they are a door: a job row is an order to act as a service
// principal. Only job runners (bulwark_jobs) reach them, with the DML River
// needs to work jobs; the application roles and PUBLIC get nothing in
// schema river. Applications queue work through the kit's SQL functions,
// which insert River's job rows as bulwark_owner.
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
		// PostgreSQL grants EXECUTE on new functions to PUBLIC.
		`REVOKE ALL ON ALL FUNCTIONS IN SCHEMA river FROM PUBLIC`,
		`GRANT USAGE ON SCHEMA river TO bulwark_jobs`,
		// Job runners work River's tables: fetch, lock, complete, elect a
		// leader, clean up. No TRUNCATE, REFERENCES or TRIGGER.
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA river TO bulwark_jobs`,
		`GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA river TO bulwark_jobs`,
		`GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA river TO bulwark_jobs`,
		// The kit's enqueue function runs as bulwark_engine (it runs inside
		// the schedule's engine), which owns nothing here: River's migrator
		// made the tables as this session. bulwark_owner reads them for the
		// reconciler.
		`GRANT USAGE ON SCHEMA river TO bulwark_engine`,
		`GRANT SELECT, INSERT ON river.river_job TO bulwark_engine, bulwark_owner`,
		`GRANT USAGE ON SEQUENCE river.river_job_id_seq TO bulwark_engine, bulwark_owner`,
		// An insert evaluates the predicate of River's unique index.
		`GRANT EXECUTE ON FUNCTION `+riverCallable+` TO bulwark_engine, bulwark_owner`,
		// As the owner, like a migration: declarations are the owner's.
		`SET LOCAL ROLE bulwark_owner`,
		`SELECT bulwark.declare_callable('`+riverCallable+`', NULL, 'River''s own helper, which its job runners'' queries call.')`,
	)
}

func riverDown(ctx context.Context, db *sql.DB) error {
	// The declaration names River's function by OID: it goes first. The
	// core is there (its Down waits for River's).
	if err := inTx(ctx, db,
		`SET LOCAL ROLE bulwark_owner`,
		`SELECT bulwark.undeclare_callable(p.oid::regprocedure)
		 FROM pg_catalog.pg_proc AS p
		 WHERE p.oid = pg_catalog.to_regprocedure('`+riverCallable+`')`,
	); err != nil {
		return err
	}
	migrator, err := riverMigrator(db)
	if err != nil {
		return err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionDown, &rivermigrate.MigrateOpts{TargetVersion: -1}); err != nil {
		return fmt.Errorf("migrate river down: %w", err)
	}
	return inTx(ctx, db, `DROP SCHEMA IF EXISTS river`)
}
