package articles

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/db"
)

// Service is the article workflow's Go API. Every method goes through the
// gate; none writes a table.
type Service struct {
	approve         *authz.Action[Article, TransitionRequest, Article]
	archive         *authz.Action[Article, TransitionRequest, Article]
	archiveExpired  *authz.Action[Article, ArchiveExpiredRequest, Article]
	create          *authz.Action[struct{}, CreateRequest, Article]
	edit            *authz.Action[Article, EditRequest, Article]
	endSchedule     *authz.Action[Schedule, EndScheduleRequest, Schedule]
	gate            *authz.Gate
	get             *authz.Action[Article, authz.ByID, Article]
	list            *authz.Action[Page, ListRequest, Page]
	listExpired     *authz.Action[[]Article, ListExpiredRequest, []Article]
	listJobless     *authz.Action[[]Schedule, ListJoblessRequest, []Schedule]
	moveSchedule    *authz.Action[Schedule, MoveScheduleRequest, Schedule]
	publish         *authz.Action[publishTarget, TransitionRequest, Article]
	requestChanges  *authz.Action[Article, TransitionRequest, Article]
	requeueSchedule *authz.Action[Schedule, RequeueScheduleRequest, Schedule]
	retry           *authz.RetryOpts
	schedulePublish *authz.Action[scheduleTarget, ScheduleRequest, Schedule]
	submit          *authz.Action[Article, TransitionRequest, Article]
	withdraw        *authz.Action[Article, TransitionRequest, Article]
}

// ServiceOpts are options for [NewService]. A nil *ServiceOpts means
// defaults; there are no others yet.
type ServiceOpts struct{}

