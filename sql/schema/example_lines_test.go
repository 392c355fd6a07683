package schema_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"testing/fstest"

	"github.com/bulwarkdb/bulwark/internal/pgtest"
	"github.com/bulwarkdb/bulwark/sql/schema"
)

// Example_lines migrates bulwark's core and a team's own line of
// migrations into an empty database, then shows that the article domain
// cannot be had without River.
func Example_lines() {
	ctx := context.Background()
	db, done := exampleDB() // Only for the example: an empty database from the test harness.
	defer done()

	// A team's migrations: usually os.DirFS("migrations") or an embed.FS.
	// They are recorded in goose's own public.goose_db_version.
	own, err := schema.Own(fstest.MapFS{
		"00001_notes.sql": {Data: []byte(`-- +goose Up
CREATE TABLE public.notes (id bigint PRIMARY KEY, body text NOT NULL);
-- +goose Down
DROP TABLE public.notes;
`)},
	}, nil)
	if err != nil {
		panic(err)
	}

	results, err := schema.Up(ctx, db, schema.Core(), own)
	if err != nil {
		panic(err)
	}
	for _, r := range results {
		if r.Line == own.Name() {
			fmt.Println(r.Direction, r.Line, r.Source.Path)
		}
	}

	_, err = schema.Up(ctx, db, schema.Core(), schema.Articles())
	fmt.Println(err)

	// Output:
	// up own 00001_notes.sql
	// schema: line articles requires line river before it
}

// exampleDB returns an empty database of the test harness and a function
// that drops it, for an Example: the harness wants a testing.TB, which an
// Example has not, so a failure panics.
func exampleDB() (*sql.DB, func()) {
	tb := &panicTB{}
	// "pgx": the driver of github.com/jackc/pgx/v5/stdlib.
	db, err := sql.Open("pgx", pgtest.EmptyDatabase(tb))
	if err != nil {
		panic(err)
	}
	return db, func() {
		_ = db.Close()
		for _, f := range tb.cleanups {
			defer f()
		}
	}
}

// panicTB is the part of testing.TB that the harness uses, panicking on
// failure.
type panicTB struct {
	testing.TB
	cleanups []func()
}

func (*panicTB) Helper()                           {}
func (tb *panicTB) Cleanup(f func())               { tb.cleanups = append(tb.cleanups, f) }
func (*panicTB) Errorf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (*panicTB) FailNow()                          { panic("failed") }
