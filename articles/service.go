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
	get             *authz.Action[Article, uuid.UUID, Article]
	list            *authz.Action[Page, ListRequest, Page]
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

	s.create = &authz.Action[struct{}, CreateRequest, Article]{
		Name:         "article.create",
		Capability:   CanCreate,
		ValidateFunc: validateCreate,
		LoadFunc: func(context.Context, db.DBTX, CreateRequest) (struct{}, error) {
			return struct{}{}, nil
		},
		PolicyFunc:  func(*authz.Principal, struct{}, CreateRequest) authz.Decision { return authz.Allow() },
		IdemKeyFunc: func(req CreateRequest) string { return req.IdemKey },
		ActFunc: func(ctx context.Context, conn db.DBTX, c authz.Call[struct{}, CreateRequest]) (Article, error) {
			return q.ArticleCreate(ctx, conn, db.ArticleCreateParams{
				Actor:   c.Principal.ID,
				Title:   c.Request.Title,
				Body:    c.Request.Body,
				IdemKey: optional(c.Request.IdemKey),
			})
		},
	}

	s.edit = &authz.Action[Article, EditRequest, Article]{
		Name:         "article.edit",
		Capability:   CanEdit,
		ValidateFunc: validateEdit,
		LoadFunc: func(ctx context.Context, conn db.DBTX, req EditRequest) (Article, error) {
			return q.ArticleGetByID(ctx, conn, req.ID)
		},
		ExpectFunc: func(a Article, req EditRequest) error {
			return expectVersion("article", a.ID, a.Version, req.ExpectedVersion)
		},
		PolicyFunc: PolicyEdit,
		ActFunc: func(ctx context.Context, conn db.DBTX, c authz.Call[Article, EditRequest]) (Article, error) {
			return q.ArticleEdit(ctx, conn, db.ArticleEditParams{
				Actor:           c.Principal.ID,
				ID:              c.Snapshot.ID,
				ExpectedVersion: c.Snapshot.Version,
				Title:           c.Request.Title,
				Slug:            c.Request.Slug,
				Summary:         c.Request.Summary,
				Body:            c.Request.Body,
				IdemKey:         optional(c.Request.IdemKey),
			})
		},
		TargetFunc:  func(req EditRequest) string { return req.ID.String() },
		IdemKeyFunc: func(req EditRequest) string { return req.IdemKey },
	}

	transition := func(name string, capability authz.Capability, policy authz.Policy[Article, TransitionRequest],
		call func(ctx context.Context, conn db.DBTX, actor uuid.UUID, a Article, req TransitionRequest) (Article, error),
	) *authz.Action[Article, TransitionRequest, Article] {
		return &authz.Action[Article, TransitionRequest, Article]{
			Name:         name,
			Capability:   capability,
			ValidateFunc: validateTransition,
			LoadFunc: func(ctx context.Context, conn db.DBTX, req TransitionRequest) (Article, error) {
				return q.ArticleGetByID(ctx, conn, req.ID)
			},
			ExpectFunc: func(a Article, req TransitionRequest) error {
				return expectVersion("article", a.ID, a.Version, req.ExpectedVersion)
			},
			PolicyFunc: policy,
			ActFunc: func(ctx context.Context, conn db.DBTX, c authz.Call[Article, TransitionRequest]) (Article, error) {
				return call(ctx, conn, c.Principal.ID, c.Snapshot, c.Request)
			},
			TargetFunc:  func(req TransitionRequest) string { return req.ID.String() },
			IdemKeyFunc: func(req TransitionRequest) string { return req.IdemKey },
		}
	}
	// Each call passes the snapshot's version: the function refuses (as a
	// conflict) if the article moved since the policy looked at it.
	s.submit = transition("article.submit", CanSubmit, PolicySubmit,
		func(ctx context.Context, conn db.DBTX, actor uuid.UUID, a Article, req TransitionRequest) (Article, error) {
			return q.ArticleSubmit(ctx, conn, db.ArticleSubmitParams{Actor: actor, ID: a.ID, ExpectedVersion: a.Version, IdemKey: optional(req.IdemKey)})
		})
	s.requestChanges = transition("article.request_changes", CanReview, PolicyRequestChanges,
		func(ctx context.Context, conn db.DBTX, actor uuid.UUID, a Article, req TransitionRequest) (Article, error) {
			return q.ArticleRequestChanges(ctx, conn, db.ArticleRequestChangesParams{Actor: actor, ID: a.ID, ExpectedVersion: a.Version, Note: optional(req.Note), IdemKey: optional(req.IdemKey)})
		})
	s.approve = transition("article.approve", CanReview, PolicyApprove,
		func(ctx context.Context, conn db.DBTX, actor uuid.UUID, a Article, req TransitionRequest) (Article, error) {
			return q.ArticleApprove(ctx, conn, db.ArticleApproveParams{Actor: actor, ID: a.ID, ExpectedVersion: a.Version, IdemKey: optional(req.IdemKey)})
		})
	s.withdraw = transition("article.withdraw", CanReview, PolicyWithdraw,
		func(ctx context.Context, conn db.DBTX, actor uuid.UUID, a Article, req TransitionRequest) (Article, error) {
			return q.ArticleWithdraw(ctx, conn, db.ArticleWithdrawParams{Actor: actor, ID: a.ID, ExpectedVersion: a.Version, IdemKey: optional(req.IdemKey)})
		})
	// Publishing needs one more piece of context than the other
	// transitions: whether another published article holds the slug.
	s.publish = &authz.Action[publishTarget, TransitionRequest, Article]{
		Name:         "article.publish",
		Capability:   CanPublish,
		ValidateFunc: validateTransition,
		LoadFunc: func(ctx context.Context, conn db.DBTX, req TransitionRequest) (publishTarget, error) {
			a, err := q.ArticleGetByID(ctx, conn, req.ID)
			if err != nil {
				return publishTarget{}, err
			}
			taken, err := q.ArticleSlugTaken(ctx, conn, db.ArticleSlugTakenParams{Slug: a.Slug, ID: a.ID})
			return publishTarget{Article: a, SlugTaken: taken}, err
		},
		ExpectFunc: func(t publishTarget, req TransitionRequest) error {
			return expectVersion("article", t.Article.ID, t.Article.Version, req.ExpectedVersion)
		},
		PolicyFunc: policyPublishTarget,
		ActFunc: func(ctx context.Context, conn db.DBTX, c authz.Call[publishTarget, TransitionRequest]) (Article, error) {
			a := c.Snapshot.Article
			return q.ArticlePublish(ctx, conn, db.ArticlePublishParams{Actor: c.Principal.ID, ID: a.ID, ExpectedVersion: a.Version, IdemKey: optional(c.Request.IdemKey)})
		},
		TargetFunc:  func(req TransitionRequest) string { return req.ID.String() },
		IdemKeyFunc: func(req TransitionRequest) string { return req.IdemKey },
	}
	s.archive = transition("article.archive", CanArchive, PolicyArchive,
		func(ctx context.Context, conn db.DBTX, actor uuid.UUID, a Article, req TransitionRequest) (Article, error) {
			return q.ArticleArchive(ctx, conn, db.ArticleArchiveParams{Actor: actor, ID: a.ID, ExpectedVersion: a.Version, IdemKey: optional(req.IdemKey)})
		})

	s.get = &authz.Action[Article, uuid.UUID, Article]{
		Name:         "article.get",
		ReadOnly:     true,
		ValidateFunc: validateGet,
		LoadFunc: func(ctx context.Context, conn db.DBTX, id uuid.UUID) (Article, error) {
			return q.ArticleGetByID(ctx, conn, id)
		},
		PolicyFunc: PolicyGet,
		ActFunc: func(_ context.Context, _ db.DBTX, c authz.Call[Article, uuid.UUID]) (Article, error) {
			return c.Snapshot, nil
		},
		TargetFunc: func(id uuid.UUID) string { return id.String() },
	}

	s.list = &authz.Action[Page, ListRequest, Page]{
		Name:         "article.list",
		ReadOnly:     true,
		ValidateFunc: validateList,
		LoadFunc: func(ctx context.Context, conn db.DBTX, req ListRequest) (Page, error) {
			limit := req.Limit
			if limit == 0 {
				limit = 20
			}
			params := db.ArticleListByStateParams{State: string(req.State), MaxRows: int32(limit)}
			if req.After != nil {
				params.AfterCreatedAt, params.AfterID = req.After.CreatedAt, req.After.ID
			}
			rows, err := q.ArticleListByState(ctx, conn, params)
			if err != nil {
				return Page{}, err
			}
			page := Page{Articles: rows}
			if len(rows) == limit {
				last := rows[len(rows)-1]
				page.Next = &Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
			}
			return page, nil
		},
		PolicyFunc: PolicyList,
		ActFunc: func(_ context.Context, _ db.DBTX, c authz.Call[Page, ListRequest]) (Page, error) {
			return c.Snapshot, nil
		},
		TargetFunc: func(req ListRequest) string { return "state=" + string(req.State) },
	}
	s.scheduleActions()
	return s, nil
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

