package scaffold_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/internal/pgtest"
	"github.com/bulwarkdb/bulwark/scaffold"
)

// TestWrite: files that exist are refused, all of them named and none
// written, unless forced.
func TestWrite(t *testing.T) {
	t.Parallel()

	dir := t.TempDir()
	files := []scaffold.File{
		{Path: "migrations/00001_x.sql", Data: []byte("new migration")},
		{Path: "queries/x.sql", Data: []byte("new queries")},
	}
	written, err := scaffold.Write(dir, files, nil)
	require.NoError(t, err)
	require.Equal(t, []string{filepath.Join(dir, "migrations", "00001_x.sql"), filepath.Join(dir, "queries", "x.sql")}, written)

	// One edited by hand, one removed: the edit is kept, and the missing
	// one is not written either.
	edited := filepath.Join(dir, "migrations", "00001_x.sql")
	require.NoError(t, os.WriteFile(edited, []byte("extended by hand"), 0o644))
	require.NoError(t, os.Remove(filepath.Join(dir, "queries", "x.sql")))
	_, err = scaffold.Write(dir, files, &scaffold.WriteOpts{})
	require.ErrorIs(t, err, scaffold.ErrExists)
	var exists *scaffold.ExistsError
	require.True(t, errors.As(err, &exists))
	require.Equal(t, []string{edited}, exists.Paths)
	raw, err := os.ReadFile(edited)
	require.NoError(t, err)
	require.Equal(t, "extended by hand", string(raw))
	require.NoFileExists(t, filepath.Join(dir, "queries", "x.sql"))

	_, err = scaffold.Write(dir, files, &scaffold.WriteOpts{Force: true})
	require.NoError(t, err)
	raw, err = os.ReadFile(edited)
	require.NoError(t, err)
	require.Equal(t, "new migration", string(raw))
}

// TestQualifiers holds the generator's copy of the qualifier words to the
// table the core seeds, which the database and the Go registry read.
func TestQualifiers(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.NewDatabase(t))
	require.NoError(t, err)
	defer conn.Close(ctx)
	var words []string
	require.NoError(t, conn.QueryRow(ctx,
		`SELECT pg_catalog.array_agg(word ORDER BY word COLLATE "C") FROM bulwark.capability_qualifiers`).Scan(&words))
	require.Equal(t, words, scaffold.Qualifiers())
}
