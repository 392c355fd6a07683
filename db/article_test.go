package db_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
)

func ptr[T any](v T) *T { return &v }

func TestArticleWorkflow(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	w := newWorld(t)

	t.Run("HappyPathLogsEveryVersion", func(t *testing.T) {
		t.Parallel()
		a := w.published(t)
		require.Equal(t, "published", a.State)
		require.NotNil(t, a.PublishedAt)
		require.Equal(t, w.erin, *a.ApprovedBy)
		require.EqualValues(t, 5, a.Version)

		entries, err := w.q.TransitionLogByEntity(ctx, w.pool, a.ID)
		require.NoError(t, err)
		var got []string
		for _, e := range entries {
			from := "-"
			if e.FromState != nil {
				from = *e.FromState
			}
			got = append(got, e.Transition+":"+from+">"+*e.ToState)
			require.NotNil(t, e.ActorID)
		}
		require.Equal(t, []string{
			"create:->draft", "edit:draft>draft", "submit:draft>in_review",
			"approve:in_review>approved", "publish:approved>published",
		}, got)
		require.Equal(t, w.pat, *entries[4].ActorID)
		for i := 1; i < len(entries); i++ {
			require.Greater(t, entries[i].ID, entries[i-1].ID)
		}
	})

	t.Run("ArchiveFromDraftAndFromPublished", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, "archived", w.archived(t).State)
		p := w.published(t)
		a, err := w.q.ArticleArchive(ctx, w.pool, db.ArticleArchiveParams{Actor: w.pat, ID: p.ID, ExpectedVersion: p.Version})
		require.NoError(t, err)
		require.Equal(t, "archived", a.State)
		require.Equal(t, p.PublishedAt, a.PublishedAt)
	})

	t.Run("RequestChangesAndWithdrawReturnToDraft", func(t *testing.T) {
		t.Parallel()
		r := w.inReview(t)
		d, err := w.q.ArticleRequestChanges(ctx, w.pool, db.ArticleRequestChangesParams{Actor: w.erin, ID: r.ID, ExpectedVersion: r.Version, Note: ptr("needs sources")})
		require.NoError(t, err)
		require.Equal(t, "draft", d.State)
		entries, err := w.q.TransitionLogByEntity(ctx, w.pool, r.ID)
		require.NoError(t, err)
		require.Equal(t, "needs sources", *entries[len(entries)-1].Note)

		ap := w.approved(t)
		d, err = w.q.ArticleWithdraw(ctx, w.pool, db.ArticleWithdrawParams{Actor: w.erin, ID: ap.ID, ExpectedVersion: ap.Version})
		require.NoError(t, err)
		require.Equal(t, "draft", d.State)
		require.Nil(t, d.ApprovedBy, "a withdrawn approval is cleared")
	})

	t.Run("ListByStateKeyset", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		for range 5 {
			w.archived(t)
		}
		var seen []uuid.UUID
		after := db.ArticleListByStateParams{State: "archived", MaxRows: 2}
		for {
			page, err := w.q.ArticleListByState(ctx, w.pool, after)
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			for _, a := range page {
				seen = append(seen, a.ID)
			}
			last := page[len(page)-1]
			after.AfterCreatedAt, after.AfterID = last.CreatedAt, last.ID
		}
		require.Len(t, seen, 5)
	})
}