// expectVersion refuses, as a conflict, a snapshot at another version than
// the one the caller pinned, before any policy looks at a state the caller
// never saw. 0 means the caller pinned none.
func expectVersion(kind string, id uuid.UUID, current, pinned int32) error {
	if pinned != 0 && pinned != current {
		return &authz.Error{
			Layer:  authz.LayerConflict,
			Code:   db.CodeStaleVersion,
			Reason: fmt.Sprintf("%s %s is at version %d, not %d", kind, id, current, pinned),
		}
	}
	return nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// doWith runs a through the gate, retrying conflicts when s was made with
// Retrying.
func doWith[S, R, T any](ctx context.Context, s *Service, actor uuid.UUID, a *authz.Action[S, R, T], req R, opts *authz.DoOpts) (T, error) {
	if s.retry != nil {
		return authz.DoRetry(ctx, s.gate, actor, a, req, opts, s.retry)
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
// others to the author and the staff.
func (s *Service) Get(ctx context.Context, actor uuid.UUID, id uuid.UUID) (Article, error) {
	return authz.Do(ctx, s.gate, actor, s.get, id, nil)
}

// List returns one page of the articles in a state, oldest first.
func (s *Service) List(ctx context.Context, actor uuid.UUID, req ListRequest) (Page, error) {
	return authz.Do(ctx, s.gate, actor, s.list, req, nil)
}
