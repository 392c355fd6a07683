package auditlog

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// TestReplay covers the gaps a database cannot be made to show without
// forging history (the log refuses direct writes): declarations that
// changed under an existing history.
func TestReplay(t *testing.T) {
	t.Parallel()

	m := &machineInfo{
		name:    "invoice",
		initial: "open",
		actions: map[string]string{"create": "create", "pay": "transition", "void": "transition", "amend": "update"},
		edges:   map[[2]string]string{{"open", "paid"}: "pay", {"open", "voided"}: "void"},
	}
	entity := uuid.New()
	s := func(v string) *string { return &v }
	v := func(n int32) *int32 { return &n }
	row := func(id int64, transition string, from, to *string) logRow {
		return logRow{entity: entity, from: from, id: id, to: to, transition: transition}
	}
	run := func(history []logRow, now current) []Problem {
		var got []Problem
		replay(m, history, now, func(p Problem) { got = append(got, p) })
		return got
	}
	codesOf := func(ps []Problem) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Code)
		}
		return out
	}

	for _, tc := range []struct {
		name    string
		history []logRow
		now     current
		want    []string
	}{
		{"Clean", []logRow{row(1, "create", nil, s("open")), row(2, "amend", s("open"), s("open")), row(3, "pay", s("open"), s("paid"))},
			current{true, s("paid"), v(3)}, nil},
		{"MaintenanceKeepsToTheMachine", []logRow{row(1, "maintenance_insert", nil, s("open")), row(2, "maintenance_update", s("open"), s("voided"))},
			current{true, s("voided"), v(2)}, nil},
		{"LoggedDeleteThenGone", []logRow{row(1, "create", nil, s("open")), row(2, "maintenance_delete", s("open"), s("open"))},
			current{}, nil},
		{"UnknownAction", []logRow{row(1, "create", nil, s("open")), row(2, "refund", s("open"), s("paid"))},
			current{true, s("paid"), v(2)}, []string{ProblemWrongAction}},
		{"ActionNamesAnotherEdge", []logRow{row(1, "create", nil, s("open")), row(2, "void", s("open"), s("paid"))},
			current{true, s("paid"), v(2)}, []string{ProblemWrongAction}},
		{"UpdateMovedTheState", []logRow{row(1, "create", nil, s("open")), row(2, "amend", s("open"), s("paid"))},
			current{true, s("paid"), v(2)}, []string{ProblemWrongAction}},
		{"TransitionThatDidNotMove", []logRow{row(1, "create", nil, s("open")), row(2, "pay", s("open"), s("open"))},
			current{true, s("open"), v(2)}, []string{ProblemWrongAction}},
		{"CreatedByAnotherAction", []logRow{row(1, "pay", nil, s("open"))},
			current{true, s("open"), v(1)}, []string{ProblemWrongAction}},
		{"CreatedOutsideTheInitialState", []logRow{row(1, "maintenance_insert", nil, s("paid"))},
			current{true, s("paid"), v(1)}, []string{ProblemIllegalEdge}},
		{"CreatedTwice", []logRow{row(1, "create", nil, s("open")), row(2, "create", nil, s("open"))},
			current{true, s("open"), v(1)}, []string{ProblemWrongAction}},
		{"HistoryStartsMidway", []logRow{row(5, "pay", s("open"), s("paid"))},
			current{true, s("paid"), v(7)}, []string{ProblemNoCreation}},
		{"BackAfterALoggedDelete", []logRow{row(1, "create", nil, s("open")), row(2, "maintenance_delete", s("open"), s("open"))},
			current{true, s("open"), v(1)}, []string{ProblemNoCreation}},
		{"UpdatedAfterALoggedDelete", []logRow{row(1, "create", nil, s("open")), row(2, "maintenance_delete", s("open"), s("open")),
			row(3, "maintenance_update", s("open"), s("open"))}, current{true, s("open"), v(1)}, []string{ProblemNoCreation}},
		{"GoneUnlogged", []logRow{row(1, "create", nil, s("open"))}, current{}, []string{ProblemMissingRow}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			got := run(tc.history, tc.now)
			require.Equal(t, tc.want, codesOf(got), "%+v", got)
			for _, p := range got {
				require.Equal(t, entity, p.Entity)
				require.Equal(t, "invoice", p.Machine)
				require.NotZero(t, p.LogID)
				require.NotEmpty(t, p.Detail)
			}
		})
	}
}
