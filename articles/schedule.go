package articles

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
)

// Schedule is a scheduled publication as the database returned it.
type Schedule = db.AppArticleSchedule

// Schedule states.
const (
	ScheduleCancelled = "cancelled"
	ScheduleDone      = "done"
	ScheduleFailed    = "failed"
	SchedulePending   = "pending"
)

// ScheduleRequest schedules the publication of an approved article.
type ScheduleRequest struct {
	ArticleID uuid.UUID
	At        time.Time
	IdemKey   string
}

// MoveScheduleRequest moves a pending schedule to another time.
type MoveScheduleRequest struct {
	ID              uuid.UUID
	At              time.Time
	ExpectedVersion int32 // 0: the gate's snapshot
	IdemKey         string
}

// EndScheduleRequest ends a pending schedule. Jobs pass the token they
// were queued with, so a job for a moved schedule cannot end it.
type EndScheduleRequest struct {
	ID              uuid.UUID
	ExpectedVersion int32 // 0: the gate's snapshot
	IdemKey         string
	// Outcome is set when the schedule failed: the layer that refused the
	// publication, and its code and reason.
	Outcome    *fault.Error
	Token      uuid.UUID // uuid.Nil: any (a person cancelling)
	Transition string    // complete, cancel or fail
}

// RequeueScheduleRequest queues a new job for a pending schedule whose job
// is gone: the reconciler's action. Token is the schedule's token when it
// was found without a job.
type RequeueScheduleRequest struct {
	ID    uuid.UUID
	Token uuid.UUID
}

// ArchiveExpiredRequest archives a published article older than a cut-off:
// the retention job's action.
type ArchiveExpiredRequest struct {
	ID              uuid.UUID
	PublishedBefore time.Time
}

// Schedule policy codes. CodeAlreadyScheduled is also the code of the
// conflict the article migrations declare on the one-pending-schedule index
// (bulwark.declare_conflict): two schedulers raced, and the retry meets
// this policy.
const (
	CodeAlreadyScheduled = "already_scheduled"
	CodeNotExpired       = "not_expired"
	CodeStaleSchedule    = "stale_schedule"
)

// CodeJobLost is the outcome code of a schedule that
// app.article_schedule_requeue failed: its job for one time was lost (it
// vanished, was cancelled or discarded by someone other than the kit, or
// was altered) four times.
const CodeJobLost = "job_lost"

// scheduleTarget is the schedule policy's snapshot: the article, and the
// time of its pending schedule, if any.
type scheduleTarget = db.ArticleGetForScheduleRow

// PolicySchedulePublish: only an approved article is scheduled, and only
// once at a time.
func PolicySchedulePublish(_ *authz.Principal, t scheduleTarget, _ ScheduleRequest) authz.Decision {
	if d := wrongState("schedule the publication of", t.AppArticle, StateApproved); !d.Allowed {
		return d
	}
	if t.PendingAt != nil {
		return authz.Deny(CodeAlreadyScheduled, fmt.Sprintf("the article is already scheduled for %s", t.PendingAt.UTC().Format(time.RFC3339)))
	}
	return authz.Allow()
}

// PolicyMoveSchedule: only a pending schedule moves.
func PolicyMoveSchedule(_ *authz.Principal, s Schedule, _ MoveScheduleRequest) authz.Decision {
	if s.State != SchedulePending {
		return authz.Deny(CodeWrongState, fmt.Sprintf("the schedule is %s", s.State))
	}
	return authz.Allow()
}

// PolicyEndSchedule: only a pending schedule ends, and a job only ends the
// schedule it was queued for.
func PolicyEndSchedule(_ *authz.Principal, s Schedule, req EndScheduleRequest) authz.Decision {
	if s.State != SchedulePending {
		return authz.Deny(CodeWrongState, fmt.Sprintf("the schedule is %s", s.State))
	}
	if req.Token != uuid.Nil && req.Token != s.Token {
		return authz.Deny(CodeStaleSchedule, "the schedule was moved since this job was queued")
	}
	if req.Transition != "cancel" && req.Token == uuid.Nil {
		return authz.Deny(CodeStaleSchedule, "only the job queued for a schedule completes or fails it")
	}
	return authz.Allow()
}

