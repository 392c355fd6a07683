package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/auditlog"
	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
	"github.com/bulwarkdb/bulwark/internal/pgcluster"
	"github.com/bulwarkdb/bulwark/internal/seed"
	"github.com/bulwarkdb/bulwark/jobs"
	"github.com/bulwarkdb/bulwark/sql/schema"
	"github.com/bulwarkdb/bulwark/verify"
)

// Opts configures [Run].
type Opts struct {
	// Color turns on ANSI colours (only for a terminal).
	Color bool
	// DatabaseURL names a server (a role that may create databases and
	// roles). The demo creates a fresh database there and drops it at the
	// end; it never touches other data. Empty: a throwaway cluster.
	DatabaseURL string
	// Keep leaves the demo's database on the server named by DatabaseURL
	// (it is dropped otherwise), so its history can be read afterwards
	// with bulwark log. It needs DatabaseURL: a throwaway cluster is
	// removed at the end whatever Keep says.
	Keep bool
	// Stderr receives progress lines, Stdout the table.
	Stderr io.Writer
	Stdout io.Writer
}

// ErrKeepNeedsServer reports Opts.Keep without Opts.DatabaseURL.
var ErrKeepNeedsServer = errors.New("demo: keeping the database needs a server (--database-url): the throwaway one is removed at the end")

// ErrStepFailed reports that at least one step did not behave as the kit
// promises.
var ErrStepFailed = errors.New("demo: a step did not behave as promised")

// world is everything the story needs.
type world struct {
	admin    *pgxpool.Pool // the migration role: runs verify and the careless migration
	progress func(format string, args ...any)
	alice    uuid.UUID     // author
	app      *pgxpool.Pool // a login member of bulwark_app
	erin     uuid.UUID     // author and editor
	jobs     *pgxpool.Pool // a login member of bulwark_jobs
	pat      uuid.UUID     // publisher
	q        *db.Queries
	raced    uuid.UUID // the article 16 publishers raced for
	records  *recorder
	slug     int
	steps    []step
	svc      *articles.Service
}

type recorder struct {
	mu   sync.Mutex
	recs []authz.Record
}

func (r *recorder) Observe(_ context.Context, rec authz.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
}

