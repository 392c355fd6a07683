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

	m, entity, s, v, row := invoiceFixture()
	run := func(ack *ackStart, rows []logRow, now current) []Problem {
		var got []Problem
		replay(m, entityHistory{ack: ack, entity: entity, now: now, rows: rows}, func(p Problem) { got = append(got, p) })
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
		{"SelfLoop", []logRow{row(1, "create", nil, s("open")), row(2, "pay", s("open"), s("paid")), row(3, "remind", s("paid"), s("paid"))},
			current{true, s("paid"), v(3)}, nil},
		// paid -> paid is an edge, but remind's, not void's.
		{"SelfLoopUnderAnotherName", []logRow{row(1, "create", nil, s("open")), row(2, "pay", s("open"), s("paid")), row(3, "void", s("paid"), s("paid"))},
			current{true, s("paid"), v(3)}, []string{ProblemWrongAction}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			got := run(nil, tc.history, tc.now)
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

// TestReplayAcknowledged covers a history replayed from an acknowledgement
// (bulwark verify's reading of bulwark.history_acknowledgements): the rows
// after it, from its state and version.
func TestReplayAcknowledged(t *testing.T) {
	t.Parallel()

	m, entity, s, v, row := invoiceFixture()
	// Acknowledged after log row 4, with the row open at version 5 (one
	// write more than the log has rows: the gap that was explained).
	ack := &ackStart{logID: 4, state: "open", version: 5}

	for _, tc := range []struct {
		name   string
		ack    *ackStart
		rows   []logRow
		now    current
		want   []string
		logIDs []int64
		detail string
	}{
		{name: "NothingSince", ack: ack, now: current{true, s("open"), v(5)}},
		{name: "LoggedSince", ack: ack, rows: []logRow{row(6, "amend", s("open"), s("open")), row(9, "pay", s("open"), s("paid"))},
			now: current{true, s("paid"), v(7)}},
		{name: "NoLogAtAllThenAcknowledged", ack: &ackStart{state: "open", version: 1},
			rows: []logRow{row(3, "pay", s("open"), s("paid"))}, now: current{true, s("paid"), v(2)}},
		{name: "LoggedDeleteSince", ack: ack, rows: []logRow{row(6, "maintenance_delete", s("open"), s("open"))}},
		{name: "UnloggedWriteSince", ack: ack, now: current{true, s("open"), v(6)},
			want: []string{ProblemVersionSkipped}, logIDs: []int64{4},
			detail: "the row is at version 6, but it was acknowledged at version 5 and 0 log rows record its writes since"},
		{name: "UnloggedChangeSince", ack: ack, rows: []logRow{row(6, "amend", s("open"), s("open"))}, now: current{true, s("paid"), v(6)},
			want: []string{ProblemUnloggedChange}, logIDs: []int64{6}, detail: "the row is in paid, but the last log row left it in open"},
		{name: "FirstRowStartsElsewhere", ack: ack, rows: []logRow{row(6, "amend", s("paid"), s("paid"))}, now: current{true, s("paid"), v(6)},
			want: []string{ProblemUnloggedChange}, logIDs: []int64{6},
			detail: "amend starts from paid, but the acknowledgement (bulwark.history_acknowledge) left it in open"},
		{name: "IllegalEdgeSince", ack: ack, rows: []logRow{row(6, "maintenance_update", s("open"), s("gone"))}, now: current{true, s("gone"), v(6)},
			want: []string{ProblemIllegalEdge}, logIDs: []int64{6}},
		{name: "CreatedAgainSince", ack: ack, rows: []logRow{row(6, "create", nil, s("open"))}, now: current{true, s("open"), v(1)},
			want: []string{ProblemWrongAction}, logIDs: []int64{6}},
		{name: "GoneSince", ack: ack, want: []string{ProblemMissingRow}, logIDs: []int64{4},
			detail: "the acknowledgement (bulwark.history_acknowledge) left it in open, but the row is gone"},
		{name: "NeverLoggedAndGone", ack: &ackStart{state: "open", version: 1}, want: []string{ProblemMissingRow}, logIDs: []int64{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			var got []Problem
			replay(m, entityHistory{ack: tc.ack, entity: entity, now: tc.now, rows: tc.rows}, func(p Problem) { got = append(got, p) })
			var codes []string
			var logIDs []int64
			for _, p := range got {
				codes = append(codes, p.Code)
				logIDs = append(logIDs, p.LogID)
				require.Equal(t, entity, p.Entity)
			}
			require.Equal(t, tc.want, codes, "%+v", got)
			require.Equal(t, tc.logIDs, logIDs)
			if tc.detail != "" {
				require.Contains(t, got[0].Detail, tc.detail)
			}
		})
	}
}

// invoiceFixture is the machine the replay tests use (paid -> paid is
// remind's self-loop), an entity of it, and
// helpers: s and v point at a state and a version, row makes a log row of
// the entity.
func invoiceFixture() (m *machineInfo, entity uuid.UUID, s func(string) *string, v func(int32) *int32, row func(int64, string, *string, *string) logRow) {
	m = &machineInfo{
		name:    "invoice",
		initial: "open",
		actions: map[string]string{"create": "create", "pay": "transition", "void": "transition", "amend": "update", "remind": "transition"},
		edges:   map[[2]string]string{{"open", "paid"}: "pay", {"open", "voided"}: "void", {"paid", "paid"}: "remind"},
	}
	entity = uuid.New()
	s = func(x string) *string { return &x }
	v = func(n int32) *int32 { return &n }
	row = func(id int64, transition string, from, to *string) logRow {
		return logRow{entity: entity, from: from, id: id, to: to, transition: transition}
	}
	return m, entity, s, v, row
}
