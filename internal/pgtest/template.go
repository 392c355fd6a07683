package pgtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

const (
	// templateLockKey is the advisory lock that serializes building
	// templates, in the maintenance database: ASCII "bulwarkT".
	templateLockKey int64 = 0x62756c776172_6b54

	// templatePrefix starts every template's name; the rest is a hash of
	// the migration's key.
	templatePrefix = "bulwark_tmpl_"

	// sqlstateObjectInUse is object_in_use (55006): a database has
	// sessions that a rename or a clone must not have.
	sqlstateObjectInUse = "55006"
)

// schemaHash returns a short hash of the migration files' names and
// contents.
func schemaHash(fsys fs.FS) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		// NUL separates name from content and files from each other, so
		// moving bytes across a boundary changes the hash.
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(raw))
		h.Write(raw)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash migrations: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// ensureTemplate returns the name of the template database that m
// builds, building it if the server lacks it. adminURL is a superuser URL
// of the maintenance database.
func ensureTemplate(ctx context.Context, adminURL string, m *Migration) (string, error) {
	name, err := m.templateName()
	if err != nil {
		return "", err
	}

	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connect to maintenance database: %w", err)
	}
	defer conn.Close(context.Background()) // also drops the advisory lock

	if ok, err := templateExists(ctx, conn, name); err != nil || ok {
		return name, err
	}

	// Processes racing to build the template wait here; the loser finds
	// it built. Advisory locks are per database, so every process must
	// take it in the same one: the maintenance database of the same URL.
	if _, err := conn.Exec(ctx, "SELECT pg_catalog.pg_advisory_lock($1)", templateLockKey); err != nil {
		return "", fmt.Errorf("lock template build: %w", err)
	}
	if ok, err := templateExists(ctx, conn, name); err != nil || ok {
		return name, err
	}

	if err := buildTemplate(ctx, conn, adminURL, name, m); err != nil {
		return "", fmt.Errorf("build template %s: %w", name, err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_catalog.pg_advisory_unlock($1)", templateLockKey); err != nil {
		return "", fmt.Errorf("unlock template build: %w", err)
	}
	return name, nil
}

// buildTemplate migrates a database under a temporary name and renames it
// to name only when complete, so that a template that exists is whole even
// if a builder died halfway.
func buildTemplate(ctx context.Context, conn *pgx.Conn, adminURL, name string, m *Migration) error {
	build := name + "_build"

	// A builder that died halfway left this behind.
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(build)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop leftover database: %w", err)
	}
	// template0, not template1, so that whatever a shared server keeps in
	// template1 does not leak into the tests.
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident(build)+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		return fmt.Errorf("create database: %w", err)
	}

	buildURL, err := databaseURL(adminURL, build)
	if err != nil {
		return err
	}
	if err := migrate(ctx, buildURL, m); err != nil {
		return err
	}

	// No sessions from now on: a clone fails while anyone, autovacuum
	// included, is connected to its template.
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+ident(build)+" ALLOW_CONNECTIONS false"); err != nil {
		return fmt.Errorf("close database to connections: %w", err)
	}
	err = retryInUse(ctx, func() error {
		_, err := conn.Exec(ctx, "ALTER DATABASE "+ident(build)+" RENAME TO "+ident(name))
		return err
	})
	if err != nil {
		return fmt.Errorf("rename database: %w", err)
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+ident(name)+" IS_TEMPLATE true"); err != nil {
		return fmt.Errorf("mark database as template: %w", err)
	}
	return nil
}

// migrate runs m in the database at dbURL.
func migrate(ctx context.Context, dbURL string, m *Migration) error {
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return fmt.Errorf("parse database URL: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()

	if err := m.MigrateFunc(ctx, db); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// templateExists reports whether the template database name exists.
func templateExists(ctx context.Context, conn *pgx.Conn, name string) (bool, error) {
	var ok bool
	err := conn.QueryRow(ctx,
		"SELECT EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = $1 AND datistemplate)",
		name,
	).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("look up template %s: %w", name, err)
	}
	return ok, nil
}

// retryInUse calls f until it does not fail with object_in_use, for at
// most ten seconds: sessions that just closed may linger in the server for a
// moment.
func retryInUse(ctx context.Context, f func() error) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		err := f()
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != sqlstateObjectInUse {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ident quotes a name for SQL.
func ident(name string) string { return pgx.Identifier{name}.Sanitize() }