// TestArticleInvariants attacks each invariant through the SQL API: the
// function must refuse with the documented SQLSTATE and change nothing.
func TestArticleInvariants(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	w := newWorld(t)

	t.Run("IllegalTransitions", func(t *testing.T) {
		t.Parallel()
		d := w.draft(t)
		n := w.logCount(t, d.ID)
		_, err := w.q.ArticlePublish(ctx, w.pool, db.ArticlePublishParams{Actor: w.pat, ID: d.ID, ExpectedVersion: d.Version})
		requireLayer(t, err, fault.LayerInvariant, fault.CodeIllegalTransition)
		_, err = w.q.ArticleApprove(ctx, w.pool, db.ArticleApproveParams{Actor: w.erin, ID: d.ID, ExpectedVersion: d.Version})
		requireLayer(t, err, fault.LayerInvariant, fault.CodeIllegalTransition)
		_, err = w.q.ArticleWithdraw(ctx, w.pool, db.ArticleWithdrawParams{Actor: w.erin, ID: d.ID, ExpectedVersion: d.Version})
		requireLayer(t, err, fault.LayerInvariant, fault.CodeIllegalTransition)
		w.requireUnchanged(t, d, n)

		// Nothing leaves archived.
		a := w.archived(t)
		n = w.logCount(t, a.ID)
		_, err = w.q.ArticleSubmit(ctx, w.pool, db.ArticleSubmitParams{Actor: w.alice, ID: a.ID, ExpectedVersion: a.Version})
		requireLayer(t, err, fault.LayerInvariant, fault.CodeIllegalTransition)
		_, err = w.q.ArticleArchive(ctx, w.pool, db.ArticleArchiveParams{Actor: w.alice, ID: a.ID, ExpectedVersion: a.Version})
		requireLayer(t, err, fault.LayerInvariant, fault.CodeIllegalTransition)
		w.requireUnchanged(t, a, n)

		// A published article never returns to draft.
		p := w.published(t)
		n = w.logCount(t, p.ID)
		_, err = w.q.ArticleWithdraw(ctx, w.pool, db.ArticleWithdrawParams{Actor: w.erin, ID: p.ID, ExpectedVersion: p.Version})
		requireLayer(t, err, fault.LayerInvariant, fault.CodeIllegalTransition)
		_, err = w.q.ArticleRequestChanges(ctx, w.pool, db.ArticleRequestChangesParams{Actor: w.erin, ID: p.ID, ExpectedVersion: p.Version})
		requireLayer(t, err, fault.LayerInvariant, fault.CodeIllegalTransition)
		w.requireUnchanged(t, p, n)
	})

	t.Run("PublishNeedsCompleteMetadata", func(t *testing.T) {
		t.Parallel()
		a, err := w.q.ArticleCreate(ctx, w.pool, db.ArticleCreateParams{Actor: w.alice, Title: "No slug yet", Body: "b"})
		require.NoError(t, err)
		a, err = w.q.ArticleSubmit(ctx, w.pool, db.ArticleSubmitParams{Actor: w.alice, ID: a.ID, ExpectedVersion: a.Version})
		require.NoError(t, err)
		a, err = w.q.ArticleApprove(ctx, w.pool, db.ArticleApproveParams{Actor: w.erin, ID: a.ID, ExpectedVersion: a.Version})
		require.NoError(t, err)
		n := w.logCount(t, a.ID)
		_, err = w.q.ArticlePublish(ctx, w.pool, db.ArticlePublishParams{Actor: w.pat, ID: a.ID, ExpectedVersion: a.Version})
		requireLayer(t, err, fault.LayerInvariant, fault.CodePreconditionFailed)
		w.requireUnchanged(t, a, n)
	})

	t.Run("SlugUniqueAmongPublished", func(t *testing.T) {
		t.Parallel()
		first := w.published(t)
		second := w.draft(t)
		second, err := w.q.ArticleEdit(ctx, w.pool, db.ArticleEditParams{Actor: w.alice, ID: second.ID, ExpectedVersion: second.Version, Slug: first.Slug})
		require.NoError(t, err, "a draft may share a slug")
		second, err = w.q.ArticleSubmit(ctx, w.pool, db.ArticleSubmitParams{Actor: w.alice, ID: second.ID, ExpectedVersion: second.Version})
		require.NoError(t, err)
		second, err = w.q.ArticleApprove(ctx, w.pool, db.ArticleApproveParams{Actor: w.erin, ID: second.ID, ExpectedVersion: second.Version})
		require.NoError(t, err)
		n := w.logCount(t, second.ID)
		_, err = w.q.ArticlePublish(ctx, w.pool, db.ArticlePublishParams{Actor: w.pat, ID: second.ID, ExpectedVersion: second.Version})
		requireLayer(t, err, fault.LayerInvariant, fault.CodePreconditionFailed)
		w.requireUnchanged(t, second, n)
	})

	t.Run("PublishedContentFrozen", func(t *testing.T) {
		t.Parallel()
		p := w.published(t)
		n := w.logCount(t, p.ID)
		_, err := w.q.ArticleEdit(ctx, w.pool, db.ArticleEditParams{Actor: w.alice, ID: p.ID, ExpectedVersion: p.Version, Title: ptr("Changed")})
		requireLayer(t, err, fault.LayerInvariant, fault.CodeFrozen)
		w.requireUnchanged(t, p, n)

		// Under review and approved content is what the reviewer saw.
		r := w.inReview(t)
		n = w.logCount(t, r.ID)
		_, err = w.q.ArticleEdit(ctx, w.pool, db.ArticleEditParams{Actor: w.alice, ID: r.ID, ExpectedVersion: r.Version, Body: ptr("sneaky")})
		requireLayer(t, err, fault.LayerInvariant, fault.CodeFrozen)
		w.requireUnchanged(t, r, n)
	})

	t.Run("ApproverIsNeverTheAuthor", func(t *testing.T) {
		t.Parallel()
		a, err := w.q.ArticleCreate(ctx, w.pool, db.ArticleCreateParams{Actor: w.sneaky, Title: "Mine", Body: "b"})
		require.NoError(t, err)
		a, err = w.q.ArticleSubmit(ctx, w.pool, db.ArticleSubmitParams{Actor: w.sneaky, ID: a.ID, ExpectedVersion: a.Version})
		require.NoError(t, err)
		n := w.logCount(t, a.ID)
		_, err = w.q.ArticleApprove(ctx, w.pool, db.ArticleApproveParams{Actor: w.sneaky, ID: a.ID, ExpectedVersion: a.Version})
		requireLayer(t, err, fault.LayerInvariant, fault.CodeSeparationOfDuties)
		w.requireUnchanged(t, a, n)
	})

	t.Run("MissingCapability", func(t *testing.T) {
		t.Parallel()
		d := w.draft(t)
		n := w.logCount(t, d.ID)
		_, err := w.q.ArticleCreate(ctx, w.pool, db.ArticleCreateParams{Actor: w.erin, Title: "t"})
		requireLayer(t, err, fault.LayerPermission, fault.CodeMissingCapability)
		_, err = w.q.ArticleEdit(ctx, w.pool, db.ArticleEditParams{Actor: w.pat, ID: d.ID, ExpectedVersion: d.Version, Title: ptr("x")})
		requireLayer(t, err, fault.LayerPermission, fault.CodeMissingCapability)
		_, err = w.q.ArticleSubmit(ctx, w.pool, db.ArticleSubmitParams{Actor: w.erin, ID: d.ID, ExpectedVersion: d.Version})
		requireLayer(t, err, fault.LayerPermission, fault.CodeMissingCapability)
		_, err = w.q.ArticleApprove(ctx, w.pool, db.ArticleApproveParams{Actor: w.alice, ID: d.ID, ExpectedVersion: d.Version})
		requireLayer(t, err, fault.LayerPermission, fault.CodeMissingCapability)
		_, err = w.q.ArticlePublish(ctx, w.pool, db.ArticlePublishParams{Actor: w.alice, ID: d.ID, ExpectedVersion: d.Version})
		requireLayer(t, err, fault.LayerPermission, fault.CodeMissingCapability)
		_, err = w.q.ArticleArchive(ctx, w.pool, db.ArticleArchiveParams{Actor: w.nobody, ID: d.ID, ExpectedVersion: d.Version})
		requireLayer(t, err, fault.LayerPermission, fault.CodeMissingCapability)
		_, err = w.q.ArticleArchive(ctx, w.pool, db.ArticleArchiveParams{Actor: uuid.New(), ID: d.ID, ExpectedVersion: d.Version})
		requireLayer(t, err, fault.LayerPermission, fault.CodeMissingCapability)
		w.requireUnchanged(t, d, n)
	})

	t.Run("InactivePrincipalHasNoCapabilities", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		d := w.draft(t)
		_, err := w.pool.Exec(ctx, `BEGIN;
			SELECT bulwark.maintenance_begin('test: deactivate alice');
			UPDATE bulwark.principals SET active = false WHERE name = 'alice';
			COMMIT`)
		require.NoError(t, err)
		caps, err := w.q.PrincipalCapabilities(ctx, w.pool, w.alice)
		require.NoError(t, err)
		require.Empty(t, caps)
		_, err = w.q.ArticleSubmit(ctx, w.pool, db.ArticleSubmitParams{Actor: w.alice, ID: d.ID, ExpectedVersion: d.Version})
		requireLayer(t, err, fault.LayerPermission, fault.CodeMissingCapability)
	})

	t.Run("UnknownArticle", func(t *testing.T) {
		t.Parallel()
		_, err := w.q.ArticleSubmit(ctx, w.pool, db.ArticleSubmitParams{Actor: w.alice, ID: uuid.New(), ExpectedVersion: 1})
		requireLayer(t, err, fault.LayerNotFound, fault.CodeNotFound)
		_, err = w.q.ArticleGetByID(ctx, w.pool, uuid.New())
		requireLayer(t, err, fault.LayerNotFound, fault.CodeNotFound)
	})

	t.Run("StaleVersion", func(t *testing.T) {
		t.Parallel()
		d := w.draft(t)
		n := w.logCount(t, d.ID)
		_, err := w.q.ArticleSubmit(ctx, w.pool, db.ArticleSubmitParams{Actor: w.alice, ID: d.ID, ExpectedVersion: d.Version - 1})
		requireLayer(t, err, fault.LayerConflict, fault.CodeStaleVersion)
		var e *fault.Error
		require.ErrorAs(t, db.InterpretError(err), &e)
		require.True(t, e.Retryable())
		_, err = w.q.ArticleEdit(ctx, w.pool, db.ArticleEditParams{Actor: w.alice, ID: d.ID, ExpectedVersion: d.Version + 1, Title: ptr("x")})
		requireLayer(t, err, fault.LayerConflict, fault.CodeStaleVersion)
		w.requireUnchanged(t, d, n)
	})

	// The machine's rule for every action but create: a change pins the
	// version its caller decided on. The generated types make the version
	// required, so only raw SQL can leave it out.
	t.Run("EveryChangePinsAVersion", func(t *testing.T) {
		t.Parallel()
		d := w.draft(t)
		n := w.logCount(t, d.ID)
		for _, call := range []string{
			`SELECT app.article_submit($1, $2, NULL, NULL)`,
			`SELECT app.article_archive($1, $2, NULL, NULL)`,
			`SELECT app.article_edit($1, $2, NULL, 'x', NULL, NULL, NULL, NULL)`,
		} {
			_, err := w.pool.Exec(ctx, call, w.alice, d.ID)
			requireLayer(t, err, fault.LayerInvalid, fault.CodeInvalidInput)
		}
		w.requireUnchanged(t, d, n)
	})

	t.Run("MalformedInput", func(t *testing.T) {
		t.Parallel()
		d := w.draft(t)
		n := w.logCount(t, d.ID)
		for name, tc := range map[string]struct {
			params db.ArticleEditParams
			code   string
		}{
			"TitleTooLong":     {db.ArticleEditParams{Title: ptr(strings.Repeat("t", 301))}, fault.CodeTooLong},
			"SlugTooLong":      {db.ArticleEditParams{Slug: ptr(strings.Repeat("s", 121))}, fault.CodeTooLong},
			"SlugUpperCase":    {db.ArticleEditParams{Slug: ptr("Hello-World")}, fault.CodeInvalidInput},
			"SlugDoubleHyphen": {db.ArticleEditParams{Slug: ptr("a--b")}, fault.CodeInvalidInput},
			"BodyOverOneMiB":   {db.ArticleEditParams{Body: ptr(strings.Repeat("b", 1<<20+1))}, fault.CodeTooLong},
			"BodyWithNUL":      {db.ArticleEditParams{Body: ptr("a\x00b")}, fault.CodeInvalidText},
			"TitleWithNUL":     {db.ArticleEditParams{Title: ptr("a\x00b")}, fault.CodeInvalidText},
			"TitleControlChar": {db.ArticleEditParams{Title: ptr("a\x07b")}, fault.CodeInvalidInput},
			"IdemKeyTooLong":   {db.ArticleEditParams{Title: ptr("ok"), IdemKey: ptr(strings.Repeat("k", 201))}, fault.CodeInvalidInput},
			"InvalidUTF8":      {db.ArticleEditParams{Title: ptr("a\xffb")}, fault.CodeInvalidText},
		} {
			p := tc.params
			p.Actor, p.ID, p.ExpectedVersion = w.alice, d.ID, d.Version
			_, err := w.q.ArticleEdit(ctx, w.pool, p)
			requireLayer(t, err, fault.LayerInvalid, tc.code)
			require.NotContains(t, err.Error(), "\x00", name)
		}
		// One MiB exactly is allowed.
		_, err := w.q.ArticleCreate(ctx, w.pool, db.ArticleCreateParams{Actor: w.alice, Title: "big", Body: strings.Repeat("b", 1<<20)})
		require.NoError(t, err)
		_, err = w.q.ArticleCreate(ctx, w.pool, db.ArticleCreateParams{Actor: w.alice, Title: "  "})
		requireLayer(t, err, fault.LayerInvalid, fault.CodeInvalidInput)
		_, err = w.q.ArticleSubmit(ctx, w.pool, db.ArticleSubmitParams{Actor: w.alice, ID: d.ID, ExpectedVersion: 0})
		requireLayer(t, err, fault.LayerInvalid, fault.CodeInvalidInput)
		w.requireUnchanged(t, d, n)
	})

	t.Run("CheckOrder", func(t *testing.T) {
		t.Parallel()
		// Capability before existence: an unknown id without the
		// capability is a permission failure.
		_, err := w.q.ArticlePublish(ctx, w.pool, db.ArticlePublishParams{Actor: w.alice, ID: uuid.New(), ExpectedVersion: 1})
		requireLayer(t, err, fault.LayerPermission, fault.CodeMissingCapability)
		// Version before transition: a stale draft publish is a conflict.
		d := w.draft(t)
		_, err = w.q.ArticlePublish(ctx, w.pool, db.ArticlePublishParams{Actor: w.pat, ID: d.ID, ExpectedVersion: d.Version + 5})
		requireLayer(t, err, fault.LayerConflict, fault.CodeStaleVersion)
		// Transition before separation of duties.
		_, err = w.q.ArticleApprove(ctx, w.pool, db.ArticleApproveParams{Actor: w.sneaky, ID: d.ID, ExpectedVersion: d.Version})
		requireLayer(t, err, fault.LayerInvariant, fault.CodeIllegalTransition)
	})
}