// NewService returns the article service. It registers the article
// capabilities against the database's rule and declarations, so a Go
// capability that drifted from the migrations fails here, at start-up.
func NewService(ctx context.Context, gate *authz.Gate, _ *ServiceOpts) (*Service, error) {
	registry, err := authz.NewRegistry(ctx, gate.Pool())
	if err != nil {
		return nil, err
	}
	if err := registry.Register(Capabilities()...); err != nil {
		return nil, fmt.Errorf("register article capabilities: %w", err)
	}
	q := db.New()
	s := &Service{gate: gate}

	// What each action adds to the gate is its policy and its SQL call; the
	// requests name their target, key and pinned version themselves, and
	// each call passes the snapshot's version, so the function refuses (as
	// a conflict) an article that moved since the policy looked at it.
	s.create = authz.Create("article.create", CanCreate,
		func(ctx context.Context, conn db.DBTX, c authz.Call[struct{}, CreateRequest]) (Article, error) {
			return q.ArticleCreate(ctx, conn, db.ArticleCreateParams{Actor: c.Actor(), Title: c.Request.Title, Body: c.Request.Body, IdemKey: c.IdemKey()})
		})
	s.edit = authz.Transition("article.edit", CanEdit, q.ArticleGetByID, PolicyEdit,
		func(ctx context.Context, conn db.DBTX, c authz.Call[Article, EditRequest]) (Article, error) {
			r := c.Request
			return q.ArticleEdit(ctx, conn, db.ArticleEditParams{
				Actor: c.Actor(), ID: c.Snapshot.ID, ExpectedVersion: c.Snapshot.Version,
				Title: r.Title, Slug: r.Slug, Summary: r.Summary, Body: r.Body, IdemKey: c.IdemKey(),
			})
		})
	s.submit = authz.Transition("article.submit", CanSubmit, q.ArticleGetByID, PolicySubmit,
		func(ctx context.Context, conn db.DBTX, c authz.Call[Article, TransitionRequest]) (Article, error) {
			return q.ArticleSubmit(ctx, conn, db.ArticleSubmitParams{Actor: c.Actor(), ID: c.Snapshot.ID, ExpectedVersion: c.Snapshot.Version, IdemKey: c.IdemKey()})
		})
	s.requestChanges = authz.Transition("article.request_changes", CanReview, q.ArticleGetByID, PolicyRequestChanges,
		func(ctx context.Context, conn db.DBTX, c authz.Call[Article, TransitionRequest]) (Article, error) {
			return q.ArticleRequestChanges(ctx, conn, db.ArticleRequestChangesParams{Actor: c.Actor(), ID: c.Snapshot.ID, ExpectedVersion: c.Snapshot.Version, Note: optional(c.Request.Note), IdemKey: c.IdemKey()})
		})
	s.approve = authz.Transition("article.approve", CanReview, q.ArticleGetByID, PolicyApprove,
		func(ctx context.Context, conn db.DBTX, c authz.Call[Article, TransitionRequest]) (Article, error) {
			return q.ArticleApprove(ctx, conn, db.ArticleApproveParams{Actor: c.Actor(), ID: c.Snapshot.ID, ExpectedVersion: c.Snapshot.Version, IdemKey: c.IdemKey()})
		})
	s.withdraw = authz.Transition("article.withdraw", CanReview, q.ArticleGetByID, PolicyWithdraw,
		func(ctx context.Context, conn db.DBTX, c authz.Call[Article, TransitionRequest]) (Article, error) {
			return q.ArticleWithdraw(ctx, conn, db.ArticleWithdrawParams{Actor: c.Actor(), ID: c.Snapshot.ID, ExpectedVersion: c.Snapshot.Version, IdemKey: c.IdemKey()})
		})
	// Publishing needs one more fact than the other transitions, read in
	// the same query: whether another published article holds the slug.
	// It is about other rows, so it is never taken from a copy.
	s.publish = authz.Transition("article.publish", CanPublish, q.ArticleGetForPublish, policyPublishTarget,
		func(ctx context.Context, conn db.DBTX, c authz.Call[publishTarget, TransitionRequest]) (Article, error) {
			a := c.Snapshot.AppArticle
			return q.ArticlePublish(ctx, conn, db.ArticlePublishParams{Actor: c.Actor(), ID: a.ID, ExpectedVersion: a.Version, IdemKey: c.IdemKey()})
		})
	s.publish.ReadsBeyondTarget = true
	s.archive = authz.Transition("article.archive", CanArchive, q.ArticleGetByID, PolicyArchive,
		func(ctx context.Context, conn db.DBTX, c authz.Call[Article, TransitionRequest]) (Article, error) {
			return q.ArticleArchive(ctx, conn, db.ArticleArchiveParams{Actor: c.Actor(), ID: c.Snapshot.ID, ExpectedVersion: c.Snapshot.Version, IdemKey: c.IdemKey()})
		})

	// A read the policy refuses answers not found: whether a draft exists
	// is not for everyone to learn.
	s.get = authz.Read("article.get", "", q.ArticleGetByID, PolicyGet)
	s.list = authz.Query("article.list", "", s.loadPage, PolicyList)
	s.scheduleActions()
	return s, nil
}