// Run walks the story and prints it. It returns ErrStepFailed (wrapped)
// when a step misbehaved, and other errors when the demo could not run.
func Run(ctx context.Context, opts Opts) error {
	progress := func(format string, args ...any) { fmt.Fprintf(opts.Stderr, "▸ "+format+"\n", args...) }
	if opts.Keep && opts.DatabaseURL == "" {
		return ErrKeepNeedsServer
	}
	serverURL := opts.DatabaseURL
	if serverURL == "" {
		progress("starting a throwaway PostgreSQL")
		cluster, err := pgcluster.Start(ctx, nil)
		if err != nil {
			return fmt.Errorf("start PostgreSQL: %w", err)
		}
		defer func() {
			progress("removing the throwaway PostgreSQL")
			_ = cluster.Stop()
		}()
		serverURL = cluster.URL("postgres")
	}

	suffix := randomHex(6)
	dbName := "bulwark_demo_" + suffix
	adminConn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer adminConn.Close(context.WithoutCancel(ctx))
	if _, err := adminConn.Exec(ctx, "CREATE DATABASE "+dbName); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	password := randomHex(16)
	appRole, jobsRole := "bulwark_demo_app_"+suffix, "bulwark_demo_jobs_"+suffix
	defer func() {
		cleanup := context.WithoutCancel(ctx)
		if opts.Keep {
			progress("keeping database %s", dbName)
		} else {
			_, _ = adminConn.Exec(cleanup, "DROP DATABASE IF EXISTS "+dbName+" WITH (FORCE)")
		}
		_, _ = adminConn.Exec(cleanup, "DROP ROLE IF EXISTS "+appRole)
		_, _ = adminConn.Exec(cleanup, "DROP ROLE IF EXISTS "+jobsRole)
	}()
	dbURL, err := withDatabase(serverURL, dbName, "", "")
	if err != nil {
		return err
	}

	progress("migrating a fresh database %s", dbName)
	if err := migrate(ctx, dbURL); err != nil {
		return err
	}
	for role, group := range map[string]string{appRole: "bulwark_app", jobsRole: "bulwark_jobs"} {
		if _, err := adminConn.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s' IN ROLE %s", role, password, group)); err != nil {
			return fmt.Errorf("create login role: %w", err)
		}
	}

	w := &world{q: db.New(), records: &recorder{}, progress: progress}
	if w.admin, err = pgxpool.New(ctx, dbURL); err != nil {
		return err
	}
	defer w.admin.Close()
	for role, pool := range map[string]**pgxpool.Pool{appRole: &w.app, jobsRole: &w.jobs} {
		u, err := withDatabase(serverURL, dbName, role, password)
		if err != nil {
			return err
		}
		if *pool, err = db.Open(ctx, u, &db.OpenOpts{ApplicationName: "bulwark-demo", MaxConns: 24}); err != nil {
			return fmt.Errorf("connect as %s: %w", role, err)
		}
		defer (*pool).Close()
	}
	if err := w.cast(ctx); err != nil {
		return err
	}

	steps := []func(context.Context) error{
		w.statefulPermission,
		w.missingCapability,
		w.selfApproval,
		w.concurrentPublishes,
		w.idempotentRetry,
		func(ctx context.Context) error {
			progress("running the job worker until the scheduled publish is due")
			return w.scheduledPublish(ctx)
		},
		w.jobRawUpdate,
		w.verifyDrift,
		w.auditCheck,
	}
	for _, s := range steps {
		if err := s(ctx); err != nil {
			return err
		}
	}

	fmt.Fprintln(opts.Stdout)
	printTable(opts.Stdout, w.steps, opts.Color)
	failed := 0
	for _, s := range w.steps {
		if !s.Pass {
			failed++
		}
	}
	p := colors(opts.Color)
	fmt.Fprintln(opts.Stdout)
	if failed > 0 {
		fmt.Fprintf(opts.Stdout, "%s%d of %d steps did not behave as promised%s\n", p.red, failed, len(w.steps), p.reset)
		return fmt.Errorf("%w (%d of %d)", ErrStepFailed, failed, len(w.steps))
	}
	fmt.Fprintf(opts.Stdout, "%severy step (%d) ended in the layer the kit promises%s\n", p.green, len(w.steps), p.reset)
	printNext(opts.Stdout, w.raced, dbURL, dbName, opts.Keep, p)
	return nil
}

// printNext points at what to try after the story: the audit trail of the
// article the publishers raced for, its replay check, verify's JSON. It
// fits 80 columns but for the kept database's URL.
func printNext(out io.Writer, raced uuid.UUID, dbURL, dbName string, kept bool, p palette) {
	fmt.Fprintln(out)
	if kept {
		fmt.Fprintf(out, "%sTry next, on the kept database %s (drop it when done):%s\n", p.bold, dbName, p.reset)
		fmt.Fprintf(out, "  export DATABASE_URL='%s'\n", redactURL(dbURL))
	} else {
		fmt.Fprintf(out, "%sTry next%s (the demo dropped its database: to keep it, run\n", p.bold, p.reset)
		fmt.Fprintln(out, "bulwark demo --keep --database-url URL, and export the DATABASE_URL it prints):")
	}
	for _, c := range []struct{ cmd, what string }{
		{"bulwark log --entity " + raced.String(), "the article 16 publishers raced for: one publish row"},
		{"bulwark log --check", "replays every entity's history against its row"},
		{"bulwark verify --format json", "the boundary's checks as JSON, for CI"},
	} {
		fmt.Fprintf(out, "  %s\n      %s%s%s\n", c.cmd, p.dim, c.what, p.reset)
	}
}

// redactURL hides a password in a URL or a keyword/value connection
// string.
func redactURL(s string) string {
	if strings.Contains(s, "://") {
		if u, err := url.Parse(s); err == nil {
			return u.Redacted()
		}
		return "(unparsable URL)"
	}
	return passwordPattern.ReplaceAllString(s, "password=xxxxx")
}

var passwordPattern = regexp.MustCompile(`password=('(\\.|[^'])*'|\S+)`)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// withDatabase returns serverURL pointed at dbName, as user/password when
// given. It takes URL and keyword/value forms.
func withDatabase(serverURL, dbName, user, password string) (string, error) {
	if strings.Contains(serverURL, "://") {
		u, err := url.Parse(serverURL)
		if err != nil {
			return "", fmt.Errorf("parse database url: %w", err)
		}
		u.Path = "/" + dbName
		if user != "" {
			u.User = url.UserPassword(user, password)
		}
		return u.String(), nil
	}
	s := serverURL + " dbname=" + dbName
	if user != "" {
		s += " user=" + user + " password=" + password
	}
	return s, nil
}