func TestArticleIdempotency(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	w := newWorld(t)

	t.Run("ReplayReturnsOriginalResult", func(t *testing.T) {
		t.Parallel()
		d := w.draft(t)
		params := db.ArticleSubmitParams{Actor: w.alice, ID: d.ID, ExpectedVersion: d.Version, IdemKey: ptr("submit-1")}
		first, err := w.q.ArticleSubmit(ctx, w.pool, params)
		require.NoError(t, err)
		n := w.logCount(t, d.ID)
		// The replay is answered before the version check, so it succeeds
		// although the article moved on.
		again, err := w.q.ArticleSubmit(ctx, w.pool, params)
		require.NoError(t, err)
		require.Equal(t, first, again)
		w.requireUnchanged(t, first, n)
	})

	t.Run("ReplayOfCreateCreatesOnce", func(t *testing.T) {
		t.Parallel()
		params := db.ArticleCreateParams{Actor: w.bob, Title: "Once", Body: "b", IdemKey: ptr("create-1")}
		first, err := w.q.ArticleCreate(ctx, w.pool, params)
		require.NoError(t, err)
		again, err := w.q.ArticleCreate(ctx, w.pool, params)
		require.NoError(t, err)
		require.Equal(t, first, again)
		var count int
		require.NoError(t, w.pool.QueryRow(ctx, `SELECT count(*) FROM app.articles WHERE author_id = $1 AND title = 'Once'`, w.bob).Scan(&count))
		require.Equal(t, 1, count)
	})

	t.Run("SameKeyOtherArgumentsConflicts", func(t *testing.T) {
		t.Parallel()
		d := w.draft(t)
		other := w.draft(t)
		_, err := w.q.ArticleSubmit(ctx, w.pool, db.ArticleSubmitParams{Actor: w.alice, ID: d.ID, ExpectedVersion: d.Version, IdemKey: ptr("k-args")})
		require.NoError(t, err)
		n := w.logCount(t, other.ID)
		_, err = w.q.ArticleSubmit(ctx, w.pool, db.ArticleSubmitParams{Actor: w.alice, ID: other.ID, ExpectedVersion: other.Version, IdemKey: ptr("k-args")})
		requireLayer(t, err, fault.LayerConflict, fault.CodeIdempotencyKeyReused)
		var e *fault.Error
		require.ErrorAs(t, db.InterpretError(err), &e)
		require.False(t, e.Retryable())
		w.requireUnchanged(t, other, n)
		// Another function with the same key is other arguments too.
		_, err = w.q.ArticleArchive(ctx, w.pool, db.ArticleArchiveParams{Actor: w.alice, ID: d.ID, ExpectedVersion: d.Version, IdemKey: ptr("k-args")})
		requireLayer(t, err, fault.LayerConflict, fault.CodeIdempotencyKeyReused)
	})

	t.Run("KeysAreScopedPerActor", func(t *testing.T) {
		t.Parallel()
		_, err := w.q.ArticleCreate(ctx, w.pool, db.ArticleCreateParams{Actor: w.alice, Title: "A", IdemKey: ptr("shared-key")})
		require.NoError(t, err)
		_, err = w.q.ArticleCreate(ctx, w.pool, db.ArticleCreateParams{Actor: w.bob, Title: "B", IdemKey: ptr("shared-key")})
		require.NoError(t, err)
	})

	t.Run("FailedCallLeavesKeyFree", func(t *testing.T) {
		t.Parallel()
		d := w.draft(t)
		_, err := w.q.ArticlePublish(ctx, w.pool, db.ArticlePublishParams{Actor: w.pat, ID: d.ID, ExpectedVersion: d.Version, IdemKey: ptr("k-fail")})
		requireLayer(t, err, fault.LayerInvariant, fault.CodeIllegalTransition)
		_, err = w.q.ArticleSubmit(ctx, w.pool, db.ArticleSubmitParams{Actor: w.pat, ID: d.ID, ExpectedVersion: d.Version, IdemKey: ptr("k-fail")})
		requireLayer(t, err, fault.LayerPermission, fault.CodeMissingCapability)
	})
}