// PolicyRequeueSchedule: only a pending schedule gets a new job, and only
// for the time it was found without one.
func PolicyRequeueSchedule(_ *authz.Principal, s Schedule, req RequeueScheduleRequest) authz.Decision {
	if s.State != SchedulePending {
		return authz.Deny(CodeWrongState, fmt.Sprintf("the schedule is %s", s.State))
	}
	if req.Token != s.Token {
		return authz.Deny(CodeStaleSchedule, "the schedule was moved since it was found without a job")
	}
	return authz.Allow()
}

// PolicyArchiveExpired: a published article whose publication is older
// than the cut-off.
func PolicyArchiveExpired(_ *authz.Principal, a Article, req ArchiveExpiredRequest) authz.Decision {
	if d := wrongState("archive as expired", a, StatePublished); !d.Allowed {
		return d
	}
	if a.PublishedAt == nil || !a.PublishedAt.Before(req.PublishedBefore) {
		return authz.Deny(CodeNotExpired, "the article was published after the retention cut-off")
	}
	return authz.Allow()
}

// Validate refuses a schedule request without article or time.
func (req ScheduleRequest) Validate() error {
	if err := checkID(req.ArticleID); err != nil {
		return err
	}
	if req.At.IsZero() {
		return authz.Invalid(fault.CodeInvalidInput, "a publication time is required")
	}
	return checkIdemKey(req.IdemKey)
}

// Validate refuses a move without schedule or time.
func (req MoveScheduleRequest) Validate() error {
	if req.ID == uuid.Nil {
		return authz.Invalid(CodeMissingID, "a schedule id is required")
	}
	if req.At.IsZero() {
		return authz.Invalid(fault.CodeInvalidInput, "a publication time is required")
	}
	if err := checkVersion(req.ExpectedVersion); err != nil {
		return err
	}
	return checkIdemKey(req.IdemKey)
}

// Validate refuses an unknown ending, and an outcome where none belongs.
func (req EndScheduleRequest) Validate() error {
	if req.ID == uuid.Nil {
		return authz.Invalid(CodeMissingID, "a schedule id is required")
	}
	switch req.Transition {
	case "complete", "cancel":
		if req.Outcome != nil {
			return authz.Invalid(fault.CodeInvalidInput, "only a failed schedule records an outcome")
		}
	case "fail":
		if req.Outcome == nil {
			return authz.Invalid(fault.CodeInvalidInput, "a failed schedule records the refusing layer")
		}
	default:
		return authz.Invalid(fault.CodeInvalidInput, fmt.Sprintf("a schedule ends by complete, cancel or fail, not %q", req.Transition))
	}
	if err := checkVersion(req.ExpectedVersion); err != nil {
		return err
	}
	return checkIdemKey(req.IdemKey)
}

// Validate refuses a requeue without schedule or token.
func (req RequeueScheduleRequest) Validate() error {
	if req.ID == uuid.Nil {
		return authz.Invalid(CodeMissingID, "a schedule id is required")
	}
	if req.Token == uuid.Nil {
		return authz.Invalid(fault.CodeInvalidInput, "requeueing a schedule needs its token")
	}
	return nil
}

// Validate refuses an archive without article or cut-off.
func (req ArchiveExpiredRequest) Validate() error {
	if err := checkID(req.ID); err != nil {
		return err
	}
	if req.PublishedBefore.IsZero() {
		return authz.Invalid(fault.CodeInvalidInput, "a retention cut-off is required")
	}
	return nil
}

// What the schedule requests say about themselves to the gate.

// TargetID returns the article.
func (req ScheduleRequest) TargetID() uuid.UUID { return req.ArticleID }