func migrate(ctx context.Context, dbURL string) error {
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return err
	}
	sqlDB := stdlib.OpenDB(*cfg)
	defer sqlDB.Close()
	if _, err := schema.Up(ctx, sqlDB, schema.Examples()...); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// cast creates the principals through the real grant functions, and the
// services as an application would.
func (w *world) cast(ctx context.Context) error {
	// bootstrap acts only from the migration role's session (admin).
	mk := func(name string, roles ...string) (uuid.UUID, error) {
		return seed.Principal(ctx, w.admin, name, roles...)
	}
	var err error
	if w.alice, err = mk("alice", "author"); err != nil {
		return err
	}
	if w.erin, err = mk("erin", "author", "editor"); err != nil {
		return err
	}
	if w.pat, err = mk("pat", "publisher"); err != nil {
		return err
	}
	gate := authz.NewGate(w.app, nil, &authz.GateOpts{Observer: w.records})
	w.svc, err = articles.NewService(ctx, gate, nil)
	return err
}

// record adds a step for err, which should name layer and code.
func (w *world) record(who, tried string, err error, wantLayer fault.Layer, wantCode string) {
	s := step{Who: who, Tried: tried, Layer: "ok"}
	if err != nil {
		var e *fault.Error
		if errors.As(err, &e) {
			s.Layer, s.Code, s.Reason = string(e.Layer), e.Code, e.Reason
		} else {
			s.Layer, s.Reason = "error", err.Error()
		}
	}
	s.Pass = s.Layer == string(wantLayer) && s.Code == wantCode
	if wantLayer == "" {
		s.Pass = err == nil
	}
	w.steps = append(w.steps, s)
}

func (w *world) add(s step) { w.steps = append(w.steps, s) }

// article makes a complete article by author and walks it to state.
func (w *world) article(ctx context.Context, author uuid.UUID, state articles.State) (articles.Article, error) {
	w.slug++
	a, err := w.svc.Create(ctx, author, articles.CreateRequest{Title: "Boundaries", Body: "Where each layer's answer ends."}, nil)
	if err != nil {
		return a, err
	}
	slug, summary := fmt.Sprintf("boundaries-%d", w.slug), "Who may, what makes sense, what is true."
	if a, err = w.svc.Edit(ctx, author, articles.EditRequest{ID: a.ID, Slug: &slug, Summary: &summary}, nil); err != nil {
		return a, err
	}
	if state == articles.StateDraft {
		return a, nil
	}
	if a, err = w.svc.Submit(ctx, author, articles.TransitionRequest{ID: a.ID}, nil); err != nil || state == articles.StateInReview {
		return a, err
	}
	// erin reviews; she cannot review her own (and the demo never asks).
	return w.svc.Approve(ctx, w.erin, articles.TransitionRequest{ID: a.ID}, nil)
}

// 1. A permission that encodes state is refused at registration, in Go
// and in SQL.
func (w *world) statefulPermission(ctx context.Context) error {
	registry, err := authz.NewRegistry(ctx, w.app)
	if err != nil {
		return err
	}
	w.record("developer", `register capability "article.publish_draft"`, registry.Register("article.publish_draft"),
		fault.LayerInvalid, "capability_refused")
	_, err = w.admin.Exec(ctx, `SELECT bulwark.declare_capability('article.publish_draft', 'Publish a draft.')`)
	w.record("migration", "declare article.publish_draft in SQL", db.InterpretError(err), fault.LayerInvariant, fault.CodePreconditionFailed)
	return nil
}

// 2. An author without article.publish is refused.
func (w *world) missingCapability(ctx context.Context) error {
	a, err := w.article(ctx, w.alice, articles.StateApproved)
	if err != nil {
		return err
	}
	w.record("alice", "writes, submits; erin approves", nil, "", "")
	_, err = w.svc.Publish(ctx, w.alice, articles.TransitionRequest{ID: a.ID}, nil)
	w.record("alice", "publish her approved article", err, fault.LayerPermission, fault.CodeMissingCapability)
	return nil
}

