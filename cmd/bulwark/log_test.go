package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/bulwarktest"
)

// logFixture is a reference database with a short history, and the URL
// of a login member of bulwark_app to read it as.
type logFixture struct {
	admin   *pgxpool.Pool
	appURL  string
	article articles.Article // by alice: create, edit, submit (correlation id req-cli-1), approve by erin
	draft   articles.Article // by alice: create only
	svc     *articles.Service
	alice   uuid.UUID
}

func newLogFixture(t *testing.T) *logFixture {
	t.Helper()
	ctx := context.Background()
	url := bulwarktest.NewDatabase(t)
	admin, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(admin.Close)
	f := &logFixture{admin: admin, appURL: bulwarktest.LoginAs(t, url, bulwarktest.RoleApp)}
	f.alice = bulwarktest.Principal(t, admin, "alice", "author")
	erin := bulwarktest.Principal(t, admin, "erin", "editor")
	app, err := pgxpool.New(ctx, f.appURL)
	require.NoError(t, err)
	t.Cleanup(app.Close)
	gate := authz.NewGate(app, nil, &authz.GateOpts{Observer: &authz.SlogObserver{Logger: slog.New(slog.DiscardHandler)}})
	f.svc, err = articles.NewService(ctx, gate, nil)
	require.NoError(t, err)

	a, err := f.svc.Create(ctx, f.alice, articles.CreateRequest{Title: "Boundaries", Body: "Body."}, nil)
	require.NoError(t, err)
	summary := "Summary."
	a, err = f.svc.Edit(ctx, f.alice, articles.EditRequest{ID: a.ID, Summary: &summary}, nil)
	require.NoError(t, err)
	a, err = f.svc.Submit(authz.WithCorrelationID(ctx, "req-cli-1"), f.alice, articles.TransitionRequest{ID: a.ID}, nil)
	require.NoError(t, err)
	f.article, err = f.svc.Approve(ctx, erin, articles.TransitionRequest{ID: a.ID}, nil)
	require.NoError(t, err)
	f.draft, err = f.svc.Create(ctx, f.alice, articles.CreateRequest{Title: "Second", Body: "Body."}, nil)
	require.NoError(t, err)
	return f
}

// jsonLines decodes JSON lines.
func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(s) {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "line: %s", line)
		out = append(out, m)
	}
	return out
}