// IdempotencyKey returns the request's key.
func (req ScheduleRequest) IdempotencyKey() string { return req.IdemKey }

// TargetID returns the schedule.
func (req MoveScheduleRequest) TargetID() uuid.UUID { return req.ID }

// IdempotencyKey returns the request's key.
func (req MoveScheduleRequest) IdempotencyKey() string { return req.IdemKey }

// PinnedVersion returns the version the caller saw, or 0.
func (req MoveScheduleRequest) PinnedVersion() int32 { return req.ExpectedVersion }

// TargetID returns the schedule.
func (req EndScheduleRequest) TargetID() uuid.UUID { return req.ID }

// IdempotencyKey returns the request's key.
func (req EndScheduleRequest) IdempotencyKey() string { return req.IdemKey }

// PinnedVersion returns the version the caller saw, or 0.
func (req EndScheduleRequest) PinnedVersion() int32 { return req.ExpectedVersion }

// TargetID returns the schedule.
func (req RequeueScheduleRequest) TargetID() uuid.UUID { return req.ID }

// TargetID returns the article.
func (req ArchiveExpiredRequest) TargetID() uuid.UUID { return req.ID }

// scheduleActions builds the schedule actions; called by NewService. The
// schedule functions queue the schedule's River job themselves, in the same
// transaction: nothing here touches River.
func (s *Service) scheduleActions() {
	q := db.New()

	// Whether the article has a pending schedule is a fact about another
	// table: never taken from a copy.
	s.schedulePublish = authz.Transition("article.schedule_publish", CanPublish /* publishing, later */, q.ArticleGetForSchedule, PolicySchedulePublish,
		func(ctx context.Context, conn db.DBTX, c authz.Call[scheduleTarget, ScheduleRequest]) (Schedule, error) {
			return q.ArticleSchedulePublish(ctx, conn, db.ArticleSchedulePublishParams{
				Actor: c.Actor(), ArticleID: c.Request.ArticleID, PublishAt: c.Request.At, IdemKey: c.IdemKey(),
			})
		})
	s.schedulePublish.ReadsBeyondTarget = true
	s.moveSchedule = authz.Transition("article.move_schedule", CanPublish, q.ArticleScheduleGetByID, PolicyMoveSchedule,
		func(ctx context.Context, conn db.DBTX, c authz.Call[Schedule, MoveScheduleRequest]) (Schedule, error) {
			// The new token makes the job queued for the old time stale.
			return q.ArticleScheduleMove(ctx, conn, db.ArticleScheduleMoveParams{
				Actor: c.Actor(), ID: c.Snapshot.ID, ExpectedVersion: c.Snapshot.Version, PublishAt: c.Request.At, IdemKey: c.IdemKey(),
			})
		})
	s.endSchedule = authz.Transition("article.end_schedule", CanSchedule, q.ArticleScheduleGetByID, PolicyEndSchedule,
		func(ctx context.Context, conn db.DBTX, c authz.Call[Schedule, EndScheduleRequest]) (Schedule, error) {
			params := db.ArticleScheduleEndParams{
				Actor:           c.Actor(),
				ID:              c.Snapshot.ID,
				ExpectedVersion: &c.Snapshot.Version,
				Transition:      c.Request.Transition,
				IdemKey:         c.IdemKey(),
			}
			if c.Request.Token != uuid.Nil {
				params.Token = &c.Request.Token
			}
			if o := c.Request.Outcome; o != nil {
				layer := string(o.Layer)
				params.OutcomeLayer, params.OutcomeCode, params.OutcomeReason = &layer, &o.Code, &o.Reason
			}
			return q.ArticleScheduleEnd(ctx, conn, params)
		})
	s.requeueSchedule = authz.Transition("article.requeue_schedule", CanSchedule, q.ArticleScheduleGetByID, PolicyRequeueSchedule,
		func(ctx context.Context, conn db.DBTX, c authz.Call[Schedule, RequeueScheduleRequest]) (Schedule, error) {
			return q.ArticleScheduleRequeue(ctx, conn, db.ArticleScheduleRequeueParams{Actor: c.Actor(), ID: c.Snapshot.ID, Token: c.Request.Token})
		})
	s.archiveExpired = authz.Transition("article.archive_expired", CanArchive, q.ArticleGetByID, PolicyArchiveExpired,
		func(ctx context.Context, conn db.DBTX, c authz.Call[Article, ArchiveExpiredRequest]) (Article, error) {
			return q.ArticleArchive(ctx, conn, db.ArticleArchiveParams{
				Actor: c.Actor(), ID: c.Snapshot.ID, ExpectedVersion: c.Snapshot.Version,
				IdemKey: optional("retention:" + c.Snapshot.ID.String()),
			})
		})
	s.listExpired = authz.Query("article.list_expired", CanArchive,
		func(ctx context.Context, conn db.DBTX, req ListExpiredRequest) ([]Article, error) {
			return q.ArticleListPublishedBefore(ctx, conn, db.ArticleListPublishedBeforeParams{PublishedBefore: req.PublishedBefore, MaxRows: int32(req.Limit)})
		}, nil)
	s.listJobless = authz.Query("article.list_jobless_schedules", CanSchedule,
		func(ctx context.Context, conn db.DBTX, req ListJoblessRequest) ([]Schedule, error) {
			return q.ArticleScheduleListWithoutJob(ctx, conn, int32(req.Limit))
		}, nil)
}

