package authz_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
)

func TestDo(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	// One database for every subtest: each uses principals and articles of
	// its own.
	w := newWorld(t)
	grants := startGrants(t, w.pool, nil)

	type testBundle struct {
		author   uuid.UUID // holds article.create and article.submit
		gate     *authz.Gate
		recorder *recorder
	}

	setup := func(t *testing.T) *testBundle {
		t.Helper()
		rec := &recorder{}
		return &testBundle{
			author:   w.newPrincipal(t, "author"),
			gate:     authz.NewGate(w.pool, grants, &authz.GateOpts{Observer: rec}),
			recorder: rec,
		}
	}

	// requireRecord asserts the one record of a failed call.
	requireRecord := func(t *testing.T, bundle *testBundle, err error, outcome authz.Outcome, layer fault.Layer, code string, principal uuid.UUID, target string) authz.Record {
		t.Helper()
		rec := bundle.recorder.only(t)
		require.Equal(t, "test.submit", rec.Action)
		require.Equal(t, authz.Capability("article.submit"), rec.Capability)
		require.Equal(t, outcome, rec.Outcome)
		require.Equal(t, layer, rec.Layer)
		require.Equal(t, code, rec.Code)
		require.Equal(t, principal, rec.PrincipalID)
		require.Equal(t, target, rec.Target)
		require.NotEmpty(t, rec.CorrelationID)
		require.Positive(t, rec.Duration)
		if err == nil {
			require.NoError(t, rec.Err)
		} else {
			require.ErrorIs(t, rec.Err, err)
		}
		return rec
	}

	t.Run("Allowed", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		a := w.draft(t, bundle.author)
		got, err := authz.Do(ctx, bundle.gate, bundle.author, submitAction(nil), submitRequest{ArticleID: a.ID}, nil)
		require.NoError(t, err)
		require.Equal(t, "in_review", got.State)
		require.Equal(t, a.Version+1, got.Version)
		require.Equal(t, got, w.get(t, a.ID))

		rec := requireRecord(t, bundle, nil, authz.OutcomeAllowed, "", "", bundle.author, a.ID.String())
		entries := w.log(t, a.ID)
		last := entries[len(entries)-1]
		require.Equal(t, "submit", last.Transition)
		require.Equal(t, bundle.author, *last.ActorID)
		require.Equal(t, rec.CorrelationID, *last.CorrelationID)
	})

	t.Run("ConflictFromDatabase", func(t *testing.T) {
		t.Parallel()

		// The row moves between LoadFunc and ActFunc: the transition
		// function's version check refuses the stale snapshot.
		bundle := setup(t)
		a := w.draft(t, bundle.author)
		hooks := &submitHooks{AfterLoadFunc: func(ctx context.Context, _ int, s db.AppArticle) error {
			return w.touch(ctx, s.ID)
		}}
		got, err := authz.Do(ctx, bundle.gate, bundle.author, submitAction(hooks), submitRequest{ArticleID: a.ID}, nil)
		require.Zero(t, got)
		bulwarktest.RequireLayer(t, err, fault.LayerConflict, fault.CodeStaleVersion)
		require.True(t, fault.IsRetryable(err))
		require.Equal(t, 409, fault.HTTPStatus(err))
		requireRecord(t, bundle, err, authz.OutcomeFailed, fault.LayerConflict, fault.CodeStaleVersion, bundle.author, a.ID.String())

		after := w.get(t, a.ID)
		require.Equal(t, "draft", after.State)
		require.Equal(t, a.Version+1, after.Version, "only the concurrent edit landed")
	})

	t.Run("CorrelationIDFromContext", func(t *testing.T) {
		t.Parallel()

		for _, id := range []string{"req-42", "trace=abc; span=é", strings.Repeat("x", 200)} {
			bundle := setup(t)
			a := w.draft(t, bundle.author)
			_, err := authz.Do(authz.WithCorrelationID(ctx, id), bundle.gate, bundle.author, submitAction(nil), submitRequest{ArticleID: a.ID}, nil)
			require.NoError(t, err)
			require.Equal(t, id, bundle.recorder.only(t).CorrelationID)
			entries := w.log(t, a.ID)
			require.Equal(t, id, *entries[len(entries)-1].CorrelationID)
		}
	})

	t.Run("CorrelationIDGeneratedWhenAbsentOrUnfit", func(t *testing.T) {
		t.Parallel()

		for _, id := range []string{"", "line\nbreak", "nul\x00", "del\x7f", "next\u0085line", strings.Repeat("x", 201), "\xff\xfe"} {
			bundle := setup(t)
			a := w.draft(t, bundle.author)
			reqCtx := ctx
			if id != "" {
				reqCtx = authz.WithCorrelationID(ctx, id)
			}
			_, err := authz.Do(reqCtx, bundle.gate, bundle.author, submitAction(nil), submitRequest{ArticleID: a.ID}, nil)
			require.NoError(t, err, "correlation id %q", id)
			got := bundle.recorder.only(t).CorrelationID
			require.NotEqual(t, id, got)
			_, err = uuid.Parse(got)
			require.NoError(t, err, "generated correlation id %q", got)
			entries := w.log(t, a.ID)
			require.Equal(t, got, *entries[len(entries)-1].CorrelationID, "for correlation id %q", id)
		}
	})

	t.Run("InactivePrincipal", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		a := w.draft(t, bundle.author)
		w.deactivate(t, bundle.author)
		_, err := authz.Do(ctx, bundle.gate, bundle.author, submitAction(nil), submitRequest{ArticleID: a.ID}, nil)
		bulwarktest.RequireLayer(t, err, fault.LayerPermission, authz.CodeInactivePrincipal)
		requireRecord(t, bundle, err, authz.OutcomeDenied, fault.LayerPermission, authz.CodeInactivePrincipal, bundle.author, a.ID.String())
		require.Equal(t, a, w.get(t, a.ID))
	})

	t.Run("InvariantFromDatabase", func(t *testing.T) {
		t.Parallel()

		// A defective policy lets an article under review through; the
		// state machine in the database refuses.
		bundle := setup(t)
		a := w.inReview(t, bundle.author)
		logBefore := len(w.log(t, a.ID))
		_, err := authz.Do(ctx, bundle.gate, bundle.author, submitAction(&submitHooks{IgnoreState: true}), submitRequest{ArticleID: a.ID}, nil)
		e := bulwarktest.RequireLayer(t, err, fault.LayerInvariant, fault.CodeIllegalTransition)
		require.Equal(t, db.SQLStateIllegalTransition, e.SQLState)
		require.False(t, fault.IsRetryable(err))
		require.Equal(t, 500, fault.HTTPStatus(err))
		requireRecord(t, bundle, err, authz.OutcomeFailed, fault.LayerInvariant, fault.CodeIllegalTransition, bundle.author, a.ID.String())
		require.Equal(t, a, w.get(t, a.ID))
		require.Len(t, w.log(t, a.ID), logBefore)
	})

	t.Run("MissingCapabilityBeforeTarget", func(t *testing.T) {
		t.Parallel()

		// The editor may not submit; whether the target exists is not
		// looked at, so the answer leaks nothing about it.
		bundle := setup(t)
		editor := w.newPrincipal(t, "editor")
		hooks := &submitHooks{}
		for _, target := range []uuid.UUID{uuid.New(), w.draft(t, bundle.author).ID} {
			bundle.recorder = &recorder{}
			bundle.gate = authz.NewGate(w.pool, grants, &authz.GateOpts{Observer: bundle.recorder})
			_, err := authz.Do(ctx, bundle.gate, editor, submitAction(hooks), submitRequest{ArticleID: target}, nil)
			bulwarktest.RequireLayer(t, err, fault.LayerPermission, fault.CodeMissingCapability)
			require.Equal(t, 403, fault.HTTPStatus(err))
			requireRecord(t, bundle, err, authz.OutcomeDenied, fault.LayerPermission, fault.CodeMissingCapability, editor, target.String())
		}
		require.Zero(t, hooks.loads.Load(), "nothing was loaded")
		require.Zero(t, hooks.policies.Load(), "no policy ran")
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		hooks := &submitHooks{}
		target := uuid.New()
		_, err := authz.Do(ctx, bundle.gate, bundle.author, submitAction(hooks), submitRequest{ArticleID: target}, nil)
		bulwarktest.RequireLayer(t, err, fault.LayerNotFound, fault.CodeNotFound)
		require.Equal(t, 404, fault.HTTPStatus(err))
		require.Zero(t, hooks.policies.Load(), "no policy ran")
		requireRecord(t, bundle, err, authz.OutcomeFailed, fault.LayerNotFound, fault.CodeNotFound, bundle.author, target.String())
	})

	t.Run("PolicyDenies", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		a := w.draft(t, bundle.author)
		logBefore := len(w.log(t, a.ID))
		other := w.newPrincipal(t, "author") // may submit, but not another's article
		_, err := authz.Do(ctx, bundle.gate, other, submitAction(nil), submitRequest{ArticleID: a.ID}, nil)
		e := bulwarktest.RequireLayer(t, err, fault.LayerPolicy, "not_author")
		require.Equal(t, "only the author submits an article", e.Reason)
		require.Equal(t, 422, fault.HTTPStatus(err))
		requireRecord(t, bundle, err, authz.OutcomeDenied, fault.LayerPolicy, "not_author", other, a.ID.String())
		require.Equal(t, a, w.get(t, a.ID))
		require.Len(t, w.log(t, a.ID), logBefore)
	})

	t.Run("ReadWithoutCapability", func(t *testing.T) {
		t.Parallel()

		// An action without a capability needs only an active principal.
		bundle := setup(t)
		a := w.draft(t, bundle.author)
		read := &authz.Action[db.AppArticle, uuid.UUID, db.AppArticle]{
			ReadOnly: true,
			LoadFunc: func(ctx context.Context, conn db.DBTX, id uuid.UUID) (db.AppArticle, error) {
				return db.New().ArticleGetByID(ctx, conn, id)
			},
			PolicyFunc: func(*authz.Principal, db.AppArticle, uuid.UUID) authz.Decision { return authz.Allow() },
			ActFunc: func(_ context.Context, _ db.DBTX, c authz.Call[db.AppArticle, uuid.UUID]) (db.AppArticle, error) {
				return c.Snapshot, nil
			},
		}
		nobody := w.newPrincipal(t)
		got, err := authz.Do(ctx, bundle.gate, nobody, read, a.ID, nil)
		require.NoError(t, err)
		require.Equal(t, a, got)

		// The principal is cached now: the deactivation reaches the gate
		// with its notification, a moment after the commit.
		w.deactivate(t, nobody)
		_, ok := eventually(notifyWithin, func() bool {
			_, err = authz.Do(ctx, bundle.gate, nobody, read, a.ID, nil)
			return err != nil
		})
		require.True(t, ok, "the deactivation never reached the gate")
		bulwarktest.RequireLayer(t, err, fault.LayerPermission, authz.CodeInactivePrincipal)
	})

	t.Run("SlogObserverLevels", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		handler := &levelHandler{}
		gate := authz.NewGate(w.pool, grants, &authz.GateOpts{Observer: &authz.SlogObserver{Logger: slog.New(handler)}})
		cancelled, cancel := context.WithCancel(ctx)
		cancel()

		for _, tt := range []struct {
			name    string
			ctx     context.Context
			hooks   *submitHooks
			actor   uuid.UUID
			article uuid.UUID
			level   slog.Level
			layer   string
		}{
			{name: "Allowed", actor: bundle.author, article: w.draft(t, bundle.author).ID, level: slog.LevelInfo},
			{name: "Conflict", actor: bundle.author, article: w.draft(t, bundle.author).ID, level: slog.LevelWarn, layer: "conflict",
				hooks: &submitHooks{AfterLoadFunc: func(ctx context.Context, _ int, s db.AppArticle) error { return w.touch(ctx, s.ID) }}},
			{name: "Invalid", actor: bundle.author, article: uuid.Nil, level: slog.LevelWarn, layer: "invalid"},
			{name: "Invariant", actor: bundle.author, article: w.inReview(t, bundle.author).ID, level: slog.LevelError, layer: "invariant",
				hooks: &submitHooks{IgnoreState: true}},
			{name: "NoLayer", ctx: cancelled, actor: bundle.author, article: uuid.New(), level: slog.LevelError, layer: ""},
			{name: "NotFound", actor: bundle.author, article: uuid.New(), level: slog.LevelWarn, layer: "not_found"},
			{name: "Permission", actor: w.newPrincipal(t, "editor"), article: uuid.New(), level: slog.LevelWarn, layer: "permission"},
			{name: "Policy", actor: w.newPrincipal(t, "author"), article: w.draft(t, bundle.author).ID, level: slog.LevelWarn, layer: "policy"},
		} {
			callCtx := tt.ctx
			if callCtx == nil {
				callCtx = ctx
			}
			_, err := authz.Do(callCtx, gate, tt.actor, submitAction(tt.hooks), submitRequest{ArticleID: tt.article}, nil)
			logged := handler.take()
			require.Len(t, logged, 1, tt.name)
			require.Equal(t, tt.level, logged[0].level, "%s: %v", tt.name, err)
			target := tt.article.String()
			if tt.layer == "invalid" {
				target = "" // TargetFunc runs only on a request that passed validation
			}
			require.Equal(t, target, logged[0].attrs["target"], tt.name)
			require.Equal(t, tt.actor.String(), logged[0].attrs["principal_id"], tt.name)
			require.NotEmpty(t, logged[0].attrs["correlation_id"], tt.name)
			if tt.level == slog.LevelInfo {
				require.NoError(t, err)
				require.Equal(t, "allowed", logged[0].attrs["outcome"])
				continue
			}
			require.Error(t, err, tt.name)
			require.Equal(t, tt.layer, logged[0].attrs["layer"], tt.name)
			require.Equal(t, err.Error(), logged[0].attrs["error"], tt.name)
		}
	})

	t.Run("TxCommitsWithCaller", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		a := w.draft(t, bundle.author)
		tx, err := w.pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()

		got, err := authz.Do(ctx, bundle.gate, bundle.author, submitAction(nil), submitRequest{ArticleID: a.ID}, &authz.DoOpts{Tx: tx})
		require.NoError(t, err)
		require.Equal(t, "in_review", got.State)
		require.Equal(t, "draft", w.get(t, a.ID).State, "uncommitted: invisible to other sessions")

		require.NoError(t, tx.Commit(ctx))
		require.Equal(t, got, w.get(t, a.ID))
		entries := w.log(t, a.ID)
		require.Equal(t, bundle.recorder.only(t).CorrelationID, *entries[len(entries)-1].CorrelationID)
	})

	t.Run("TxFailureLeavesCallerUsable", func(t *testing.T) {
		t.Parallel()

		// In one caller transaction: a success, then two failures (the
		// database's and the policy's), then another success. The failures
		// roll back to their savepoints; the caller commits the rest.
		bundle := setup(t)
		first, second := w.draft(t, bundle.author), w.draft(t, bundle.author)
		refused := w.inReview(t, bundle.author)
		other := w.newPrincipal(t, "author")
		tx, err := w.pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		opts := &authz.DoOpts{Tx: tx}

		_, err = authz.Do(ctx, bundle.gate, bundle.author, submitAction(nil), submitRequest{ArticleID: first.ID}, opts)
		require.NoError(t, err)
		_, err = authz.Do(ctx, bundle.gate, bundle.author, submitAction(&submitHooks{IgnoreState: true}), submitRequest{ArticleID: refused.ID}, opts)
		bulwarktest.RequireLayer(t, err, fault.LayerInvariant, fault.CodeIllegalTransition)
		_, err = authz.Do(ctx, bundle.gate, other, submitAction(nil), submitRequest{ArticleID: second.ID}, opts)
		bulwarktest.RequireLayer(t, err, fault.LayerPolicy, "not_author")

		var one int
		require.NoError(t, tx.QueryRow(ctx, "SELECT 1").Scan(&one), "the caller's transaction is usable")
		_, err = authz.Do(ctx, bundle.gate, bundle.author, submitAction(nil), submitRequest{ArticleID: second.ID}, opts)
		require.NoError(t, err)
		require.NoError(t, tx.Commit(ctx))

		require.Equal(t, "in_review", w.get(t, first.ID).State)
		require.Equal(t, "in_review", w.get(t, second.ID).State)
		require.Equal(t, refused, w.get(t, refused.ID))
		require.Len(t, bundle.recorder.all(), 4)
	})

	t.Run("TxRollbackLeavesNothing", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		a := w.draft(t, bundle.author)
		logBefore := len(w.log(t, a.ID))
		tx, err := w.pool.Begin(ctx)
		require.NoError(t, err)

		_, err = authz.Do(ctx, bundle.gate, bundle.author, submitAction(nil), submitRequest{ArticleID: a.ID}, &authz.DoOpts{Tx: tx})
		require.NoError(t, err)
		require.NoError(t, tx.Rollback(ctx))
		require.Equal(t, a, w.get(t, a.ID))
		require.Len(t, w.log(t, a.ID), logBefore)
	})

	t.Run("UnknownPrincipal", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		a := w.draft(t, bundle.author)
		stranger := uuid.New()
		_, err := authz.Do(ctx, bundle.gate, stranger, submitAction(nil), submitRequest{ArticleID: a.ID}, nil)
		bulwarktest.RequireLayer(t, err, fault.LayerPermission, authz.CodeUnknownPrincipal)
		requireRecord(t, bundle, err, authz.OutcomeDenied, fault.LayerPermission, authz.CodeUnknownPrincipal, stranger, a.ID.String())
	})

	t.Run("ValidationNeverTouchesDatabase", func(t *testing.T) {
		t.Parallel()

		// A gate of its own on a pool that counts every query: an invalid
		// request fails before the principal (unknown here) is looked up.
		bundle := setup(t)
		queries := &queryCounter{}
		pool := newPool(t, w.url, queries)
		gate := authz.NewGate(pool, authz.NewGrants(pool, nil), &authz.GateOpts{Observer: bundle.recorder})
		stranger := uuid.New()
		hooks := &submitHooks{}

		_, err := authz.Do(ctx, gate, stranger, submitAction(hooks), submitRequest{}, nil)
		e := bulwarktest.RequireLayer(t, err, fault.LayerInvalid, "article_id_missing")
		require.Equal(t, "an article id is required", e.Reason)
		require.Equal(t, 400, fault.HTTPStatus(err))
		require.Zero(t, queries.count(), "the database was queried")
		require.Zero(t, hooks.loads.Load()+hooks.policies.Load())
		rec := bundle.recorder.only(t)
		require.Equal(t, authz.OutcomeFailed, rec.Outcome)
		require.Equal(t, fault.LayerInvalid, rec.Layer)
		require.Equal(t, "article_id_missing", rec.Code)
		require.Equal(t, stranger, rec.PrincipalID)
		require.Empty(t, rec.Target, "TargetFunc runs only on a request that passed validation")
		require.Positive(t, rec.Duration)

		// A ValidateFunc error that names no layer becomes invalid input.
		plain := errors.New("title is required")
		action := submitAction(nil)
		action.ValidateFunc = func(submitRequest) error { return plain }
		_, err = authz.Do(ctx, gate, stranger, action, submitRequest{ArticleID: uuid.New()}, nil)
		e = bulwarktest.RequireLayer(t, err, fault.LayerInvalid, fault.CodeInvalidInput)
		require.Equal(t, "title is required", e.Reason)
		require.ErrorIs(t, err, plain)
		require.Zero(t, queries.count(), "the database was queried")
	})
}

// levelHandler is a slog.Handler that keeps each record's level and
// attributes.
type levelHandler struct {
	mu      sync.Mutex
	records []loggedRecord
}

type loggedRecord struct {
	attrs map[string]string
	level slog.Level
}

func (*levelHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *levelHandler) Handle(_ context.Context, r slog.Record) error {
	rec := loggedRecord{attrs: map[string]string{}, level: r.Level}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, rec)
	return nil
}

func (h *levelHandler) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h *levelHandler) WithGroup(string) slog.Handler { return h }

// take returns the records handled since the last call.
func (h *levelHandler) take() []loggedRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	records := h.records
	h.records = nil
	return records
}
