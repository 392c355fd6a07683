package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
)

// testBundle is the service on a migrated database, served by httptest as
// a login member of bulwark_app, with a cast made through the real grant
// functions.
type testBundle struct {
	admin *pgxpool.Pool // the migration role: fixtures and reading the log
	app   *app
	srv   *httptest.Server
}

// Tokens of the cast; ARTICLEAPI_TOKENS in the tests.
const (
	alice  = "token-alice"  // author
	erin   = "token-erin"   // editor
	pat    = "token-pat"    // publisher
	sneaky = "token-sneaky" // author and editor
)

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := context.Background()
	url := bulwarktest.NewDatabase(t)
	admin := bulwarktest.Pool(t, url, nil)
	for name, roles := range map[string][]string{
		"alice": {"author"}, "erin": {"editor"}, "pat": {"publisher"}, "sneaky": {"author", "editor"},
	} {
		bulwarktest.Principal(t, admin, name, roles...)
	}
	a, err := open(ctx, bulwarktest.LoginAs(t, url, bulwarktest.RoleApp),
		alice+"=alice, "+erin+"=erin,"+pat+"=pat,"+sneaky+"=sneaky")
	require.NoError(t, err)
	t.Cleanup(a.close)
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)
	return &testBundle{admin: admin, app: a, srv: srv}
}

// response is one answer, read whole.
type response struct {
	body   []byte
	header http.Header
	status int
}

// json decodes the body as an object.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

func (r response) article(t *testing.T) articles.Article {
	t.Helper()
	var a articles.Article
	require.NoError(t, json.Unmarshal(r.body, &a), "body: %s", r.body)
	return a
}

// requireProblem asserts r is the problem for layer/code with status.
func (r response) requireProblem(t *testing.T, status int, layer fault.Layer, code string) map[string]any {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	p := r.json(t)
	require.Equal(t, "urn:bulwark:problem:"+string(layer)+"/"+code, p["type"])
	require.Equal(t, string(layer), p["layer"])
	require.Equal(t, code, p["code"])
	require.EqualValues(t, status, p["status"])
	require.NotEmpty(t, p["title"])
	require.NotEmpty(t, p["correlation_id"])
	return p
}

// do sends one request as token ("" sends none) with headers in
// name, value pairs.
func (b *testBundle) do(t *testing.T, method, path, token string, body any, headers ...string) response {
	t.Helper()
	res, err := b.send(method, path, token, body, headers...)
	require.NoError(t, err)
	return res
}

