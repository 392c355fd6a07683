package auditlog

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"
)

// maxNoteRunes is how much of a note a table row shows.
const maxNoteRunes = 80

// TableHeader is the first line [WriteTableRow] rows go under.
func TableHeader() string {
	return tableLine("ID", "AT (UTC)", "MACHINE", "ENTITY", "TRANSITION", "FROM -> TO", "ACTOR", "CORRELATION", "NOTE")
}

// WriteTable writes entries as a table for people, under [TableHeader].
// It returns the writer's error.
func WriteTable(w io.Writer, entries []Entry) error {
	if _, err := fmt.Fprintln(w, TableHeader()); err != nil {
		return err
	}
	for _, e := range entries {
		if err := WriteTableRow(w, e); err != nil {
			return err
		}
	}
	return nil
}

// WriteTableRow writes one entry as a table row: fixed column widths, so
// rows written one at a time (bulwark log --follow) line up. Text from the
// log is shown with control and bidirectional-formatting characters
// replaced, so a note cannot move the cursor or reorder what a terminal
// shows; the note is cut at 80 characters (the JSON form has it whole).
func WriteTableRow(w io.Writer, e Entry) error {
	entity, corr := "-", "-"
	if e.EntityID != nil {
		entity = e.EntityID.String()
	}
	var actor string
	switch {
	case e.ActorName != nil:
		actor = *e.ActorName
	case e.ActorID != nil:
		actor = e.ActorID.String()
	default:
		// Maintenance and migrations: the login is who acted.
		actor = "(" + e.DBUser + ")"
	}
	if e.CorrelationID != nil {
		corr = *e.CorrelationID
	}
	move := deref(e.FromState, "") + " -> " + deref(e.ToState, "")
	if e.FromState == nil {
		move = "-> " + deref(e.ToState, "")
	}
	note := cut(deref(e.Note, ""), maxNoteRunes)
	_, err := fmt.Fprintln(w, tableLine(fmt.Sprint(e.ID), e.At.UTC().Format("2006-01-02 15:04:05"), e.Machine, entity,
		e.Transition, move, actor, corr, note))
	return err
}

var tableWidths = []int{6, 19, 10, 36, 14, 24, 12, 12, 0}

func tableLine(cells ...string) string {
	var b strings.Builder
	for i, c := range cells {
		c = printable(c)
		b.WriteString(c)
		if i < len(cells)-1 {
			b.WriteString(strings.Repeat(" ", max(tableWidths[i]-utf8.RuneCountInString(c), 0)+2))
		}
	}
	return strings.TrimRight(b.String(), " ")
}

// WriteJSONLine writes e as one line of JSON. It returns the writer's
// error.
func WriteJSONLine(w io.Writer, e Entry) error {
	return json.NewEncoder(w).Encode(e)
}

// printable replaces what a terminal would act on instead of showing.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s)
}

func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func deref(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}

// WriteText writes r for people: one row per problem, one row per
// acknowledged entity (its history checked from the acknowledgement, the
// reason cut at 80 characters), then a line per machine and a verdict. It
// returns the writer's error.
//
//	MACHINE  ENTITY                                LOG ROW  PROBLEM          DETAIL
//	article  0b4c2a1e-…                            17       unlogged_change  approve starts from in_review, but …
//
//	1 history checked from its acknowledgement (bulwark.history_acknowledge), not from creation:
//	MACHINE  ENTITY      AFTER LOG ROW  FROM STATE  FROM VERSION  ACKNOWLEDGED (UTC)   BY        REASON
//	article  5d0e9b3c-…  9              draft       3             2025-06-01 12:00:00  migrator  00007 changed the column type
//
//	article (app.articles): 12 entities, 57 log rows, 1 checked from an acknowledgement
//	FAIL: 2 problems in the history of database app: the log does not account for every write
func (r *CheckReport) WriteText(w io.Writer) error {
	if len(r.Problems) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MACHINE\tENTITY\tLOG ROW\tPROBLEM\tDETAIL")
		for _, p := range r.Problems {
			logID := "-"
			if p.LogID != 0 {
				logID = fmt.Sprint(p.LogID)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", printable(p.Machine), p.Entity, logID, p.Code, printable(p.Detail))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if _, err := fmt.Fprintln(w); err != nil {
			return err
		}
	}
	if err := r.writeAcknowledgements(w); err != nil {
		return err
	}
	for _, m := range r.Machines {
		acked := ""
		if m.Acknowledged > 0 {
			acked = fmt.Sprintf(", %d checked from an acknowledgement", m.Acknowledged)
		}
		if _, err := fmt.Fprintf(w, "%s (%s): %d entities, %d log rows%s\n", m.Machine, m.Table, m.Entities, m.LogRows, acked); err != nil {
			return err
		}
	}
	var err error
	switch {
	case r.OK:
		_, err = fmt.Fprintf(w, "ok: every entity's history replays to its row on database %s\n", r.Database)
	default:
		noun := "problems"
		if r.ProblemCount == 1 {
			noun = "problem"
		}
		shown := ""
		if len(r.Problems) < r.ProblemCount {
			shown = fmt.Sprintf(" (%d listed)", len(r.Problems))
		}
		_, err = fmt.Fprintf(w, "FAIL: %d %s%s in the history of database %s: the log does not account for every write\n",
			r.ProblemCount, noun, shown, r.Database)
	}
	return err
}

// textAcknowledgements bounds the acknowledged entities the text report
// lists.
const textAcknowledgements = 20

// writeAcknowledgements writes the acknowledged entities, if any: whoever
// reads an ok must see which histories it vouches for only in part.
func (r *CheckReport) writeAcknowledgements(w io.Writer) error {
	if r.AcknowledgementCount == 0 {
		return nil
	}
	noun := "histories"
	if r.AcknowledgementCount == 1 {
		noun = "history"
	}
	// A table rewrite acknowledges every row of the table, for good: the
	// text lists a few, the JSON up to CheckOpts.MaxAcknowledgements.
	list := r.Acknowledgements[:min(len(r.Acknowledgements), textAcknowledgements)]
	shown := ""
	if len(list) < r.AcknowledgementCount {
		shown = fmt.Sprintf(" (%d listed; the JSON report lists up to %d)", len(list), len(r.Acknowledgements))
	}
	if _, err := fmt.Fprintf(w, "%d %s checked from its acknowledgement (bulwark.history_acknowledge), not from creation%s:\n",
		r.AcknowledgementCount, noun, shown); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MACHINE\tENTITY\tAFTER LOG ROW\tFROM STATE\tFROM VERSION\tACKNOWLEDGED (UTC)\tBY\tREASON")
	for _, a := range list {
		logID := "-"
		if a.LogID != 0 {
			logID = fmt.Sprint(a.LogID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", printable(a.Machine), a.Entity, logID, printable(a.State), a.Version,
			a.AcknowledgedAt.UTC().Format("2006-01-02 15:04:05"), printable(a.DBUser), printable(cut(a.Reason, maxNoteRunes)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w)
	return err
}

// WriteJSON writes r as indented JSON. It returns the writer's error.
func (r *CheckReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
