package verify

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteText writes r as a table, one row per passed check and one per
// finding, then a summary line:
//
//	CHECK           STATUS  OBJECT                            PROBLEM                     FIX
//	guard_triggers  FAIL    app.articles.bulwark_10_boundary  disabled: it does not fire  ALTER TABLE app.articles ENABLE TRIGGER bulwark_10_boundary
//	append_only     ok      2 triggers
//
// It returns the writer's error.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSTATUS\tOBJECT\tPROBLEM\tFIX")
	failed, problems := 0, 0
	for _, c := range r.Checks {
		if c.OK {
			fmt.Fprintf(tw, "%s\tok\t%d %s\n", c.Name, c.Checked, c.Objects)
			continue
		}
		failed++
		for _, f := range c.Findings {
			problems++
			fmt.Fprintf(tw, "%s\tFAIL\t%s\t%s\t%s\n", c.Name, f.Object, f.Problem, f.Fix)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var err error
	if failed == 0 {
		_, err = fmt.Fprintf(w, "\nok: all %d checks passed on database %s\n", len(r.Checks), r.Database)
	} else {
		noun := "problems"
		if problems == 1 {
			noun = "problem"
		}
		_, err = fmt.Fprintf(w, "\nFAIL: %d of %d checks failed with %d %s on database %s: the enforcement boundary has drifted\n",
			failed, len(r.Checks), problems, noun, r.Database)
	}
	return err
}

// WriteJSON writes r as indented JSON in the schema the package
// documentation describes. It returns the writer's error.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