// send is do for goroutines other than the test's: it returns its error.
func (b *testBundle) send(method, path, token string, body any, headers ...string) (response, error) {
	var reader io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		reader = strings.NewReader(v)
	case io.Reader:
		// Of unknown length: sent chunked.
		reader = v
	default:
		raw, err := json.Marshal(v)
		if err != nil {
			return response{}, err
		}
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.srv.URL+path, reader)
	if err != nil {
		return response{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	res, err := b.srv.Client().Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	return response{body: raw, header: res.Header, status: res.StatusCode}, err
}

// create makes a draft as token with a slug and summary, ready to walk to
// publication.
func (b *testBundle) create(t *testing.T, token string) articles.Article {
	t.Helper()
	res := b.do(t, "POST", "/articles", token, map[string]string{"title": "Boundaries", "body": "Where each layer ends."})
	require.Equal(t, http.StatusCreated, res.status, "body: %s", res.body)
	a := res.article(t)
	res = b.do(t, "PATCH", "/articles/"+a.ID.String(), token,
		map[string]string{"slug": "boundaries-" + a.ID.String()[:8], "summary": "Who may, what makes sense, what is true."})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	return res.article(t)
}

// move runs a workflow action and requires it to succeed.
func (b *testBundle) move(t *testing.T, a articles.Article, action, token string) articles.Article {
	t.Helper()
	res := b.do(t, "POST", "/articles/"+a.ID.String()+"/"+action, token, nil)
	require.Equal(t, http.StatusOK, res.status, "%s: %s", action, res.body)
	return res.article(t)
}

// log returns the entity's audit rows.
func (b *testBundle) log(t *testing.T, id uuid.UUID) []db.BulwarkTransitionLog {
	t.Helper()
	rows, err := db.New().TransitionLogByEntity(context.Background(), b.admin, id)
	require.NoError(t, err)
	return rows
}

func TestArticleAPI(t *testing.T) {
	t.Parallel()

	t.Run("CreateIs201WithLocationAndETag", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		res := b.do(t, "POST", "/articles", alice, map[string]string{"title": "Boundaries", "body": "Body."})
		require.Equal(t, http.StatusCreated, res.status, "body: %s", res.body)
		a := res.article(t)
		require.Equal(t, "draft", a.State)
		require.Equal(t, `"1"`, res.header.Get("ETag"))
		require.Equal(t, "/articles/"+a.ID.String(), res.header.Get("Location"))
		require.Equal(t, "application/json", res.header.Get("Content-Type"))

		got := b.do(t, "GET", res.header.Get("Location"), alice, nil)
		require.Equal(t, http.StatusOK, got.status)
		require.Equal(t, `"1"`, got.header.Get("ETag"))
		require.Equal(t, a, got.article(t))
	})

	t.Run("WalkToPublicationWithETags", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		a := b.create(t, alice)
		for _, step := range []struct{ action, token, state string }{
			{"submit", alice, "in_review"}, {"approve", erin, "approved"}, {"publish", pat, "published"},
		} {
			res := b.do(t, "POST", "/articles/"+a.ID.String()+"/"+step.action, step.token, nil, "If-Match", `"`+itoa(a.Version)+`"`)
			require.Equal(t, http.StatusOK, res.status, "%s: %s", step.action, res.body)
			a = res.article(t)
			require.Equal(t, step.state, a.State)
			require.Equal(t, `"`+itoa(a.Version)+`"`, res.header.Get("ETag"))
		}
		require.Len(t, b.log(t, a.ID), int(a.Version), "one audit row per version")
	})

	// A move with an empty chunked body (no Content-Length) is a move with
	// no body, not a malformed one.
	t.Run("EmptyChunkedBodyIsNoBody", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		a := b.create(t, alice)
		res := b.do(t, "POST", "/articles/"+a.ID.String()+"/submit", alice, io.MultiReader(), "If-Match", `"`+itoa(a.Version)+`"`)
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		require.Equal(t, "in_review", res.article(t).State)
	})

	t.Run("MissingCapabilityIs403", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		a := b.move(t, b.move(t, b.create(t, alice), "submit", alice), "approve", erin)
		res := b.do(t, "POST", "/articles/"+a.ID.String()+"/publish", alice, nil)
		p := res.requireProblem(t, http.StatusForbidden, fault.LayerPermission, fault.CodeMissingCapability)
		require.Contains(t, p["detail"], "article.publish")
		require.Equal(t, false, p["retryable"])
		require.Empty(t, res.header.Get("Retry-After"))
	})

	t.Run("NoSuchArticleIs404", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		missing := uuid.New().String()
		b.do(t, "GET", "/articles/"+missing, alice, nil).requireProblem(t, http.StatusNotFound, fault.LayerNotFound, fault.CodeNotFound)
		b.do(t, "POST", "/articles/"+missing+"/submit", alice, nil).requireProblem(t, http.StatusNotFound, fault.LayerNotFound, fault.CodeNotFound)
		b.do(t, "PATCH", "/articles/"+missing, alice, map[string]string{"title": "x"}).
			requireProblem(t, http.StatusNotFound, fault.LayerNotFound, fault.CodeNotFound)
		res := b.do(t, "POST", "/articles/"+missing+"/teleport", alice, nil)
		require.Equal(t, http.StatusNotFound, res.status, "an unknown action is no route")
	})

	t.Run("LostRaceIs409WithRetryAfter", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		ctx := context.Background()
		a := b.create(t, alice)

		// alice edits in a transaction that has not committed yet: it holds
		// the row lock and the next version. A submit that read the article
		// before that commit is based on a version that is about to go.
		tx, err := b.app.pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		title := "Boundaries, revised"
		_, err = b.app.svc.Edit(ctx, b.principal(t, "alice"), articles.EditRequest{ID: a.ID, Title: &title}, &authz.DoOpts{Tx: tx})
		require.NoError(t, err)

		type result struct {
			res response
			err error
		}
		done := make(chan result, 1)
		go func() {
			res, err := b.send("POST", "/articles/"+a.ID.String()+"/submit", alice, nil, "X-Request-Id", "req-race-1")
			done <- result{res, err}
		}()
		b.waitForLockWait(t)
		require.NoError(t, tx.Commit(ctx))

		r := <-done
		require.NoError(t, r.err)
		res := r.res
		p := res.requireProblem(t, http.StatusConflict, fault.LayerConflict, fault.CodeStaleVersion)
		require.Equal(t, "1", res.header.Get("Retry-After"))
		require.Equal(t, true, p["retryable"])
		require.Equal(t, "req-race-1", p["correlation_id"])
		require.Equal(t, "req-race-1", res.header.Get("X-Request-Id"))

		// Doing as Retry-After says works: the gate decides on fresh state.
		again := b.do(t, "POST", "/articles/"+a.ID.String()+"/submit", alice, nil)
		require.Equal(t, http.StatusOK, again.status, "body: %s", again.body)
		require.Equal(t, "in_review", again.article(t).State)
		require.Equal(t, title, again.article(t).Title)
	})

	t.Run("StaleIfMatchIs412", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		res := b.do(t, "POST", "/articles", alice, map[string]string{"title": "One", "body": "Body."})
		a := res.article(t)
		etag := res.header.Get("ETag")

		res = b.do(t, "PATCH", "/articles/"+a.ID.String(), alice, map[string]string{"title": "Two"}, "If-Match", etag)
		require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
		require.Equal(t, `"2"`, res.header.Get("ETag"))

		// A second client still holds version 1.
		res = b.do(t, "PATCH", "/articles/"+a.ID.String(), alice, map[string]string{"title": "Three"}, "If-Match", etag)
		p := res.requireProblem(t, http.StatusPreconditionFailed, fault.LayerConflict, fault.CodeStaleVersion)
		require.Equal(t, false, p["retryable"])
		require.Empty(t, res.header.Get("Retry-After"))
		b.do(t, "POST", "/articles/"+a.ID.String()+"/submit", alice, nil, "If-Match", etag).
			requireProblem(t, http.StatusPreconditionFailed, fault.LayerConflict, fault.CodeStaleVersion)

		got := b.do(t, "GET", "/articles/"+a.ID.String(), alice, nil).article(t)
		require.Equal(t, "Two", got.Title, "nothing written")
		require.EqualValues(t, 2, got.Version)
		require.Len(t, b.log(t, a.ID), 2)
	})

	t.Run("PolicyRefusalIs422WithItsReasonCode", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		a := b.move(t, b.create(t, sneaky), "submit", sneaky)
		res := b.do(t, "POST", "/articles/"+a.ID.String()+"/approve", sneaky, nil)
		p := res.requireProblem(t, http.StatusUnprocessableEntity, fault.LayerPolicy, articles.CodeOwnArticle)
		require.Equal(t, "nobody reviews their own article", p["detail"])
		require.Equal(t, false, p["retryable"])

		b.do(t, "POST", "/articles/"+a.ID.String()+"/submit", sneaky, nil).
			requireProblem(t, http.StatusUnprocessableEntity, fault.LayerPolicy, articles.CodeWrongState)
	})

	t.Run("ReplayWithTheSameKeyIsTheSameResponse", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		body := map[string]string{"title": "Once", "body": "Only once."}
		first := b.do(t, "POST", "/articles", alice, body, "Idempotency-Key", "create-7f3a")
		again := b.do(t, "POST", "/articles", alice, body, "Idempotency-Key", `"create-7f3a"`)
		require.Equal(t, http.StatusCreated, first.status, "body: %s", first.body)
		require.Equal(t, first.status, again.status)
		require.Equal(t, string(first.body), string(again.body))
		for _, h := range []string{"ETag", "Location", "Content-Type"} {
			require.Equal(t, first.header.Get(h), again.header.Get(h), h)
		}
		a := first.article(t)
		require.Len(t, b.log(t, a.ID), 1, "created once")

		// A transition replayed after the article moved on: the first
		// answer, not a judgement of the state it produced.
		a = b.move(t, b.move(t, b.create(t, alice), "submit", alice), "approve", erin)
		path := "/articles/" + a.ID.String() + "/publish"
		first = b.do(t, "POST", path, pat, nil, "Idempotency-Key", "publish-1", "If-Match", `"`+itoa(a.Version)+`"`)
		again = b.do(t, "POST", path, pat, nil, "Idempotency-Key", "publish-1", "If-Match", `"`+itoa(a.Version)+`"`)
		require.Equal(t, http.StatusOK, first.status, "body: %s", first.body)
		require.Equal(t, first.status, again.status, "body: %s", again.body)
		require.Equal(t, string(first.body), string(again.body))
		require.Equal(t, first.header.Get("ETag"), again.header.Get("ETag"))
		publishes := 0
		for _, row := range b.log(t, a.ID) {
			if row.Transition == "publish" {
				publishes++
			}
		}
		require.Equal(t, 1, publishes)

		// The same key for another request is a conflict a retry meets again.
		res := b.do(t, "POST", "/articles", alice, map[string]string{"title": "Other", "body": "Other."}, "Idempotency-Key", "create-7f3a")
		p := res.requireProblem(t, http.StatusConflict, fault.LayerConflict, fault.CodeIdempotencyKeyReused)
		require.Equal(t, false, p["retryable"])
		require.Empty(t, res.header.Get("Retry-After"))
	})

	t.Run("MalformedRequestsAre400", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		a := b.create(t, alice)
		path := "/articles/" + a.ID.String()
		for _, tc := range []struct {
			method, path, code string
			body               any
			headers            []string
		}{
			{"POST", "/articles", codeInvalidJSON, `{"title": `, nil},
			{"POST", "/articles", codeInvalidJSON, `{"title": "t", "body": "b", "author_id": "x"}`, nil},
			{"POST", "/articles", codeInvalidJSON, `{"title": 7}`, nil},
			{"POST", "/articles", codeInvalidJSON, `{"title": "a"} {"title": "b"}`, nil},
			{"POST", "/articles", codeInvalidJSON, "", nil},
			{"POST", "/articles", "too_long", map[string]string{"title": strings.Repeat("t", 301)}, nil},
			{"POST", "/articles", "invalid_idempotency_key", map[string]string{"title": "t"}, []string{"Idempotency-Key", `"open`}},
			{"PATCH", path, "invalid_if_match", map[string]string{"title": "t"}, []string{"If-Match", `W/"2"`}},
			{"PATCH", "/articles/not-a-uuid", codeInvalidID, map[string]string{"title": "t"}, nil},
			{"GET", "/articles/00000000-0000-0000-0000-000000000000", codeInvalidID, nil, nil},
		} {
			res := b.do(t, tc.method, tc.path, alice, tc.body, tc.headers...)
			res.requireProblem(t, http.StatusBadRequest, fault.LayerInvalid, tc.code)
		}
		require.Len(t, b.log(t, a.ID), 2, "nothing written")
	})

	t.Run("NoTokenIs401", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		for _, token := range []string{"", "token-mallory"} {
			res := b.do(t, "POST", "/articles", token, map[string]string{"title": "t", "body": "b"})
			require.Equal(t, http.StatusUnauthorized, res.status)
			require.Equal(t, "application/problem+json", res.header.Get("Content-Type"))
			require.Equal(t, `Bearer realm="articles"`, res.header.Get("WWW-Authenticate"))
			require.Equal(t, "unauthenticated", res.json(t)["code"])
		}
	})

	t.Run("CorrelationIDReachesTheAuditLog", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		a := b.create(t, alice)
		res := b.do(t, "POST", "/articles/"+a.ID.String()+"/submit", alice, nil, "X-Request-Id", "req-audit-7")
		require.Equal(t, http.StatusOK, res.status)
		require.Equal(t, "req-audit-7", res.header.Get("X-Request-Id"))
		rows := b.log(t, a.ID)
		last := rows[len(rows)-1]
		require.Equal(t, "submit", last.Transition)
		require.NotNil(t, last.CorrelationID)
		require.Equal(t, "req-audit-7", *last.CorrelationID)
	})
}

