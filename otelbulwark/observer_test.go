package otelbulwark_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
	ob "github.com/bulwarkdb/bulwark/otelbulwark"
)

var allSteps = []string{"bulwark.permission", "bulwark.snapshot", "bulwark.policy", "bulwark.transition"}

func TestObserver(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	// One database for the subtests that share no principal; each
	// subtest has its own tracer and meter.
	w := &world{pool: bulwarktest.DB(t), q: db.New()}

	type testBundle struct {
		author uuid.UUID // holds article.create and article.submit
		gate   *authz.Gate
		tel    *telemetry
	}

	setup := func(t *testing.T) *testBundle {
		t.Helper()
		tel := newTelemetry(t)
		return &testBundle{
			author: w.newPrincipal(t, "author"),
			gate:   authz.NewGate(w.pool, nil, &authz.GateOpts{Observer: tel.observer}),
			tel:    tel,
		}
	}

	t.Run("Allowed", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		next := &recorder{}
		obs, err := ob.NewObserver(&ob.ObserverOpts{MeterProvider: nil, Next: next, TracerProvider: bundle.tel.tp})
		require.NoError(t, err)
		bundle.gate = authz.NewGate(w.pool, nil, &authz.GateOpts{Observer: obs})
		a := w.draft(t, bundle.author)

		// The caller's span (an HTTP request's, say) is the gate's
		// parent, and its trace id wins over a correlation id set
		// by hand.
		reqCtx, request := bundle.tel.tp.Tracer("test").Start(authz.WithCorrelationID(ctx, "req-1"), "request")
		_, err = authz.Do(reqCtx, bundle.gate, bundle.author, submitAction(nil), submitRequest{ArticleID: a.ID}, nil)
		request.End()
		require.NoError(t, err)

		gate := bundle.tel.span(t, ob.SpanGate)
		require.Equal(t, request.SpanContext().SpanID(), gate.Parent.SpanID())
		traceID := request.SpanContext().TraceID().String()
		require.Equal(t, traceID, gate.SpanContext.TraceID().String())
		require.Equal(t, allSteps, bundle.tel.childrenOf(gate))
		got := attrs(gate)
		require.Equal(t, "test.submit", got[ob.AttrAction].AsString())
		require.Equal(t, "article.submit", got[ob.AttrCapability].AsString())
		require.Equal(t, int64(1), got[ob.AttrAttempt].AsInt64())
		require.Equal(t, "allowed", got[ob.AttrOutcome].AsString())
		require.Equal(t, traceID, got[ob.AttrCorrelationID].AsString())
		require.Equal(t, a.ID.String(), got[ob.AttrTarget].AsString())
		require.Equal(t, bundle.author.String(), got[ob.AttrPrincipalID].AsString())
		require.False(t, got[ob.AttrRetryable].AsBool())
		require.False(t, got[ob.AttrReplay].AsBool())
		require.NotContains(t, got, ob.AttrLayer)
		require.NotContains(t, got, ob.AttrCode)
		require.Equal(t, codes.Unset, gate.Status.Code)

		require.Equal(t, traceID, w.lastCorrelationID(t, a.ID), "the audit row leads to the trace")
		rec := next.only(t)
		require.Equal(t, traceID, rec.CorrelationID)
		require.Equal(t, authz.OutcomeAllowed, rec.Outcome)

		// The meter is the global no-op here; the next subtests read
		// metrics.
		require.Empty(t, bundle.tel.metrics(t))
	})

	t.Run("AllowedMetrics", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		a := w.draft(t, bundle.author)
		_, err := authz.Do(ctx, bundle.gate, bundle.author, submitAction(nil), submitRequest{ArticleID: a.ID}, nil)
		require.NoError(t, err)

		gate := bundle.tel.span(t, ob.SpanGate)
		require.False(t, gate.Parent.IsValid(), "a root span without a caller's")
		require.Equal(t, gate.SpanContext.TraceID().String(), w.lastCorrelationID(t, a.ID))

		action := ob.AttrAction.String("test.submit")
		allowed := ob.AttrOutcome.String("allowed")
		require.Equal(t, int64(1), bundle.tel.count(t, ob.MetricDecisions, action, allowed))
		require.Equal(t, int64(1), bundle.tel.count(t, ob.MetricDuration, action, allowed))
		for _, step := range []authz.Step{authz.StepPermission, authz.StepSnapshot, authz.StepPolicy, authz.StepTransition} {
			require.Equal(t, int64(1), bundle.tel.count(t, ob.MetricStepDuration, action, ob.AttrStep.String(string(step))), "step %s", step)
		}
		for _, name := range []string{ob.MetricConflicts, ob.MetricReplays, ob.MetricRetries} {
			require.NotContains(t, bundle.tel.metrics(t), name)
		}
	})

	t.Run("DeniedByPermission", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		editor := w.newPrincipal(t, "editor") // may not submit
		a := w.draft(t, bundle.author)
		_, err := authz.Do(ctx, bundle.gate, editor, submitAction(nil), submitRequest{ArticleID: a.ID}, nil)
		require.ErrorIs(t, err, fault.ErrPermission)

		gate := bundle.tel.span(t, ob.SpanGate)
		require.Equal(t, []string{"bulwark.permission"}, bundle.tel.childrenOf(gate), "nothing after the refusing step")
		permission := attrs(bundle.tel.span(t, "bulwark.permission"))
		require.Equal(t, "permission", permission[ob.AttrLayer].AsString())
		require.Equal(t, fault.CodeMissingCapability, permission[ob.AttrCode].AsString())
		got := attrs(gate)
		require.Equal(t, "denied", got[ob.AttrOutcome].AsString())
		require.Equal(t, "permission", got[ob.AttrLayer].AsString())
		require.Equal(t, fault.CodeMissingCapability, got[ob.AttrCode].AsString())
		require.Equal(t, codes.Unset, gate.Status.Code, "a denial is an answer, not an error")

		require.Equal(t, int64(1), bundle.tel.count(t, ob.MetricDecisions,
			ob.AttrAction.String("test.submit"), ob.AttrOutcome.String("denied"), ob.AttrLayer.String("permission"), ob.AttrCode.String(fault.CodeMissingCapability)))
	})

	t.Run("DeniedByPolicy", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		other := w.newPrincipal(t, "author") // may submit, but not another's article
		a := w.draft(t, bundle.author)
		_, err := authz.Do(ctx, bundle.gate, other, submitAction(nil), submitRequest{ArticleID: a.ID}, nil)
		require.ErrorIs(t, err, fault.ErrPolicy)

		gate := bundle.tel.span(t, ob.SpanGate)
		require.Equal(t, allSteps[:3], bundle.tel.childrenOf(gate))
		policy := attrs(bundle.tel.span(t, "bulwark.policy"))
		require.Equal(t, "policy", policy[ob.AttrLayer].AsString())
		require.Equal(t, "not_author", policy[ob.AttrCode].AsString())
		got := attrs(gate)
		require.Equal(t, "denied", got[ob.AttrOutcome].AsString())
		require.Equal(t, "policy", got[ob.AttrLayer].AsString())
		require.Equal(t, "not_author", got[ob.AttrCode].AsString())
		require.False(t, got[ob.AttrRetryable].AsBool())
		require.Equal(t, codes.Unset, gate.Status.Code)

		action := ob.AttrAction.String("test.submit")
		denied := ob.AttrOutcome.String("denied")
		policyLayer := ob.AttrLayer.String("policy")
		require.Equal(t, int64(1), bundle.tel.count(t, ob.MetricDecisions, action, denied, policyLayer, ob.AttrCode.String("not_author")))
		require.Equal(t, int64(1), bundle.tel.count(t, ob.MetricDuration, action, denied, policyLayer))
		require.Equal(t, int64(0), bundle.tel.count(t, ob.MetricStepDuration, action, ob.AttrStep.String("transition")))
	})

	t.Run("ConflictThenRetried", func(t *testing.T) {
		t.Parallel()

		// The first attempt's snapshot goes stale before its transition
		// (another session edits the article); the second decides again
		// on fresh state and submits.
		bundle := setup(t)
		a := w.draft(t, bundle.author)
		hooks := &submitHooks{AfterLoadFunc: func(ctx context.Context, load int, s db.AppArticle) error {
			if load == 1 {
				return w.touch(ctx, s.ID)
			}
			return nil
		}}
		got, err := authz.Do(ctx, bundle.gate, bundle.author, submitAction(hooks), submitRequest{ArticleID: a.ID}, &authz.DoOpts{Retry: &authz.RetryOpts{BaseDelay: time.Millisecond}})
		require.NoError(t, err)
		require.Equal(t, "in_review", got.State)

		retry := bundle.tel.span(t, ob.SpanRetry)
		require.False(t, retry.Parent.IsValid())
		require.Equal(t, []string{ob.SpanGate, ob.SpanGate}, bundle.tel.childrenOf(retry))
		traceID := retry.SpanContext.TraceID().String()
		retryAttrs := attrs(retry)
		require.Equal(t, int64(2), retryAttrs[ob.AttrAttempts].AsInt64())
		require.Equal(t, traceID, retryAttrs[ob.AttrCorrelationID].AsString())
		require.NotContains(t, retryAttrs, ob.AttrLayer)

		var attempts []map[attribute.Key]attribute.Value
		for _, s := range bundle.tel.spans.GetSpans() {
			if s.Name == ob.SpanGate {
				require.Equal(t, retry.SpanContext.SpanID(), s.Parent.SpanID())
				require.Equal(t, allSteps, bundle.tel.childrenOf(s))
				attempts = append(attempts, attrs(s))
			}
		}
		first, second := attempts[0], attempts[1]
		require.Equal(t, int64(1), first[ob.AttrAttempt].AsInt64())
		require.Equal(t, "failed", first[ob.AttrOutcome].AsString())
		require.Equal(t, "conflict", first[ob.AttrLayer].AsString())
		require.Equal(t, fault.CodeStaleVersion, first[ob.AttrCode].AsString())
		require.True(t, first[ob.AttrRetryable].AsBool())
		require.Equal(t, int64(2), second[ob.AttrAttempt].AsInt64())
		require.Equal(t, "allowed", second[ob.AttrOutcome].AsString())
		for _, at := range attempts {
			require.Equal(t, traceID, at[ob.AttrCorrelationID].AsString(), "one correlation id for every attempt")
		}
		require.Equal(t, traceID, w.lastCorrelationID(t, a.ID))

		var conflicted int
		for _, s := range bundle.tel.spans.GetSpans() {
			if s.Name == "bulwark.transition" && attrs(s)[ob.AttrLayer].AsString() == "conflict" {
				conflicted++
			}
		}
		require.Equal(t, 1, conflicted, "the first attempt's transition met the conflict")

		action := ob.AttrAction.String("test.submit")
		require.Equal(t, int64(1), bundle.tel.count(t, ob.MetricRetries, action))
		require.Equal(t, int64(1), bundle.tel.count(t, ob.MetricConflicts, action, ob.AttrCode.String(fault.CodeStaleVersion)))
		require.Equal(t, int64(1), bundle.tel.count(t, ob.MetricDecisions, action, ob.AttrOutcome.String("allowed")))
		require.Equal(t, int64(1), bundle.tel.count(t, ob.MetricDecisions,
			action, ob.AttrOutcome.String("failed"), ob.AttrLayer.String("conflict"), ob.AttrCode.String(fault.CodeStaleVersion)))
	})

	t.Run("InvariantRefused", func(t *testing.T) {
		t.Parallel()

		// A defective policy lets an article under review through; the
		// state machine in the database refuses.
		bundle := setup(t)
		a := w.inReview(t, bundle.author)
		_, err := authz.Do(ctx, bundle.gate, bundle.author, submitAction(&submitHooks{IgnoreState: true}), submitRequest{ArticleID: a.ID}, nil)
		require.ErrorIs(t, err, fault.ErrInvariant)

		gate := bundle.tel.span(t, ob.SpanGate)
		require.Equal(t, allSteps, bundle.tel.childrenOf(gate))
		transition := bundle.tel.span(t, "bulwark.transition")
		require.Equal(t, codes.Error, transition.Status.Code)
		require.Equal(t, "invariant", attrs(transition)[ob.AttrLayer].AsString())
		got := attrs(gate)
		require.Equal(t, "failed", got[ob.AttrOutcome].AsString())
		require.Equal(t, "invariant", got[ob.AttrLayer].AsString())
		require.Equal(t, fault.CodeIllegalTransition, got[ob.AttrCode].AsString())
		require.False(t, got[ob.AttrRetryable].AsBool())
		require.Equal(t, codes.Error, gate.Status.Code, "a defect")
		require.Equal(t, "invariant: "+fault.CodeIllegalTransition, gate.Status.Description)
		require.NotEmpty(t, gate.Events, "the error is recorded")

		require.Equal(t, int64(1), bundle.tel.count(t, ob.MetricDecisions,
			ob.AttrAction.String("test.submit"), ob.AttrOutcome.String("failed"), ob.AttrLayer.String("invariant"), ob.AttrCode.String(fault.CodeIllegalTransition)))
	})

	t.Run("UnavailableIsAnOutage", func(t *testing.T) {
		t.Parallel()

		// A dependency of the action did not answer: no layer refused.
		bundle := setup(t)
		notify := authz.Create("test.notify", "article.create",
			func(context.Context, db.DBTX, authz.Call[struct{}, string]) (struct{}, error) {
				return struct{}{}, &fault.Error{Layer: fault.LayerUnavailable, Code: fault.CodeRetriesExhausted, Reason: "the mail server did not answer"}
			})
		_, err := authz.Do(ctx, bundle.gate, bundle.author, notify, "hello", nil)
		require.ErrorIs(t, err, fault.ErrUnavailable)

		gate := bundle.tel.span(t, ob.SpanGate)
		got := attrs(gate)
		require.Equal(t, "failed", got[ob.AttrOutcome].AsString())
		require.Equal(t, "unavailable", got[ob.AttrLayer].AsString())
		require.Equal(t, fault.CodeRetriesExhausted, got[ob.AttrCode].AsString())
		require.True(t, got[ob.AttrRetryable].AsBool(), "later, it may answer")
		require.Equal(t, codes.Error, gate.Status.Code, "an outage")
		require.Equal(t, int64(1), bundle.tel.count(t, ob.MetricDecisions,
			ob.AttrAction.String("test.notify"), ob.AttrOutcome.String("failed"), ob.AttrLayer.String("unavailable"), ob.AttrCode.String(fault.CodeRetriesExhausted)))
	})

	t.Run("Replay", func(t *testing.T) {
		t.Parallel()

		// The same keyed request twice: the second is answered by the
		// transition function, without a policy.
		bundle := setup(t)
		a := w.draft(t, bundle.author)
		req := submitRequest{ArticleID: a.ID, IdemKey: "submit-" + a.ID.String()}
		first, err := authz.Do(ctx, bundle.gate, bundle.author, submitAction(nil), req, nil)
		require.NoError(t, err)
		second, err := authz.Do(ctx, bundle.gate, bundle.author, submitAction(nil), req, nil)
		require.NoError(t, err)
		require.Equal(t, first, second)

		var gates []string
		for _, s := range bundle.tel.spans.GetSpans() {
			if s.Name == ob.SpanGate {
				gates = append(gates, attrs(s)[ob.AttrReplay].String())
				if attrs(s)[ob.AttrReplay].AsBool() {
					require.Equal(t, []string{"bulwark.permission", "bulwark.snapshot", "bulwark.transition"}, bundle.tel.childrenOf(s))
				}
			}
		}
		require.Equal(t, []string{"false", "true"}, gates)
		require.Equal(t, int64(1), bundle.tel.count(t, ob.MetricReplays, ob.AttrAction.String("test.submit")))
	})

	t.Run("StepsWithoutStepObserver", func(t *testing.T) {
		t.Parallel()

		// A plain Observer sees the decision and nothing else changes.
		rec := &recorder{}
		gate := authz.NewGate(w.pool, nil, &authz.GateOpts{Observer: rec})
		author := w.newPrincipal(t, "author")
		a := w.draft(t, author)
		_, err := authz.Do(ctx, gate, author, submitAction(nil), submitRequest{ArticleID: a.ID}, nil)
		require.NoError(t, err)
		_, err = uuid.Parse(rec.only(t).CorrelationID)
		require.NoError(t, err, "a generated correlation id without a trace")
	})
}