func TestLogCommand(t *testing.T) {
	t.Parallel()

	t.Run("TableOfOneEntity", func(t *testing.T) {
		t.Parallel()

		f := newLogFixture(t)
		res := runCLI(t, "log", "--database-url", f.appURL, "--entity", f.article.ID.String())
		require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
		lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
		require.Len(t, lines, 5, "a header and four entries:\n%s", res.stdout)
		require.Regexp(t, `^ID +AT \(UTC\) +MACHINE +ENTITY +TRANSITION +FROM -> TO +ACTOR`, lines[0])
		require.Regexp(t, `article +`+f.article.ID.String()+` +create +-> draft +alice`, lines[1])
		require.Regexp(t, `submit +draft -> in_review +alice +req-cli-1`, lines[3])
		require.Regexp(t, `approve +in_review -> approved +erin`, lines[4])
		require.Empty(t, res.stderr, "one page: no hint")
	})

	t.Run("JSONLinesWithFiltersAndPages", func(t *testing.T) {
		t.Parallel()

		f := newLogFixture(t)
		res := runCLI(t, "log", "--database-url", f.appURL, "--format", "json", "--machine", "article", "--actor", "alice", "--limit", "2")
		require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
		entries := jsonLines(t, res.stdout)
		require.Len(t, entries, 2)
		require.Equal(t, "create", entries[0]["transition"])
		require.Equal(t, "alice", entries[0]["actor_name"])
		require.Regexp(t, `^more: run again with --after \d+\n$`, res.stderr)
		var after int64
		_, err := fmt.Sscanf(res.stderr, "more: run again with --after %d", &after)
		require.NoError(t, err)
		require.EqualValues(t, entries[1]["id"], after)

		res = runCLI(t, "log", "--database-url", f.appURL, "--format", "json", "--machine", "article", "--actor", "alice", "--after", fmt.Sprint(after))
		require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
		rest := jsonLines(t, res.stdout)
		var transitions []string
		for _, e := range rest {
			transitions = append(transitions, e["transition"].(string))
		}
		require.Equal(t, []string{"submit", "create"}, transitions, "alice's submit, then her second article")

		res = runCLI(t, "log", "--database-url", f.appURL, "--format", "json", "--correlation-id", "req-cli-1")
		require.Equal(t, 0, res.code)
		require.Len(t, jsonLines(t, res.stdout), 1)

		res = runCLI(t, "log", "--database-url", f.appURL, "--format", "json", "--machine", "article", "--transition", "create", "--since", "1h")
		require.Equal(t, 0, res.code)
		require.Len(t, jsonLines(t, res.stdout), 2)
		res = runCLI(t, "log", "--database-url", f.appURL, "--format", "json", "--until", "2000-01-01T00:00:00Z")
		require.Equal(t, 0, res.code)
		require.Empty(t, res.stdout)
	})

	t.Run("RefusesBadFlags", func(t *testing.T) {
		t.Parallel()

		f := newLogFixture(t)
		for _, args := range [][]string{
			{"--format", "yaml"},
			{"--check", "--format", "table"},
			{"--check", "--follow"},
			{"--check", "--actor", "alice"},
			{"--limit", "0"},
			{"--after", "-1"},
			{"--entity", "article-1"},
			{"--since", "yesterday"},
			{"--since", "-5m"},
			{"--since", "1h", "--until", "2h"},
			{"--poll-interval", "0s", "--follow"},
			{"--actor", "mallory"},
			{"stray"},
		} {
			res := runCLI(t, append([]string{"log", "--database-url", f.appURL}, args...)...)
			require.Equal(t, exitUsage, res.code, "%v: stdout %s", args, res.stdout)
			require.NotEmpty(t, res.stderr)
		}
		res := runCLI(t, "log", "--database-url", "")
		require.Equal(t, exitUsage, res.code)
		require.Contains(t, res.stderr, "no database")
	})

	t.Run("CheckCleanThenBroken", func(t *testing.T) {
		t.Parallel()

		ctx := context.Background()
		f := newLogFixture(t)
		res := runCLI(t, "log", "--check", "--database-url", f.appURL)
		require.Equal(t, 0, res.code, "stdout: %s\nstderr: %s", res.stdout, res.stderr)
		require.Contains(t, res.stdout, "article (app.articles): 2 entities, 5 log rows")
		require.Contains(t, res.stdout, "ok: every entity's history replays to its row")

		// A maintenance write with the audit trigger off skips the draft's
		// submit: the approve-free draft moves to in_review unlogged.
		tx, err := f.admin.Begin(ctx)
		require.NoError(t, err)
		for _, s := range []string{
			`SELECT bulwark.maintenance_begin('move drafts to review')`,
			`ALTER TABLE app.articles DISABLE TRIGGER bulwark_90_audit`,
			fmt.Sprintf(`UPDATE app.articles SET state = 'in_review' WHERE id = '%s'`, f.draft.ID),
			`ALTER TABLE app.articles ENABLE TRIGGER bulwark_90_audit`,
		} {
			_, err := tx.Exec(ctx, s)
			require.NoError(t, err, s)
		}
		require.NoError(t, tx.Commit(ctx))

		res = runCLI(t, "log", "--check", "--database-url", f.appURL)
		require.Equal(t, exitFailure, res.code, "stdout: %s", res.stdout)
		require.Regexp(t, `(?m)^article +`+f.draft.ID.String()+` +\d+ +unlogged_change +the row is in in_review, but the last log row left it in draft`, res.stdout)
		require.Regexp(t, `(?m)^article +`+f.draft.ID.String()+` +\d+ +version_skipped `, res.stdout)
		require.Contains(t, res.stdout, "FAIL: 2 problems")
		require.Contains(t, res.stderr, "the log does not account for every write: 2 gaps")

		res = runCLI(t, "log", "--check", "--format", "json", "--database-url", f.appURL, "--entity", f.article.ID.String())
		require.Equal(t, 0, res.code, "the other entity is whole: %s", res.stdout)
		res = runCLI(t, "log", "--check", "--format", "json", "--database-url", f.appURL, "--machine", "article")
		require.Equal(t, exitFailure, res.code)
		var report struct {
			OK       bool `json:"ok"`
			Problems []struct {
				Code string `json:"code"`
			} `json:"problems"`
		}
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &report))
		require.False(t, report.OK)
		require.Len(t, report.Problems, 2)
	})

	t.Run("CheckHonoursAcknowledgements", func(t *testing.T) {
		t.Parallel()

		// The README's way out of an explained gap (a migration that wrote
		// with the audit off, acknowledged in the same migration): verify
		// passes after it, and so must log --check, on the same reading.
		ctx := context.Background()
		f := newLogFixture(t)
		migration := func(t *testing.T, stmts ...string) {
			t.Helper()
			tx, err := f.admin.Begin(ctx)
			require.NoError(t, err)
			defer func() { _ = tx.Rollback(ctx) }()
			for _, s := range stmts {
				_, err := tx.Exec(ctx, s)
				require.NoError(t, err, s)
			}
			require.NoError(t, tx.Commit(ctx))
		}
		unlogged := func(update string) []string {
			return []string{
				`SELECT bulwark.maintenance_begin('move drafts to review')`,
				`ALTER TABLE app.articles DISABLE TRIGGER bulwark_90_audit`,
				fmt.Sprintf(`UPDATE app.articles SET %s WHERE id = '%s'`, update, f.draft.ID),
				`ALTER TABLE app.articles ENABLE TRIGGER bulwark_90_audit`,
			}
		}
		migration(t, unlogged(`state = 'in_review'`)...)
		res := runCLI(t, "log", "--check", "--database-url", f.appURL)
		require.Equal(t, exitFailure, res.code, "before the acknowledgement: stdout %s", res.stdout)

		migration(t,
			`SET LOCAL ROLE bulwark_owner`,
			fmt.Sprintf(`SELECT bulwark.history_acknowledge('app.articles', '%s', '00007 moved drafts to review')`, f.draft.ID))
		res = runCLI(t, "log", "--check", "--database-url", f.appURL)
		require.Equal(t, 0, res.code, "after it: stdout %s\nstderr: %s", res.stdout, res.stderr)
		require.Contains(t, res.stdout, "1 history checked from its acknowledgement (bulwark.history_acknowledge), not from creation:")
		require.Regexp(t, `(?m)^article +`+f.draft.ID.String()+` +\d+ +in_review +2 +.* 00007 moved drafts to review$`, res.stdout)
		require.Contains(t, res.stdout, "article (app.articles): 2 entities, 5 log rows, 1 checked from an acknowledgement")
		require.Contains(t, res.stdout, "ok: every entity's history replays to its row")

		res = runCLI(t, "log", "--check", "--format", "json", "--database-url", f.appURL)
		require.Equal(t, 0, res.code, "stdout: %s", res.stdout)
		var report struct {
			OK               bool `json:"ok"`
			Acknowledgements []struct {
				Entity string `json:"entity"`
				State  string `json:"state"`
			} `json:"acknowledgements"`
			AcknowledgementCount int `json:"acknowledgement_count"`
		}
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &report))
		require.True(t, report.OK)
		require.Equal(t, 1, report.AcknowledgementCount)
		require.Equal(t, f.draft.ID.String(), report.Acknowledgements[0].Entity)
		require.Equal(t, "in_review", report.Acknowledgements[0].State)

		// It explains what came before it, nothing after.
		migration(t, unlogged(`title = 'Quietly'`)...)
		res = runCLI(t, "log", "--check", "--database-url", f.appURL)
		require.Equal(t, exitFailure, res.code, "a gap after it: stdout %s", res.stdout)
		require.Regexp(t, `(?m)^article +`+f.draft.ID.String()+` +\d+ +version_skipped +the row is at version 3, but it was acknowledged at version 2`, res.stdout)
		require.Contains(t, res.stderr, "the log does not account for every write: 1 gap")
	})

	t.Run("FollowPrintsNewEntriesUntilInterrupted", func(t *testing.T) {
		t.Parallel()

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f := newLogFixture(t)
		var stdout, stderr syncBuffer
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, []string{"log", "--follow", "--format", "json", "--database-url", f.appURL,
				"--machine", "article", "--poll-interval", "20ms"}, &stdout, &stderr)
		}()
		// It starts at the end of the log; write until it shows: each
		// write is a new entry, so the first one it prints is new.
		deadline := time.Now().Add(time.Minute) // a hang guard, not a measurement
		title := "Boundaries"
		for !strings.Contains(stdout.String(), "\n") {
			require.True(t, time.Now().Before(deadline), "nothing followed; stderr: %s", stderr.String())
			_, err := f.svc.Edit(ctx, f.alice, articles.EditRequest{ID: f.draft.ID, Title: &title}, nil)
			require.NoError(t, err)
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
		require.Equal(t, 0, <-done, "an interrupt ends a follow normally; stderr: %s", stderr.String())
		entries := jsonLines(t, stdout.String())
		require.NotEmpty(t, entries)
		for _, e := range entries {
			require.Equal(t, "edit", e["transition"], "only what was written after it started")
			require.Equal(t, f.draft.ID.String(), e["entity_id"])
		}
	})
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