// 3. An editor approves their own article: the policy refuses; the same
// through a path that skipped the policy: the database refuses.
func (w *world) selfApproval(ctx context.Context) error {
	a, err := w.article(ctx, w.erin, articles.StateInReview)
	if err != nil {
		return err
	}
	_, err = w.svc.Approve(ctx, w.erin, articles.TransitionRequest{ID: a.ID}, nil)
	w.record("erin", "approve her own article", err, fault.LayerPolicy, articles.CodeOwnArticle)
	_, err = w.q.ArticleApprove(ctx, w.app, db.ArticleApproveParams{Actor: w.erin, ID: a.ID, ExpectedVersion: a.Version})
	w.record("erin", "the same, calling the db function directly", db.InterpretError(err), fault.LayerInvariant, fault.CodeSeparationOfDuties)
	return nil
}

// 4. Sixteen concurrent publishes of one article: one wins.
func (w *world) concurrentPublishes(ctx context.Context) error {
	a, err := w.article(ctx, w.alice, articles.StateApproved)
	if err != nil {
		return err
	}
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = w.svc.Publish(ctx, w.pat, articles.TransitionRequest{ID: a.ID, ExpectedVersion: a.Version}, nil)
		}()
	}
	close(start)
	wg.Wait()
	wins, conflicts := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, fault.ErrConflict):
			conflicts++
		}
	}
	w.raced = a.ID
	log, err := w.q.TransitionLogByEntity(ctx, w.app, a.ID)
	if err != nil {
		return err
	}
	publishes := 0
	for _, e := range log {
		if e.Transition == "publish" {
			publishes++
		}
	}
	w.add(step{
		Who:    "pat ×16",
		Tried:  "publish one article, 16 at once",
		Layer:  fmt.Sprintf("%d ok, %d conflict", wins, conflicts),
		Code:   fault.CodeStaleVersion,
		Reason: fmt.Sprintf("the log shows %d publish transition", publishes),
		Pass:   wins == 1 && conflicts == n-1 && publishes == 1,
	})
	return nil
}

// 5. A retried request with the same idempotency key applies once.
func (w *world) idempotentRetry(ctx context.Context) error {
	a, err := w.article(ctx, w.alice, articles.StateApproved)
	if err != nil {
		return err
	}
	req := articles.TransitionRequest{ID: a.ID, IdemKey: "request-7f3a"}
	first, err1 := w.svc.Publish(ctx, w.pat, req, nil)
	again, err2 := w.svc.Publish(ctx, w.pat, req, nil)
	log, err := w.q.TransitionLogByEntity(ctx, w.app, a.ID)
	if err != nil {
		return err
	}
	w.add(step{
		Who:    "pat",
		Tried:  `publish twice with idempotency key "request-7f3a"`,
		Layer:  "ok",
		Reason: fmt.Sprintf("both answered version %d; the log has %d rows (create..publish)", again.Version, len(log)),
		Pass: err1 == nil && err2 == nil && len(log) == 5 &&
			first.Version == again.Version && first.State == again.State && first.UpdatedAt.Equal(again.UpdatedAt),
	})
	return nil
}

// 6. A scheduled publish done by the job runner as the scheduler.
func (w *world) scheduledPublish(ctx context.Context) error {
	a, err := w.article(ctx, w.alice, articles.StateApproved)
	if err != nil {
		return err
	}
	sched, err := w.svc.SchedulePublish(ctx, w.pat, articles.ScheduleRequest{ArticleID: a.ID, At: time.Now().Add(500 * time.Millisecond)}, nil)
	w.record("pat", "schedule the article's publication in 0.5s", err, "", "")
	if err != nil {
		return nil
	}
	runner, err := jobs.NewRunner(ctx, w.jobs, &jobs.RunnerOpts{FetchPollInterval: 100 * time.Millisecond, Logger: discardLogger()})
	if err != nil {
		return err
	}
	if err := runner.Start(ctx); err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = runner.Stop(stopCtx)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		sched, err = w.q.ArticleScheduleGetByID(ctx, w.app, sched.ID)
		if err != nil {
			return err
		}
		if sched.State != articles.SchedulePending || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, err := w.q.TransitionLogByEntity(ctx, w.app, a.ID)
	if err != nil {
		return err
	}
	last := log[len(log)-1]
	scheduler, err := w.q.PrincipalGetByName(ctx, w.app, jobs.PrincipalScheduler)
	if err != nil {
		return err
	}
	w.add(step{
		Who:    "scheduler",
		Tried:  "the job publishes it at the scheduled time",
		Layer:  "ok",
		Reason: fmt.Sprintf("schedule %s; the log's last row: %s by the scheduler", sched.State, last.Transition),
		Pass:   sched.State == articles.ScheduleDone && last.Transition == "publish" && last.ActorID != nil && *last.ActorID == scheduler.ID,
	})
	return nil
}