func TestBearerTokens(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	pool := bulwarktest.DB(t)
	bulwarktest.Principal(t, pool, "alice", "author")

	for _, spec := range []string{"", " , ", "short=alice", "token-without-name", "token-alice=", "token-nobody=nobody"} {
		_, err := bearerTokens(ctx, pool, spec)
		require.Error(t, err, spec)
	}
	var e *fault.Error
	_, err := bearerTokens(ctx, pool, "token-nobody=nobody")
	require.ErrorAs(t, err, &e)
	require.Equal(t, fault.LayerNotFound, e.Layer)

	_, err = open(ctx, "", "token-alice=alice")
	require.ErrorContains(t, err, "no database")
}

// principal returns the id of the principal named name.
func (b *testBundle) principal(t *testing.T, name string) uuid.UUID {
	t.Helper()
	p, err := db.New().PrincipalGetByName(context.Background(), b.admin, name)
	require.NoError(t, err)
	return p.ID
}

// waitForLockWait returns once a session of the test's database waits for
// a lock: the request has read its snapshot and reached the row lock.
func (b *testBundle) waitForLockWait(t *testing.T) {
	t.Helper()
	// A hang guard, not a measurement: the wait normally ends at once.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		var waiting int
		require.NoError(t, b.admin.QueryRow(ctx, `
			SELECT count(*) FROM pg_catalog.pg_stat_activity
			WHERE datname = pg_catalog.current_database() AND wait_event_type = 'Lock'`).Scan(&waiting))
		if waiting > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("no request came to wait for the row lock")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func itoa(v int32) string { return strconv.Itoa(int(v)) }