func TestArticleConcurrency(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	w := newWorld(t)
	const n = 16

	t.Run("SixteenPublishesOneWins", func(t *testing.T) {
		t.Parallel()
		a := w.approved(t)
		logBefore := w.logCount(t, a.ID)
		errs := release(n, func(int) error {
			_, err := w.q.ArticlePublish(ctx, w.pool, db.ArticlePublishParams{Actor: w.pat, ID: a.ID, ExpectedVersion: a.Version})
			return err
		})
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
				continue
			}
			requireLayer(t, err, fault.LayerConflict, fault.CodeStaleVersion)
		}
		require.Equal(t, 1, wins)
		final := w.get(t, a.ID)
		require.Equal(t, "published", final.State)
		require.Equal(t, a.Version+1, final.Version)
		require.Equal(t, logBefore+1, w.logCount(t, a.ID))
	})

	t.Run("SixteenWithOneKeyApplyOnce", func(t *testing.T) {
		t.Parallel()
		a := w.approved(t)
		logBefore := w.logCount(t, a.ID)
		results := make([]db.AppArticle, n)
		errs := release(n, func(i int) error {
			var err error
			results[i], err = w.q.ArticlePublish(ctx, w.pool, db.ArticlePublishParams{Actor: w.pat, ID: a.ID, ExpectedVersion: a.Version, IdemKey: ptr("publish-once")})
			return err
		})
		for i, err := range errs {
			require.NoError(t, err)
			require.Equal(t, results[0], results[i])
		}
		require.Equal(t, "published", results[0].State)
		require.Equal(t, logBefore+1, w.logCount(t, a.ID))
	})

	// One key used on sixteen different drafts at once (a client bug, or a
	// key reused across entities): exactly one call applies, the rest are
	// BWC02, and only the winner's draft changed.
	t.Run("SixteenDraftsWithOneKey", func(t *testing.T) {
		t.Parallel()
		drafts := make([]db.AppArticle, n)
		for i := range drafts {
			drafts[i] = w.draft(t)
		}
		errs := release(n, func(i int) error {
			_, err := w.q.ArticleSubmit(ctx, w.pool, db.ArticleSubmitParams{Actor: w.alice, ID: drafts[i].ID, ExpectedVersion: drafts[i].Version, IdemKey: ptr("one-key-many-drafts")})
			return err
		})
		won := 0
		for i, err := range errs {
			if err == nil {
				won++
				require.Equal(t, "in_review", w.get(t, drafts[i].ID).State)
				continue
			}
			requireLayer(t, err, fault.LayerConflict, fault.CodeIdempotencyKeyReused)
			require.Equal(t, drafts[i], w.get(t, drafts[i].ID), "a refused call changed its draft")
		}
		require.Equal(t, 1, won)
	})

	t.Run("SixteenCreatesWithOneKey", func(t *testing.T) {
		t.Parallel()
		results := make([]db.AppArticle, n)
		errs := release(n, func(i int) error {
			var err error
			results[i], err = w.q.ArticleCreate(ctx, w.pool, db.ArticleCreateParams{Actor: w.bob, Title: "Raced", Body: "b", IdemKey: ptr("create-race")})
			return err
		})
		for i, err := range errs {
			require.NoError(t, err)
			require.Equal(t, results[0].ID, results[i].ID)
		}
	})

	t.Run("SubmitAndArchiveOfOneDraft", func(t *testing.T) {
		t.Parallel()
		for range 8 {
			d := w.draft(t)
			logBefore := w.logCount(t, d.ID)
			errs := release(2, func(i int) error {
				var err error
				if i == 0 {
					_, err = w.q.ArticleSubmit(ctx, w.pool, db.ArticleSubmitParams{Actor: w.alice, ID: d.ID, ExpectedVersion: d.Version})
				} else {
					_, err = w.q.ArticleArchive(ctx, w.pool, db.ArticleArchiveParams{Actor: w.alice, ID: d.ID, ExpectedVersion: d.Version})
				}
				return err
			})
			require.True(t, (errs[0] == nil) != (errs[1] == nil), "exactly one wins: %v", errs)
			for _, err := range errs {
				if err != nil {
					requireLayer(t, err, fault.LayerConflict, fault.CodeStaleVersion)
				}
			}
			require.Equal(t, logBefore+1, w.logCount(t, d.ID))
			final := w.get(t, d.ID)
			require.Contains(t, []string{"in_review", "archived"}, final.State)
		}
	})

	t.Run("SameSlugPublishedConcurrently", func(t *testing.T) {
		t.Parallel()
		slug := nextSlug()
		arts := make([]db.AppArticle, n)
		for i := range arts {
			d := w.draft(t)
			d, err := w.q.ArticleEdit(ctx, w.pool, db.ArticleEditParams{Actor: w.alice, ID: d.ID, ExpectedVersion: d.Version, Slug: &slug})
			require.NoError(t, err)
			d, err = w.q.ArticleSubmit(ctx, w.pool, db.ArticleSubmitParams{Actor: w.alice, ID: d.ID, ExpectedVersion: d.Version})
			require.NoError(t, err)
			arts[i], err = w.q.ArticleApprove(ctx, w.pool, db.ArticleApproveParams{Actor: w.erin, ID: d.ID, ExpectedVersion: d.Version})
			require.NoError(t, err)
		}
		conflicts, err := db.LoadConflicts(ctx, w.pool)
		require.NoError(t, err)
		errs := release(n, func(i int) error {
			_, err := w.q.ArticlePublish(ctx, w.pool, db.ArticlePublishParams{Actor: w.pat, ID: arts[i].ID, ExpectedVersion: arts[i].Version})
			return err
		})
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
				continue
			}
			// The explicit check refuses (a precondition: only a caller
			// that skipped the policy gets here) or, in a race, the unique
			// index (a conflict: the world moved).
			var e *fault.Error
			require.ErrorAs(t, conflicts.Interpret(err), &e)
			require.Contains(t, []string{
				string(fault.LayerInvariant) + "/" + fault.CodePreconditionFailed,
				// Declared by the article migrations.
				string(fault.LayerConflict) + "/slug_taken",
			}, string(e.Layer)+"/"+e.Code)
		}
		require.Equal(t, 1, wins)
		var published int
		require.NoError(t, w.pool.QueryRow(ctx, `SELECT count(*) FROM app.articles WHERE slug = $1 AND state = 'published'`, slug).Scan(&published))
		require.Equal(t, 1, published)
	})
}

