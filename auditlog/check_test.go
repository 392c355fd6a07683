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
