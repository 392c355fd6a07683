package auditlog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/auditlog"
)

// codes returns the problems' codes for entity, in report order.
func codes(r *auditlog.CheckReport, entity uuid.UUID) []string {
	var out []string
	for _, p := range r.Problems {
		if p.Entity == entity {
			out = append(out, p.Code)
		}
	}
	return out
}

func (b *testBundle) check(t *testing.T, opts *auditlog.CheckOpts) *auditlog.CheckReport {
	t.Helper()
	// As bulwark_app: the check needs nothing an application lacks.
	r, err := auditlog.Check(context.Background(), b.app, opts)
	require.NoError(t, err)
	return r
}

// logIDs returns the ids of the entity's log rows.
func (b *testBundle) logIDs(t *testing.T, entity uuid.UUID) []int64 {
	t.Helper()
	page, err := auditlog.List(context.Background(), b.app, auditlog.Filter{Entity: entity}, nil)
	require.NoError(t, err)
	return ids(page.Entries)
}

func TestCheck(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("ReferenceDatabaseReplaysCleanly", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		for _, s := range articles.States() {
			b.article(t, s)
		}
		a := b.article(t, articles.StateApproved)
		_, err := b.svc.SchedulePublish(ctx, b.pat, articles.ScheduleRequest{ArticleID: a.ID, At: time.Now().Add(time.Hour)}, nil)
		require.NoError(t, err)
		// A maintenance write that keeps to the machine is history too.
		d := b.article(t, articles.StateDraft)
		b.maintenance(t, fmt.Sprintf(`UPDATE app.articles SET title = 'Fixed by hand' WHERE id = '%s'`, d.ID))
		b.maintenance(t, fmt.Sprintf(`UPDATE app.articles SET state = 'in_review' WHERE id = '%s'`, d.ID))

		r := b.check(t, nil)
		require.True(t, r.OK, "problems: %+v", r.Problems)
		require.Empty(t, r.Problems)
		require.NotNil(t, r.Problems, "[] in JSON, never null")
		require.Equal(t, auditlog.CheckSchemaVersion, r.SchemaVersion)
		byMachine := map[string]auditlog.MachineSummary{}
		for _, m := range r.Machines {
			byMachine[m.Machine] = m
		}
		require.Equal(t, int64(7), byMachine["article"].Entities)
		require.Equal(t, "app.articles", byMachine["article"].Table)
		// create+edit per article, then 0,1,2,3,4 transitions, 2 more
		// for the scheduled one, 2 maintenance writes.
		require.Equal(t, int64(7*2+(0+1+2+3+4)+2+2), byMachine["article"].LogRows)
		require.Equal(t, int64(1), byMachine["article_schedule"].Entities)

		var text bytes.Buffer
		require.NoError(t, r.WriteText(&text))
		require.Contains(t, text.String(), "article (app.articles): 7 entities, 28 log rows")
		require.Contains(t, text.String(), "ok: every entity's history replays to its row")
	})

	t.Run("AuditOffForAWriteThatSkipsAState", func(t *testing.T) {
		t.Parallel()

		// The broken history the check exists for: a backfill under the
		// maintenance switch turns the audit trigger off and moves a draft
		// to in_review. The version advances, no log row says why, and the
		// next logged transition starts from a state no logged one led to.
		b := setup(t)
		a := b.article(t, articles.StateDraft)
		healthy := b.article(t, articles.StateApproved)
		b.maintenance(t,
			`ALTER TABLE app.articles DISABLE TRIGGER bulwark_90_audit`,
			fmt.Sprintf(`UPDATE app.articles SET state = 'in_review' WHERE id = '%s'`, a.ID),
			`ALTER TABLE app.articles ENABLE TRIGGER bulwark_90_audit`)
		approved, err := b.svc.Approve(ctx, b.erin, articles.TransitionRequest{ID: a.ID}, nil)
		require.NoError(t, err)
		require.EqualValues(t, 4, approved.Version, "create, edit, the unlogged write, approve")

		r := b.check(t, nil)
		require.False(t, r.OK)
		require.Equal(t, []string{auditlog.ProblemUnloggedChange, auditlog.ProblemVersionSkipped}, codes(r, a.ID))
		require.Empty(t, codes(r, healthy.ID))
		require.Equal(t, 2, r.ProblemCount)
		approveRow := b.logIDs(t, a.ID)[2]
		for _, p := range r.Problems {
			require.Equal(t, "article", p.Machine)
			require.Equal(t, approveRow, p.LogID, "the gap shows at the approve row: %s", p.Detail)
		}
		require.Contains(t, r.Problems[0].Detail, "approve starts from in_review, but the previous log row left it in draft")
		require.Contains(t, r.Problems[0].Detail, "(transition submit) has no log row")
		require.Contains(t, r.Problems[1].Detail, "version 4, but 3 log rows")
	})

	t.Run("BoundaryOffForAWriteThatSkipsStates", func(t *testing.T) {
		t.Parallel()

		// Worse: the write guard is off too, so a draft is published
		// directly. The audit row is there, with an edge no transition
		// has, and the version did not move.
		b := setup(t)
		a := b.article(t, articles.StateDraft)
		b.maintenance(t,
			`ALTER TABLE app.articles DISABLE TRIGGER bulwark_10_boundary`,
			fmt.Sprintf(`UPDATE app.articles SET state = 'published', approved_by = '%s', published_at = pg_catalog.now() WHERE id = '%s'`, b.erin, a.ID),
			`ALTER TABLE app.articles ENABLE TRIGGER bulwark_10_boundary`)

		r := b.check(t, nil)
		require.Equal(t, []string{auditlog.ProblemIllegalEdge, auditlog.ProblemVersionSkipped}, codes(r, a.ID))
		require.Contains(t, r.Problems[0].Detail, "maintenance_update moved it from draft to published, which no transition of article leads to")
		require.Contains(t, r.Problems[1].Detail, "version 2, but 3 log rows")
	})

	t.Run("RowsWithoutHistoryAndHistoryWithoutRows", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		gone := b.article(t, articles.StateDraft)
		var ghost uuid.UUID
		require.NoError(t, b.admin.QueryRow(ctx, `SELECT pg_catalog.gen_random_uuid()`).Scan(&ghost))
		b.maintenance(t,
			`ALTER TABLE app.articles DISABLE TRIGGER bulwark_90_audit`,
			fmt.Sprintf(`INSERT INTO app.articles (id, author_id, title, body) VALUES ('%s', '%s', 'Ghost', 'No history.')`, ghost, b.alice),
			fmt.Sprintf(`DELETE FROM app.articles WHERE id = '%s'`, gone.ID),
			`ALTER TABLE app.articles ENABLE TRIGGER bulwark_90_audit`)

		r := b.check(t, nil)
		require.Equal(t, []string{auditlog.ProblemNoHistory}, codes(r, ghost))
		require.Equal(t, []string{auditlog.ProblemMissingRow}, codes(r, gone.ID))

		// Once the audit is back, the ghost's next write is logged: its
		// history then starts without a creation.
		b.maintenance(t, fmt.Sprintf(`UPDATE app.articles SET title = 'Ghost, seen' WHERE id = '%s'`, ghost))
		r = b.check(t, nil)
		require.Equal(t, []string{auditlog.ProblemNoCreation}, codes(r, ghost))

		// A logged delete is history, not a gap.
		logged := b.article(t, articles.StateDraft)
		b.maintenance(t, fmt.Sprintf(`DELETE FROM app.articles WHERE id = '%s'`, logged.ID))
		r = b.check(t, nil)
		require.Empty(t, codes(r, logged.ID))
	})

	t.Run("FiltersAndBounds", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		var broken []uuid.UUID
		for range 3 {
			a := b.article(t, articles.StateDraft)
			broken = append(broken, a.ID)
			b.maintenance(t,
				`ALTER TABLE app.articles DISABLE TRIGGER bulwark_90_audit`,
				fmt.Sprintf(`UPDATE app.articles SET title = 'Quietly' WHERE id = '%s'`, a.ID),
				`ALTER TABLE app.articles ENABLE TRIGGER bulwark_90_audit`)
		}
		r := b.check(t, &auditlog.CheckOpts{MaxProblems: 2})
		require.Equal(t, 3, r.ProblemCount, "a write without a log row shows as a skipped version")
		require.Len(t, r.Problems, 2)
		var text bytes.Buffer
		require.NoError(t, r.WriteText(&text))
		require.Contains(t, text.String(), "FAIL: 3 problems (2 listed)")

		r = b.check(t, &auditlog.CheckOpts{Entity: broken[1]})
		require.Equal(t, 1, r.ProblemCount)
		require.Equal(t, broken[1], r.Problems[0].Entity)
		require.Equal(t, auditlog.ProblemVersionSkipped, r.Problems[0].Code)

		r = b.check(t, &auditlog.CheckOpts{Machine: "article_schedule"})
		require.True(t, r.OK)
		require.Len(t, r.Machines, 1)

		_, err := auditlog.Check(ctx, b.app, &auditlog.CheckOpts{Machine: "invoice"})
		require.ErrorContains(t, err, `no guarded table uses machine "invoice"`)
	})

	t.Run("JSON", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		a := b.article(t, articles.StateDraft)
		b.maintenance(t,
			`ALTER TABLE app.articles DISABLE TRIGGER bulwark_90_audit`,
			fmt.Sprintf(`UPDATE app.articles SET state = 'in_review' WHERE id = '%s'`, a.ID),
			`ALTER TABLE app.articles ENABLE TRIGGER bulwark_90_audit`)
		var out bytes.Buffer
		require.NoError(t, b.check(t, nil).WriteJSON(&out))
		var decoded struct {
			SchemaVersion int  `json:"schema_version"`
			OK            bool `json:"ok"`
			Problems      []struct {
				Code   string `json:"code"`
				Entity string `json:"entity"`
				LogID  int64  `json:"log_id"`
			} `json:"problems"`
			ProblemCount int `json:"problem_count"`
		}
		require.NoError(t, json.Unmarshal(out.Bytes(), &decoded))
		require.Equal(t, 1, decoded.SchemaVersion)
		require.False(t, decoded.OK)
		require.Equal(t, 2, decoded.ProblemCount, "the end of the history: state and version")
		require.Equal(t, a.ID.String(), decoded.Problems[0].Entity)
		require.Equal(t, auditlog.ProblemUnloggedChange, decoded.Problems[0].Code)
		require.Equal(t, b.logIDs(t, a.ID)[1], decoded.Problems[0].LogID)
	})
}