func TestCorrelationIDReachesTheLog(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	w := newWorld(t)
	d := w.draft(t)
	err := db.WithTx(ctx, w.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_catalog.set_config('bulwark.correlation_id', 'req-42', true)`); err != nil {
			return err
		}
		_, err := w.q.ArticleSubmit(ctx, tx, db.ArticleSubmitParams{Actor: w.alice, ID: d.ID, ExpectedVersion: d.Version})
		return err
	})
	require.NoError(t, err)
	entries, err := w.q.TransitionLogByEntity(ctx, w.pool, d.ID)
	require.NoError(t, err)
	last := entries[len(entries)-1]
	require.Equal(t, "submit", last.Transition)
	require.Equal(t, "req-42", *last.CorrelationID)
	require.Nil(t, entries[0].CorrelationID)
}

func TestWithTxRollsBack(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	w := newWorld(t)
	d := w.draft(t)
	n := w.logCount(t, d.ID)
	boom := errors.New("boom")
	err := db.WithTx(ctx, w.pool, func(tx pgx.Tx) error {
		if _, err := w.q.ArticleSubmit(ctx, tx, db.ArticleSubmitParams{Actor: w.alice, ID: d.ID, ExpectedVersion: d.Version}); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	w.requireUnchanged(t, d, n)

	require.Panics(t, func() {
		_ = db.WithTx(ctx, w.pool, func(tx pgx.Tx) error {
			_, _ = w.q.ArticleSubmit(ctx, tx, db.ArticleSubmitParams{Actor: w.alice, ID: d.ID, ExpectedVersion: d.Version})
			panic("boom")
		})
	})
	w.requireUnchanged(t, d, n)
}
