package verify_test

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/bulwarkdb/bulwark/verify"
)

// Example_ci reads the JSON report that `bulwark verify --format json`
// prints, as a CI job would, and lists what to fix. An Example cannot get
// a database from the test harness (pgtest hands databases to a
// testing.TB), so this one starts from the report's text; verify.Run's
// report has the same shape (see the package documentation).
func Example_ci() {
	// Only for the example: what `bulwark verify --format json` printed
	// after someone ran ALTER TABLE app.articles DISABLE TRIGGER
	// bulwark_10_boundary (so writes skipped the write guard, the state
	// machine and the version).
	out := `{
	  "schema_version": 1,
	  "database": "app_production",
	  "ok": false,
	  "checks": [
	    {"name": "guard_triggers", "ok": false, "checked": 6, "objects": "triggers", "findings": [
	      {"object": "app.articles.bulwark_10_boundary",
	       "problem": "disabled: it does not fire",
	       "fix": "ALTER TABLE app.articles ENABLE TRIGGER bulwark_10_boundary"}]},
	    {"name": "append_only", "ok": true, "checked": 2, "objects": "triggers", "findings": []}
	  ]
	}`

	var report verify.Report
	if err := json.NewDecoder(strings.NewReader(out)).Decode(&report); err != nil {
		fmt.Println(err)
		return
	}
	if report.SchemaVersion != verify.SchemaVersion {
		fmt.Println("unknown report schema", report.SchemaVersion)
		return
	}
	fmt.Println("boundary holds:", report.OK)
	for _, c := range report.Checks {
		for _, f := range c.Findings {
			fmt.Printf("%s %s: %s\n", c.Name, f.Object, f.Fix)
		}
	}

	// Output:
	// boundary holds: false
	// guard_triggers app.articles.bulwark_10_boundary: ALTER TABLE app.articles ENABLE TRIGGER bulwark_10_boundary
}