// acknowledgementOf returns the report's acknowledgement of entity.
func acknowledgementOf(t *testing.T, r *auditlog.CheckReport, entity uuid.UUID) auditlog.Acknowledgement {
	t.Helper()
	for _, a := range r.Acknowledgements {
		if a.Entity == entity {
			return a
		}
	}
	t.Fatalf("no acknowledgement of %s in %+v", entity, r.Acknowledgements)
	return auditlog.Acknowledgement{}
}

// TestCheckAcknowledged holds Check to bulwark verify's reading of
// bulwark.history_acknowledgements: an acknowledged entity's log is
// replayed after the acknowledged log row, from the acknowledged state and
// version.
func TestCheckAcknowledged(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("GapBeforeIsExplained", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		a := b.article(t, articles.StateDraft)
		healthy := b.article(t, articles.StateInReview)
		var ghost uuid.UUID
		require.NoError(t, b.admin.QueryRow(ctx, `SELECT pg_catalog.gen_random_uuid()`).Scan(&ghost))
		b.quietly(t,
			fmt.Sprintf(`UPDATE app.articles SET state = 'in_review' WHERE id = '%s'`, a.ID),
			fmt.Sprintf(`INSERT INTO app.articles (id, author_id, title, body) VALUES ('%s', '%s', 'Imported', 'No history.')`, ghost, b.alice))
		r := b.check(t, nil)
		require.Equal(t, []string{auditlog.ProblemUnloggedChange, auditlog.ProblemVersionSkipped}, codes(r, a.ID))
		require.Equal(t, []string{auditlog.ProblemNoHistory}, codes(r, ghost))
		require.Zero(t, r.AcknowledgementCount)

		b.acknowledge(t, a.ID, "00007 moved drafts to review with the audit off")
		b.acknowledge(t, ghost, "imported from the old system")
		r = b.check(t, nil)
		require.True(t, r.OK, "problems: %+v", r.Problems)
		require.Equal(t, 2, r.AcknowledgementCount)
		require.Len(t, r.Acknowledgements, 2)
		ack := acknowledgementOf(t, r, a.ID)
		require.Equal(t, b.logIDs(t, a.ID)[1], ack.LogID, "its last log row when acknowledged: the edit")
		require.Equal(t, "article", ack.Machine)
		require.Equal(t, "in_review", ack.State)
		require.EqualValues(t, 3, ack.Version)
		require.Equal(t, "00007 moved drafts to review with the audit off", ack.Reason)
		require.NotEmpty(t, ack.DBUser)
		require.WithinDuration(t, time.Now(), ack.AcknowledgedAt, time.Hour)
		ghostAck := acknowledgementOf(t, r, ghost)
		require.Zero(t, ghostAck.LogID, "no log row when acknowledged")
		require.Equal(t, "draft", ghostAck.State)
		require.EqualValues(t, 1, ghostAck.Version)
		require.Equal(t, "article", r.Machines[0].Machine)
		require.Equal(t, int64(2), r.Machines[0].Acknowledged)
		require.Equal(t, int64(3), r.Machines[0].Entities)

		// The history after it replays from the acknowledged state and
		// version: approve from in_review, an edit of the imported row.
		_, err := b.svc.Approve(ctx, b.erin, articles.TransitionRequest{ID: a.ID}, nil)
		require.NoError(t, err)
		title := "Imported, edited"
		_, err = b.svc.Edit(ctx, b.alice, articles.EditRequest{ID: ghost, Title: &title}, nil)
		require.NoError(t, err)
		r = b.check(t, nil)
		require.True(t, r.OK, "problems: %+v", r.Problems)

		var text bytes.Buffer
		require.NoError(t, r.WriteText(&text))
		require.Contains(t, text.String(), "2 histories checked from its acknowledgement (bulwark.history_acknowledge), not from creation:")
		require.Regexp(t, fmt.Sprintf(`(?m)^article +%s +%d +in_review +3 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +\S+ +00007 moved drafts to review with the audit off$`,
			a.ID, ack.LogID), text.String())
		require.Regexp(t, fmt.Sprintf(`(?m)^article +%s +- +draft +1 +.* imported from the old system$`, ghost), text.String())
		require.Contains(t, text.String(), "article (app.articles): 3 entities, 7 log rows, 2 checked from an acknowledgement")
		require.Contains(t, text.String(), "ok: every entity's history replays to its row")

		var out bytes.Buffer
		require.NoError(t, r.WriteJSON(&out))
		var decoded struct {
			OK               bool `json:"ok"`
			Acknowledgements []struct {
				AcknowledgedAt time.Time `json:"acknowledged_at"`
				Entity         string    `json:"entity"`
				LogID          int64     `json:"log_id"`
				Reason         string    `json:"reason"`
				State          string    `json:"state"`
				Version        int32     `json:"version"`
			} `json:"acknowledgements"`
			AcknowledgementCount int `json:"acknowledgement_count"`
			Machines             []struct {
				Acknowledged int64 `json:"acknowledged"`
			} `json:"machines"`
		}
		require.NoError(t, json.Unmarshal(out.Bytes(), &decoded))
		require.True(t, decoded.OK)
		require.Equal(t, 2, decoded.AcknowledgementCount)
		require.Equal(t, int64(2), decoded.Machines[0].Acknowledged)
		var found bool
		for _, d := range decoded.Acknowledgements {
			if d.Entity == a.ID.String() {
				found = true
				require.Equal(t, ack.LogID, d.LogID)
				require.Equal(t, "in_review", d.State)
				require.EqualValues(t, 3, d.Version)
				require.Equal(t, ack.Reason, d.Reason)
				require.False(t, d.AcknowledgedAt.IsZero())
			}
		}
		require.True(t, found, "%s", out.String())

		// Only the entities asked for, and a bounded list.
		r = b.check(t, &auditlog.CheckOpts{Entity: healthy.ID})
		require.Zero(t, r.AcknowledgementCount)
		require.NotNil(t, r.Acknowledgements, "[] in JSON, never null")
		r = b.check(t, &auditlog.CheckOpts{Entity: a.ID})
		require.Equal(t, 1, r.AcknowledgementCount)
		require.Equal(t, a.ID, r.Acknowledgements[0].Entity)
		r = b.check(t, &auditlog.CheckOpts{MaxAcknowledgements: 1})
		require.Equal(t, 2, r.AcknowledgementCount)
		require.Len(t, r.Acknowledgements, 1)
		text.Reset()
		require.NoError(t, r.WriteText(&text))
		require.Contains(t, text.String(), "2 histories checked from its acknowledgement (bulwark.history_acknowledge), not from creation (1 listed; the JSON report lists up to 1):")
	})

	t.Run("GapAfterIsReported", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		a := b.article(t, articles.StateDraft)
		b.quietly(t, fmt.Sprintf(`UPDATE app.articles SET state = 'in_review' WHERE id = '%s'`, a.ID))
		b.acknowledge(t, a.ID, "00007 moved drafts to review with the audit off")
		ackRow := b.logIDs(t, a.ID)[1]
		require.True(t, b.check(t, nil).OK)

		// A write after it with no log row: the version moves past the
		// acknowledged one with nothing logged since.
		b.quietly(t, fmt.Sprintf(`UPDATE app.articles SET title = 'Quietly again' WHERE id = '%s'`, a.ID))
		r := b.check(t, nil)
		require.Equal(t, []string{auditlog.ProblemVersionSkipped}, codes(r, a.ID))
		require.Equal(t, ackRow, r.Problems[0].LogID, "no log row since: the gap shows at the acknowledged one")
		require.Contains(t, r.Problems[0].Detail, "the row is at version 4, but it was acknowledged at version 3 and 0 log rows record its writes since")
		require.Equal(t, 1, r.AcknowledgementCount, "still listed beside the gap")

		// A logged transition from the acknowledged state does not make
		// up for it.
		_, err := b.svc.Approve(ctx, b.erin, articles.TransitionRequest{ID: a.ID}, nil)
		require.NoError(t, err)
		r = b.check(t, nil)
		require.Equal(t, []string{auditlog.ProblemVersionSkipped}, codes(r, a.ID))
		require.Equal(t, b.logIDs(t, a.ID)[2], r.Problems[0].LogID, "the approve row, the last one")
		require.Contains(t, r.Problems[0].Detail, "the row is at version 5, but it was acknowledged at version 3 and 1 log rows record its writes since")

		// A state change after it with no log row.
		c := b.article(t, articles.StateDraft)
		b.quietly(t, fmt.Sprintf(`UPDATE app.articles SET title = 'Quietly' WHERE id = '%s'`, c.ID))
		b.acknowledge(t, c.ID, "a title fixed by hand on a Sunday")
		require.Empty(t, codes(b.check(t, nil), c.ID))
		b.quietly(t, fmt.Sprintf(`UPDATE app.articles SET state = 'in_review' WHERE id = '%s'`, c.ID))
		r = b.check(t, nil)
		require.Equal(t, []string{auditlog.ProblemUnloggedChange, auditlog.ProblemVersionSkipped}, codes(r, c.ID))
		for _, p := range r.Problems {
			if p.Entity == c.ID && p.Code == auditlog.ProblemUnloggedChange {
				require.Contains(t, p.Detail, "the row is in in_review, but the acknowledgement (bulwark.history_acknowledge) left it in draft")
			}
		}

		// A row gone since, with no log row ever: only its acknowledgement
		// says it existed.
		var ghost uuid.UUID
		require.NoError(t, b.admin.QueryRow(ctx, `SELECT pg_catalog.gen_random_uuid()`).Scan(&ghost))
		b.quietly(t, fmt.Sprintf(`INSERT INTO app.articles (id, author_id, title, body) VALUES ('%s', '%s', 'Imported', 'No history.')`, ghost, b.alice))
		b.acknowledge(t, ghost, "imported from the old system")
		require.Empty(t, codes(b.check(t, nil), ghost))
		b.quietly(t, fmt.Sprintf(`DELETE FROM app.articles WHERE id = '%s'`, ghost))
		r = b.check(t, nil)
		require.Equal(t, []string{auditlog.ProblemMissingRow}, codes(r, ghost))
		require.Equal(t, 3, r.AcknowledgementCount)
		for _, p := range r.Problems {
			if p.Entity == ghost {
				require.Zero(t, p.LogID)
				require.Contains(t, p.Detail, "the acknowledgement (bulwark.history_acknowledge) left it in draft, but the row is gone with no logged delete")
			}
		}
	})
}