// TestObserverGrants gives the observer to a listening Grants, in a
// database of its own, so that no other test's grant change reaches it.
func TestObserverGrants(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	url := bulwarktest.NewDatabase(t)
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	w := &world{pool: pool, q: db.New()}
	author := w.newPrincipal(t, "author")

	tel := newTelemetry(t)
	grants := startGrants(t, pool, &authz.GrantsOpts{Observer: tel.observer})
	gate := authz.NewGate(pool, grants, &authz.GateOpts{Observer: tel.observer})

	for range 2 {
		a := w.draft(t, author)
		_, err := authz.Do(ctx, gate, author, submitAction(nil), submitRequest{ArticleID: a.ID}, nil)
		require.NoError(t, err)
	}
	var cache []string
	for _, s := range tel.spans.GetSpans() {
		if s.Name == "bulwark.permission" {
			cache = append(cache, attrs(s)[ob.AttrGrantsCache].AsString())
		}
	}
	require.Equal(t, []string{"miss", "hit"}, cache)
	require.Equal(t, int64(1), tel.count(t, ob.MetricGrantsLookups, ob.AttrGrantsCache.String("miss")))
	require.Equal(t, int64(1), tel.count(t, ob.MetricGrantsLookups, ob.AttrGrantsCache.String("hit")))
	revoke := []attribute.KeyValue{ob.AttrGrantsChange.String("role_revoke"), ob.AttrGrantsScope.String("principal")}
	require.Zero(t, tel.count(t, ob.MetricChangeToEffect, revoke...))

	// The revoke's notification drops the principal; the observer hears
	// how long after the change's audit row that was.
	boot, err := w.q.PrincipalGetByName(ctx, pool, "bootstrap")
	require.NoError(t, err)
	require.NoError(t, w.q.RoleRevoke(ctx, pool, db.RoleRevokeParams{Actor: boot.ID, PrincipalID: author, Role: "author"}))
	require.Eventually(t, func() bool {
		return tel.count(t, ob.MetricChangeToEffect, revoke...) == 1
	}, 10*time.Second, 5*time.Millisecond)
	hist := tel.metrics(t)[ob.MetricChangeToEffect].Data.(metricdata.Histogram[float64])
	require.Len(t, hist.DataPoints, 1, "the revoke, and no other change")
	require.Equal(t, "s", tel.metrics(t)[ob.MetricChangeToEffect].Unit)
	require.Positive(t, hist.DataPoints[0].Sum, "measured from the audit row, on the database's clock")

	// The revoke took effect: the next call reads the database and is
	// denied, before the target is looked at.
	_, err = authz.Do(ctx, gate, author, submitAction(nil), submitRequest{ArticleID: uuid.New()}, nil)
	require.ErrorIs(t, err, fault.ErrPermission)
	require.Equal(t, int64(2), tel.count(t, ob.MetricGrantsLookups, ob.AttrGrantsCache.String("miss")))
}

// recorder is an Observer that keeps every record.
type recorder struct {
	mu      sync.Mutex
	records []authz.Record
}

func (r *recorder) Observe(_ context.Context, rec authz.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec)
}

func (r *recorder) only(t *testing.T) authz.Record {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Len(t, r.records, 1)
	return r.records[0]
}