// SchedulePublish records that an approved article is to be published at
// req.At and queues the job that will do it, in one transaction (the
// database function does both). Needs
// article.publish: scheduling is publishing, later. An article has at most one pending schedule: a second
// is refused by the policy, or, when two race, by the database (a
// conflict whose retry meets the policy).
func (s *Service) SchedulePublish(ctx context.Context, actor uuid.UUID, req ScheduleRequest, opts *authz.DoOpts) (Schedule, error) {
	return doWith(ctx, s, actor, s.schedulePublish, req, opts)
}

// MoveSchedule moves a pending schedule to req.At and queues a job for the
// new time; the job queued for the old time finds itself stale.
func (s *Service) MoveSchedule(ctx context.Context, actor uuid.UUID, req MoveScheduleRequest, opts *authz.DoOpts) (Schedule, error) {
	return doWith(ctx, s, actor, s.moveSchedule, req, opts)
}

// EndSchedule completes, cancels or fails a pending schedule. Needs
// article.schedule. People cancel; the scheduled-publish job completes or
// fails it, presenting the schedule's token.
func (s *Service) EndSchedule(ctx context.Context, actor uuid.UUID, req EndScheduleRequest, opts *authz.DoOpts) (Schedule, error) {
	return doWith(ctx, s, actor, s.endSchedule, req, opts)
}

// RequeueSchedule queues a new job for a pending schedule that has none
// (its job vanished, was cancelled or discarded by someone other than the
// kit, or was altered), or, when its job for this time was already lost
// four times, fails it as unavailable ([CodeJobLost]): the returned
// schedule says which. With a live job it changes nothing. Needs
// article.schedule: the reconciler of package jobs calls it as the
// scheduler.
func (s *Service) RequeueSchedule(ctx context.Context, actor uuid.UUID, req RequeueScheduleRequest, opts *authz.DoOpts) (Schedule, error) {
	return doWith(ctx, s, actor, s.requeueSchedule, req, opts)
}

// ArchiveExpired archives a published article whose publication is older
// than req.PublishedBefore. Needs article.archive: the retention job's
// action, with a policy of its own (expiry) instead of the archive policy's
// roles.
func (s *Service) ArchiveExpired(ctx context.Context, actor uuid.UUID, req ArchiveExpiredRequest, opts *authz.DoOpts) (Article, error) {
	return doWith(ctx, s, actor, s.archiveExpired, req, opts)
}
