package otelbulwark_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/otelbulwark"
)

// telemetry is an observer whose spans and metrics stay in memory.
type telemetry struct {
	observer *otelbulwark.Observer
	reader   *sdkmetric.ManualReader
	spans    *tracetest.InMemoryExporter
	tp       *sdktrace.TracerProvider
}

func newTelemetry(t *testing.T) *telemetry {
	t.Helper()
	spans := tracetest.NewInMemoryExporter()
	// A syncer exports each span as it ends: nothing waits for a batch.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	obs, err := otelbulwark.NewObserver(&otelbulwark.ObserverOpts{MeterProvider: mp, TracerProvider: tp})
	require.NoError(t, err)
	return &telemetry{observer: obs, reader: reader, spans: spans, tp: tp}
}

// span returns the one ended span named name, failing t unless there is
// exactly one.
func (tel *telemetry) span(t *testing.T, name string) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range tel.spans.GetSpans() {
		if s.Name == name {
			found = append(found, s)
		}
	}
	require.Len(t, found, 1, "spans named %s", name)
	return found[0]
}

// childrenOf returns the names of parent's children, in the order they
// ended.
func (tel *telemetry) childrenOf(parent tracetest.SpanStub) []string {
	var names []string
	for _, s := range tel.spans.GetSpans() {
		if s.Parent.SpanID() == parent.SpanContext.SpanID() && s.SpanContext.TraceID() == parent.SpanContext.TraceID() {
			names = append(names, s.Name)
		}
	}
	return names
}

// metrics collects what the observer recorded so far.
func (tel *telemetry) metrics(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, tel.reader.Collect(context.Background(), &rm))
	byName := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			byName[m.Name] = m
		}
	}
	return byName
}

// count returns a counter's value for exactly the attributes attrs, or
// the number of recordings of a histogram: 0 when none matched.
func (tel *telemetry) count(t *testing.T, name string, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	want := attribute.NewSet(attrs...)
	switch data := tel.metrics(t)[name].Data.(type) {
	case nil:
		return 0
	case metricdata.Sum[int64]:
		for _, dp := range data.DataPoints {
			if dp.Attributes.Equals(&want) {
				return dp.Value
			}
		}
	case metricdata.Histogram[float64]:
		for _, dp := range data.DataPoints {
			if dp.Attributes.Equals(&want) {
				return int64(dp.Count)
			}
		}
	default:
		t.Fatalf("metric %s: unexpected data %T", name, data)
	}
	return 0
}

// attrs returns a span's attributes by key.
func attrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

// world is a database of its own whose principals and articles are made
// through the real transition functions.
type world struct {
	pool *pgxpool.Pool
	q    *db.Queries
}

func (w *world) newPrincipal(t *testing.T, roles ...string) uuid.UUID {
	t.Helper()
	return bulwarktest.Principal(t, w.pool, bulwarktest.UniqueName("principal"), roles...)
}

func (w *world) draft(t *testing.T, author uuid.UUID) db.AppArticle {
	t.Helper()
	a, err := w.q.ArticleCreate(context.Background(), w.pool, db.ArticleCreateParams{Actor: author, Title: "A title", Body: "Body."})
	require.NoError(t, err)
	return a
}

func (w *world) inReview(t *testing.T, author uuid.UUID) db.AppArticle {
	t.Helper()
	a := w.draft(t, author)
	a, err := w.q.ArticleSubmit(context.Background(), w.pool, db.ArticleSubmitParams{Actor: author, ID: a.ID, ExpectedVersion: a.Version})
	require.NoError(t, err)
	return a
}

// lastCorrelationID returns the correlation id of the article's newest
// audit row.
func (w *world) lastCorrelationID(t *testing.T, id uuid.UUID) string {
	t.Helper()
	entries, err := w.q.TransitionLogByEntity(context.Background(), w.pool, id)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	last := entries[len(entries)-1]
	require.NotNil(t, last.CorrelationID)
	return *last.CorrelationID
}

// touch edits the article as its author on a session of its own,
// committing a new version behind the back of whoever loaded the old one.
func (w *world) touch(ctx context.Context, id uuid.UUID) error {
	a, err := w.q.ArticleGetByID(ctx, w.pool, id)
	if err != nil {
		return err
	}
	title := fmt.Sprintf("Touched at version %d", a.Version)
	_, err = w.q.ArticleEdit(ctx, w.pool, db.ArticleEditParams{Actor: a.AuthorID, ID: id, ExpectedVersion: a.Version, Title: &title})
	return err
}

type submitRequest struct {
	ArticleID uuid.UUID
	IdemKey   string
}

// submitHooks instrument submitAction.
type submitHooks struct {
	// AfterLoadFunc runs after each load, with its 1-based number.
	AfterLoadFunc func(ctx context.Context, load int, snapshot db.AppArticle) error
	// IgnoreState makes the policy defective: it lets a non-draft
	// through, so the database has to refuse.
	IgnoreState bool

	loads atomic.Int32
}

// submitAction is a synthetic action over the real article tables, built
// from package db only: the author submits a draft for review.
func submitAction(h *submitHooks) *authz.Action[db.AppArticle, submitRequest, db.AppArticle] {
	if h == nil {
		h = &submitHooks{}
	}
	q := db.New()
	return &authz.Action[db.AppArticle, submitRequest, db.AppArticle]{
		Name:       "test.submit",
		Capability: "article.submit",
		LoadFunc: func(ctx context.Context, conn db.DBTX, req submitRequest) (db.AppArticle, error) {
			a, err := q.ArticleGetByID(ctx, conn, req.ArticleID)
			if err != nil {
				return a, err
			}
			n := h.loads.Add(1)
			if h.AfterLoadFunc != nil {
				if err := h.AfterLoadFunc(ctx, int(n), a); err != nil {
					return a, fmt.Errorf("after load: %w", err)
				}
			}
			return a, nil
		},
		PolicyFunc: func(p *authz.Principal, a db.AppArticle, _ submitRequest) authz.Decision {
			if a.AuthorID != p.ID {
				return authz.Deny("not_author", "only the author submits an article")
			}
			if a.State != "draft" && !h.IgnoreState {
				return authz.Deny("not_draft", "only a draft can be submitted")
			}
			return authz.Allow()
		},
		ActFunc: func(ctx context.Context, conn db.DBTX, c authz.Call[db.AppArticle, submitRequest]) (db.AppArticle, error) {
			var key *string
			if c.Request.IdemKey != "" {
				key = &c.Request.IdemKey
			}
			return q.ArticleSubmit(ctx, conn, db.ArticleSubmitParams{
				Actor: c.Principal.ID, ID: c.Snapshot.ID, ExpectedVersion: c.Snapshot.Version, IdemKey: key,
			})
		},
		IdemKeyFunc: func(req submitRequest) string { return req.IdemKey },
		TargetFunc:  func(req submitRequest) string { return req.ArticleID.String() },
	}
}

// startGrants returns a listening Grants on pool, stopped in t's Cleanup.
func startGrants(t *testing.T, pool *pgxpool.Pool, opts *authz.GrantsOpts) *authz.Grants {
	t.Helper()
	grants := authz.NewGrants(pool, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, grants.Start(ctx))
	t.Cleanup(grants.Stop)
	return grants
}
