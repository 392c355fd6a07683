package bulwarktest_test

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"testing"

	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/sql/schema"
)

// notesFS holds the team's own migrations: the notes domain.
//
//go:embed testdata/notes/*.sql
var notesFS embed.FS

// notesVersionTable is the notes line's own goose version table, beside
// the core's.
const notesVersionTable = "public.notes_version"

// TestMain wires the kit as a team would: the core's line, then its own.
func TestMain(m *testing.M) {
	notes, err := notesLine()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	bulwarktest.Main(m, &bulwarktest.MainOpts{Lines: []*schema.Line{schema.Core(), notes}})
}

// notesLine returns the notes domain's migration line.
func notesLine() (*schema.Line, error) {
	fsys, err := fs.Sub(notesFS, "testdata/notes")
	if err != nil {
		return nil, err
	}
	return schema.Own(fsys, &schema.OwnOpts{Name: "notes", VersionTable: notesVersionTable})
}
