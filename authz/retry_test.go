package authz_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
)

func TestDoRetry(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	w := newWorld(t)
	grants := startGrants(t, w.pool, nil)
	fast := &authz.RetryOpts{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}

	type testBundle struct {
		article  db.AppArticle
		author   uuid.UUID
		gate     *authz.Gate
		recorder *recorder
	}

	setup := func(t *testing.T) *testBundle {
		t.Helper()
		rec := &recorder{}
		author := w.newPrincipal(t, "author")
		return &testBundle{
			article:  w.draft(t, author),
			author:   author,
			gate:     authz.NewGate(w.pool, grants, &authz.GateOpts{Observer: rec}),
			recorder: rec,
		}
	}

	// touchOn returns an AfterLoadFunc that moves the row behind the gate's
	// back after the given loads (all loads when none are given).
	touchOn := func(loads ...int) func(context.Context, int, db.AppArticle) error {
		return func(ctx context.Context, load int, s db.AppArticle) error {
			if len(loads) == 0 || load == loads[0] {
				return w.touch(ctx, s.ID)
			}
			return nil
		}
	}

	t.Run("UnavailableIsNotRetriedHere", func(t *testing.T) {
		t.Parallel()

		// Retryable later, not within a request's backoff: the caller (a
		// job's runner, a client told 503) decides when.
		bundle := setup(t)
		calls := 0
		notify := authz.Create("test.notify", "article.create",
			func(context.Context, db.DBTX, authz.Call[struct{}, string]) (struct{}, error) {
				calls++
				return struct{}{}, &fault.Error{Layer: fault.LayerUnavailable, Code: fault.CodeRetriesExhausted, Reason: "the mail server did not answer"}
			})
		_, err := authz.Do(ctx, bundle.gate, bundle.author, notify, "hello", &authz.DoOpts{Retry: fast})
		bulwarktest.RequireLayer(t, err, fault.LayerUnavailable, fault.CodeRetriesExhausted)
		require.True(t, fault.IsRetryable(err))
		require.Equal(t, 1, calls)
		require.Len(t, bundle.recorder.all(), 1)
	})

	t.Run("AttemptsAreBounded", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		hooks := &submitHooks{AfterLoadFunc: touchOn()}
		_, err := authz.Do(ctx, bundle.gate, bundle.author, submitAction(hooks), submitRequest{ArticleID: bundle.article.ID}, &authz.DoOpts{Retry: &authz.RetryOpts{Attempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}})
		bulwarktest.RequireLayer(t, err, fault.LayerConflict, fault.CodeStaleVersion)
		require.EqualValues(t, 3, hooks.loads.Load())
		require.Len(t, bundle.recorder.all(), 3)
		require.Equal(t, "draft", w.get(t, bundle.article.ID).State)

		// The default is four attempts (here through the deprecated
		// DoRetry, which is Do with DoOpts.Retry).
		bundle = setup(t)
		hooks = &submitHooks{AfterLoadFunc: touchOn()}
		_, err = authz.DoRetry(ctx, bundle.gate, bundle.author, submitAction(hooks), submitRequest{ArticleID: bundle.article.ID}, nil, nil)
		bulwarktest.RequireLayer(t, err, fault.LayerConflict, fault.CodeStaleVersion)
		require.EqualValues(t, 4, hooks.loads.Load())
	})

	t.Run("CancelStopsBackoff", func(t *testing.T) {
		t.Parallel()

		// The first attempt conflicts and its observer cancels the
		// context; the backoff is an hour, so only the cancel can end it.
		bundle := setup(t)
		reqCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		bundle.gate = authz.NewGate(w.pool, grants, &authz.GateOpts{Observer: authz.ObserverFunc(func(ctx context.Context, rec authz.Record) {
			bundle.recorder.Observe(ctx, rec)
			cancel()
		})})
		hooks := &submitHooks{AfterLoadFunc: touchOn()}
		start := time.Now()
		_, err := authz.Do(reqCtx, bundle.gate, bundle.author, submitAction(hooks), submitRequest{ArticleID: bundle.article.ID}, &authz.DoOpts{Retry: &authz.RetryOpts{Attempts: 5, BaseDelay: time.Hour, MaxDelay: time.Hour}})
		require.Less(t, time.Since(start), time.Minute)
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorIs(t, err, fault.ErrConflict)
		bulwarktest.RequireLayer(t, err, fault.LayerConflict, fault.CodeStaleVersion)
		require.EqualValues(t, 1, hooks.loads.Load())
		require.Len(t, bundle.recorder.all(), 1)
	})

	t.Run("ConflictThenPolicyDenies", func(t *testing.T) {
		t.Parallel()

		// The concurrent change submits the article: the retry's policy
		// sees it is no longer a draft and says so, instead of re-sending.
		bundle := setup(t)
		hooks := &submitHooks{AfterLoadFunc: func(ctx context.Context, load int, s db.AppArticle) error {
			if load == 1 {
				return w.submitAsAuthor(ctx, s.ID)
			}
			return nil
		}}
		_, err := authz.Do(ctx, bundle.gate, bundle.author, submitAction(hooks), submitRequest{ArticleID: bundle.article.ID}, &authz.DoOpts{Retry: fast})
		bulwarktest.RequireLayer(t, err, fault.LayerPolicy, "not_draft")
		require.NotErrorIs(t, err, fault.ErrConflict)
		require.EqualValues(t, 2, hooks.policies.Load())

		records := bundle.recorder.all()
		require.Len(t, records, 2)
		require.Equal(t, fault.LayerConflict, records[0].Layer)
		require.Equal(t, fault.LayerPolicy, records[1].Layer)
		require.Equal(t, "in_review", w.get(t, bundle.article.ID).State)
	})

	t.Run("ConflictThenSuccess", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		hooks := &submitHooks{AfterLoadFunc: touchOn(1)}
		got, err := authz.Do(authz.WithCorrelationID(ctx, "retry-1"), bundle.gate, bundle.author, submitAction(hooks),
			submitRequest{ArticleID: bundle.article.ID}, &authz.DoOpts{Retry: fast})
		require.NoError(t, err)
		require.Equal(t, "in_review", got.State)
		require.Equal(t, bundle.article.Version+2, got.Version, "the concurrent edit, then the submit")
		require.EqualValues(t, 2, hooks.loads.Load())
		require.EqualValues(t, 2, hooks.policies.Load(), "the policy ran again on fresh state")

		records := bundle.recorder.all()
		require.Len(t, records, 2)
		require.Equal(t, fault.LayerConflict, records[0].Layer)
		require.Equal(t, authz.OutcomeAllowed, records[1].Outcome)
		for _, rec := range records {
			require.Equal(t, "retry-1", rec.CorrelationID)
		}
	})

	t.Run("GateWideRetry", func(t *testing.T) {
		t.Parallel()

		// A gate made with a Retry retries every call that names none.
		bundle := setup(t)
		gate := authz.NewGate(w.pool, grants, &authz.GateOpts{Observer: bundle.recorder, Retry: fast})
		hooks := &submitHooks{AfterLoadFunc: touchOn(1)}
		got, err := authz.Do(ctx, gate, bundle.author, submitAction(hooks), submitRequest{ArticleID: bundle.article.ID}, nil)
		require.NoError(t, err)
		require.Equal(t, "in_review", got.State)
		require.EqualValues(t, 2, hooks.loads.Load())
	})

	t.Run("GeneratedCorrelationIDSharedByAttempts", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		hooks := &submitHooks{AfterLoadFunc: touchOn(1)}
		_, err := authz.Do(ctx, bundle.gate, bundle.author, submitAction(hooks), submitRequest{ArticleID: bundle.article.ID}, &authz.DoOpts{Retry: fast})
		require.NoError(t, err)
		records := bundle.recorder.all()
		require.Len(t, records, 2)
		_, err = uuid.Parse(records[0].CorrelationID)
		require.NoError(t, err)
		require.Equal(t, records[0].CorrelationID, records[1].CorrelationID)
		entries := w.log(t, bundle.article.ID)
		require.Equal(t, records[1].CorrelationID, *entries[len(entries)-1].CorrelationID)
	})

	t.Run("NonRetryableOnce", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		other := w.newPrincipal(t, "author")
		hooks := &submitHooks{}
		_, err := authz.Do(ctx, bundle.gate, other, submitAction(hooks), submitRequest{ArticleID: bundle.article.ID}, &authz.DoOpts{Retry: fast})
		bulwarktest.RequireLayer(t, err, fault.LayerPolicy, "not_author")
		require.EqualValues(t, 1, hooks.policies.Load())

		for _, tt := range []struct {
			actor uuid.UUID
			hooks *submitHooks
			id    uuid.UUID
			layer fault.Layer
		}{
			{actor: bundle.author, id: uuid.Nil, layer: fault.LayerInvalid},
			{actor: w.newPrincipal(t, "editor"), id: bundle.article.ID, layer: fault.LayerPermission},
			{actor: bundle.author, id: uuid.New(), layer: fault.LayerNotFound},
			{actor: bundle.author, id: w.inReview(t, bundle.author).ID, layer: fault.LayerInvariant, hooks: &submitHooks{IgnoreState: true}},
		} {
			bundle.recorder = &recorder{}
			bundle.gate = authz.NewGate(w.pool, grants, &authz.GateOpts{Observer: bundle.recorder})
			_, err := authz.Do(ctx, bundle.gate, tt.actor, submitAction(tt.hooks), submitRequest{ArticleID: tt.id}, &authz.DoOpts{Retry: fast})
			require.Equal(t, tt.layer, fault.LayerOf(err), "%v", err)
			require.Len(t, bundle.recorder.all(), 1, "%s is not retried", tt.layer)
		}
	})
}