// 6b. A job that tries a raw UPDATE is refused.
func (w *world) jobRawUpdate(ctx context.Context) error {
	a, err := w.article(ctx, w.alice, articles.StateDraft)
	if err != nil {
		return err
	}
	_, err = w.jobs.Exec(ctx, `UPDATE app.articles SET state = 'published', published_at = pg_catalog.now() WHERE id = $1`, a.ID)
	w.record("a job", "UPDATE app.articles SET state = 'published' directly", db.InterpretError(err), fault.LayerInvariant, fault.CodeBoundaryViolation)
	return nil
}

// 7. verify passes; a careless migration disables a trigger; verify names
// it; the migration is reverted; verify passes again.
func (w *world) verifyDrift(ctx context.Context) error {
	check := func(who, tried string, wantOK bool, wantObject string) error {
		// Roles are cluster-wide: on a shared server, login members of
		// bulwark_owner are the server's business, not this story's (which
		// adds none). The demo's verify treats them as migration roles, and
		// says so.
		rows, err := w.admin.Query(ctx, `
			SELECT r.rolname FROM pg_catalog.pg_roles AS r
			WHERE r.rolcanlogin AND pg_catalog.pg_has_role(r.oid, 'bulwark_owner', 'MEMBER') AND NOT r.rolsuper
			UNION SELECT current_user ORDER BY 1`)
		if err != nil {
			return err
		}
		owners, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(owners) > 1 {
			w.progress("verify treats the server's login members of bulwark_owner as migration roles: %s", strings.Join(owners, ", "))
		}
		report, err := verify.Run(ctx, w.admin, &verify.Opts{MigrationRoles: owners})
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		s := step{Who: who, Tried: tried, Layer: "ok", Pass: report.OK == wantOK}
		if !report.OK {
			s.Layer, s.Code = "drift", "verify: exit 1"
			failures := report.Failures()
			s.Reason = strings.Join(failures, "; ")
			if wantObject != "" {
				s.Pass = s.Pass && len(failures) == 1 && strings.Contains(failures[0], wantObject)
			}
		} else {
			s.Reason = fmt.Sprintf("%d checks ok", len(report.Checks))
		}
		w.add(s)
		return nil
	}
	if err := check("CI", "bulwark verify", true, ""); err != nil {
		return err
	}
	if _, err := w.admin.Exec(ctx, `ALTER TABLE app.articles DISABLE TRIGGER bulwark_10_boundary`); err != nil {
		return err
	}
	if err := check("migration", "ALTER TABLE app.articles DISABLE TRIGGER bulwark_10_boundary; bulwark verify", false, "bulwark_10_boundary"); err != nil {
		return err
	}
	if _, err := w.admin.Exec(ctx, `ALTER TABLE app.articles ENABLE TRIGGER bulwark_10_boundary`); err != nil {
		return err
	}
	return check("migration", "revert it; bulwark verify", true, "")
}

// 8. The audit trail accounts for every write of the story: bulwark log
// --check replays each entity's history against its row, as the
// application's login.
func (w *world) auditCheck(ctx context.Context) error {
	report, err := auditlog.Check(ctx, w.app, nil)
	if err != nil {
		return fmt.Errorf("check the log: %w", err)
	}
	var entities, rows int64
	for _, m := range report.Machines {
		entities, rows = entities+m.Entities, rows+m.LogRows
	}
	s := step{Who: "auditor", Tried: "bulwark log --check", Layer: "ok", Pass: report.OK,
		Reason: fmt.Sprintf("%d entities, %d log rows: every history replays to its row", entities, rows)}
	if !report.OK {
		s.Layer, s.Code = "gap", "log --check: exit 1"
		s.Reason = fmt.Sprintf("%d gaps, first: %s", report.ProblemCount, report.Problems[0].Detail)
	}
	w.add(s)
	return nil
}
