package expenses_test

import (
	"testing"

	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/examples/expenses"
	"github.com/bulwarkdb/bulwark/sql/schema"
)

// TestMain runs the tests on a template database with bulwark's core and
// the domain's own migration line, as the domain's deployment migrates
// them: built once per server and named after the lines' checksums.
func TestMain(m *testing.M) {
	bulwarktest.Main(m, &bulwarktest.MainOpts{Lines: []*schema.Line{schema.Core(), expenses.Line()}})
}