// loadPage reads one page of a list.
func (s *Service) loadPage(ctx context.Context, conn db.DBTX, req ListRequest) (Page, error) {
	limit := req.Limit
	if limit == 0 {
		limit = 20
	}
	params := db.ArticleListByStateParams{State: string(req.State), MaxRows: int32(limit)}
	if req.After != nil {
		params.AfterCreatedAt, params.AfterID = req.After.CreatedAt, req.After.ID
	}
	rows, err := db.New().ArticleListByState(ctx, conn, params)
	if err != nil {
		return Page{}, err
	}
	page := Page{Articles: rows}
	if len(rows) == limit {
		last := rows[len(rows)-1]
		page.Next = &Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	return page, nil
}

// Retrying returns a copy of s whose state-changing methods retry
// conflicts with [authz.DoRetry]: re-load, re-decide, try again.
func (s *Service) Retrying(opts *authz.RetryOpts) *Service {
	c := *s
	if opts == nil {
		opts = &authz.RetryOpts{}
	}
	c.retry = opts
	return &c
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// doWith runs a through the gate, retrying conflicts when s was made with
// Retrying and the call names no retry of its own.
func doWith[S, R, T any](ctx context.Context, s *Service, actor uuid.UUID, a *authz.Action[S, R, T], req R, opts *authz.DoOpts) (T, error) {
	if s.retry != nil && (opts == nil || opts.Retry == nil) {
		o := authz.DoOpts{}
		if opts != nil {
			o = *opts
		}
		o.Retry = s.retry
		opts = &o
	}
	return authz.Do(ctx, s.gate, actor, a, req, opts)
}

// Create makes a draft authored by actor. Needs article.create.
func (s *Service) Create(ctx context.Context, actor uuid.UUID, req CreateRequest, opts *authz.DoOpts) (Article, error) {
	return doWith(ctx, s, actor, s.create, req, opts)
}

// Edit changes a draft's content. Needs article.edit; only the author edits.
func (s *Service) Edit(ctx context.Context, actor uuid.UUID, req EditRequest, opts *authz.DoOpts) (Article, error) {
	return doWith(ctx, s, actor, s.edit, req, opts)
}

// Submit sends a draft for review. Needs article.submit; only the author.
func (s *Service) Submit(ctx context.Context, actor uuid.UUID, req TransitionRequest, opts *authz.DoOpts) (Article, error) {
	return doWith(ctx, s, actor, s.submit, req, opts)
}

// RequestChanges returns an article in review to draft with a note. Needs
// article.review; never on one's own article.
func (s *Service) RequestChanges(ctx context.Context, actor uuid.UUID, req TransitionRequest, opts *authz.DoOpts) (Article, error) {
	return doWith(ctx, s, actor, s.requestChanges, req, opts)
}

// Approve approves an article in review. Needs article.review; never one's
// own article (the database refuses that too).
func (s *Service) Approve(ctx context.Context, actor uuid.UUID, req TransitionRequest, opts *authz.DoOpts) (Article, error) {
	return doWith(ctx, s, actor, s.approve, req, opts)
}

// Withdraw returns an approved article to draft. Needs article.review;
// never on one's own article.
func (s *Service) Withdraw(ctx context.Context, actor uuid.UUID, req TransitionRequest, opts *authz.DoOpts) (Article, error) {
	return doWith(ctx, s, actor, s.withdraw, req, opts)
}

// Publish publishes an approved article with complete metadata. Needs
// article.publish.
func (s *Service) Publish(ctx context.Context, actor uuid.UUID, req TransitionRequest, opts *authz.DoOpts) (Article, error) {
	return doWith(ctx, s, actor, s.publish, req, opts)
}

// Archive archives a draft (its author or an admin) or a published article
// (a publisher or an admin). Needs article.archive.
func (s *Service) Archive(ctx context.Context, actor uuid.UUID, req TransitionRequest, opts *authz.DoOpts) (Article, error) {
	return doWith(ctx, s, actor, s.archive, req, opts)
}

// Get returns an article the actor may see: published ones to everyone,
// others to the author and the staff. One the actor may not see is not
// found, exactly as a missing one: the refusal is observed, not told.
func (s *Service) Get(ctx context.Context, actor uuid.UUID, id uuid.UUID) (Article, error) {
	return authz.Do(ctx, s.gate, actor, s.get, authz.ByID(id), nil)
}

// GetFrom is Get with options: a snapshot source (a replica, the cache),
// say.
func (s *Service) GetFrom(ctx context.Context, actor uuid.UUID, id uuid.UUID, opts *authz.DoOpts) (Article, error) {
	return authz.Do(ctx, s.gate, actor, s.get, authz.ByID(id), opts)
}

// List returns one page of the articles in a state, oldest first.
func (s *Service) List(ctx context.Context, actor uuid.UUID, req ListRequest) (Page, error) {
	return authz.Do(ctx, s.gate, actor, s.list, req, nil)
}
