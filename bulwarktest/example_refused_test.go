package bulwarktest_test

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
)

// Example_refused tests a team's own domain, the notes of this package's
// testdata migrated beside the kit's (see TestMain): a writer creates a
// note through the team's transition function as the application's login,
// a reader without the role is refused by the database's capability check,
// and a direct write to the guarded table is refused and changes nothing.
// It runs against the real database, like a test.
func Example_refused() {
	ctx := context.Background()
	// Only for the example: an Example gets no *testing.T.
	t := bulwarktest.NewPanicTB()
	defer t.Close()

	dbURL := bulwarktest.NewDatabase(t)
	admin := bulwarktest.Pool(t, dbURL, nil)
	writer := bulwarktest.Principal(t, admin, "writer", "note_writer")
	reader := bulwarktest.Principal(t, admin, "reader")

	// The service's session: a login member of bulwark_app.
	app := bulwarktest.Pool(t, bulwarktest.LoginAs(t, dbURL, bulwarktest.RoleApp), nil)

	var id uuid.UUID
	var state string
	err := app.QueryRow(ctx, "SELECT id, state FROM notes.note_create($1, 'Hello', NULL)", writer).Scan(&id, &state)
	fmt.Println("writer creates a note:", state, err)

	_, err = app.Exec(ctx, "SELECT notes.note_create($1, 'Hello', NULL)", reader)
	e := bulwarktest.RequireLayer(t, db.InterpretError(err), fault.LayerPermission, fault.CodeMissingCapability)
	fmt.Println("reader creates a note:", e.Layer, e.Code)

	pgErr := bulwarktest.RequireRefused(t, app, "UPDATE notes.notes SET state = 'published'", "42501")
	fmt.Println("the service writes the table itself:", pgErr.Code, "and nothing changed")

	// Output:
	// writer creates a note: draft <nil>
	// reader creates a note: permission missing_capability
	// the service writes the table itself: 42501 and nothing changed
}
