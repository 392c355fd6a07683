package articles

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
)

// The decisions a background runner needs, made here so that the runner
// (package jobs, over River) only translates them: which job is the kit's,
// whether its schedule is due and still its own, whether the schedule's
// creator still may publish, and what to record when it may not. The work
// lists are reads through the gate, as the principal that works them.

// ListExpiredRequest asks for published articles older than a cut-off,
// oldest first: the retention job's work list. Needs article.archive.
type ListExpiredRequest struct {
	Limit           int // 1..1000
	PublishedBefore time.Time
}

// Validate refuses a missing cut-off and a page out of bounds.
func (req ListExpiredRequest) Validate() error {
	if req.PublishedBefore.IsZero() {
		return authz.Invalid(fault.CodeInvalidInput, "a retention cut-off is required")
	}
	if req.Limit < 1 || req.Limit > 1000 {
		return authz.Invalid(fault.CodeInvalidInput, "a page holds 1 to 1000 articles")
	}
	return nil
}

// ListJoblessRequest asks for pending schedules without a live job of the
// kit, oldest time first: the reconciler's work list. Needs
// article.schedule.
type ListJoblessRequest struct {
	Limit int // 1..1000
}

// Validate refuses a page out of bounds.
func (req ListJoblessRequest) Validate() error {
	if req.Limit < 1 || req.Limit > 1000 {
		return authz.Invalid(fault.CodeInvalidInput, "a page holds 1 to 1000 schedules")
	}
	return nil
}

// ListExpired returns the retention job's work list.
func (s *Service) ListExpired(ctx context.Context, actor uuid.UUID, req ListExpiredRequest) ([]Article, error) {
	return authz.Do(ctx, s.gate, actor, s.listExpired, req, nil)
}

// ListJobless returns the reconciler's work list.
func (s *Service) ListJobless(ctx context.Context, actor uuid.UUID, req ListJoblessRequest) ([]Schedule, error) {
	return authz.Do(ctx, s.gate, actor, s.listJobless, req, nil)
}

// ScheduledRunRequest is one attempt of a scheduled-publish job, as its
// runner received it.
type ScheduledRunRequest struct {
	// JobID is the runner's id of the job; the schedule ledger
	// (app.article_schedule_jobs, written only by the schedule functions)
	// must name it.
	JobID int64
	// LastAttempt says the runner gives up after this attempt: a failure
	// that a retry could cure is then recorded on the schedule too.
	LastAttempt bool
	ScheduleID  uuid.UUID
	Token       uuid.UUID
}

// ScheduledOutcome is what a scheduled-publish attempt came to.
type ScheduledOutcome string

const (
	// ScheduledPublished: the article was published and the schedule
	// completed, in one transaction.
	ScheduledPublished ScheduledOutcome = "published"
	// ScheduledStale: the schedule was moved, cancelled or ended since the
	// job was queued; another job (or a person) owns it. Nothing to do.
	ScheduledStale ScheduledOutcome = "stale"
	// ScheduledNotDue: the schedule's time has not come (the job was made
	// due early); try again after Wait.
	ScheduledNotDue ScheduledOutcome = "not_due"
	// ScheduledFailed: the publication was refused for good (or retries
	// ran out), and the schedule records Refusal. Do not retry.
	ScheduledFailed ScheduledOutcome = "failed"
	// ScheduledNotQueued: the kit did not queue this job (the ledger does
	// not name it, or names other arguments): it must do nothing. Why says
	// which.
	ScheduledNotQueued ScheduledOutcome = "not_queued"
)

// ScheduledRun is the outcome of [Service.RunScheduled].
type ScheduledRun struct {
	Outcome ScheduledOutcome
	// Refusal is the layer that refused, for ScheduledFailed: what the
	// schedule recorded. When the schedule was ended elsewhere meanwhile,
	// that outcome stands and EndedElsewhere is set.
	Refusal        *fault.Error
	EndedElsewhere error
	Schedule       Schedule
	Wait           time.Duration // ScheduledNotDue
	Why            string        // ScheduledNotQueued
}

// CodeCreatorLacksCapability: the schedule's creator no longer holds
// article.publish when it comes due.
const CodeCreatorLacksCapability = "creator_lacks_capability"

// RunScheduled works one attempt of a scheduled publication as the
// scheduler principal: it checks that the kit queued the job for this
// schedule and token, that the schedule is still pending under that token
// and due, and that its creator still holds article.publish (a schedule
// carries its creator's authority); then publishes through the gate and
// completes the schedule in one transaction. A failure no retry can change
// (permission, policy, invariant, invalid, not found), or any failure on
// the last attempt, is recorded on the schedule (transition fail), and the
// outcome is ScheduledFailed. It returns an error, for the runner to retry
// the job, when a retry may help: a conflict or an outage, or a failure it
// could not record.
func (s *Service) RunScheduled(ctx context.Context, scheduler uuid.UUID, req ScheduledRunRequest) (ScheduledRun, error) {
	// Job runners can write River's table; only the schedule functions can
	// write the ledger. A job it does not name, as queued, is not ours.
	row, err := db.New().ArticleScheduleGetByJobID(ctx, s.gate.Pool(), req.JobID)
	if err != nil {
		if errors.Is(db.InterpretError(err), fault.ErrNotFound) {
			return ScheduledRun{Outcome: ScheduledNotQueued, Why: "no schedule function queued it"}, nil
		}
		return ScheduledRun{}, fmt.Errorf("look up job %d in the schedule ledger: %w", req.JobID, db.InterpretError(err))
	}
	sched := row.AppArticleSchedule
	if row.QueuedScheduleID != req.ScheduleID || row.QueuedToken != req.Token {
		return ScheduledRun{Outcome: ScheduledNotQueued, Why: fmt.Sprintf("its arguments are not those queued for schedule %s", row.QueuedScheduleID)}, nil
	}
	if sched.State != SchedulePending || sched.Token != row.QueuedToken {
		return ScheduledRun{Outcome: ScheduledStale, Schedule: sched}, nil
	}
	// The schedule's time, not the job's, decides: a job made due early
	// (by someone with access to River's tables) waits.
	if wait := time.Until(sched.PublishAt); wait > 0 {
		return ScheduledRun{Outcome: ScheduledNotDue, Schedule: sched, Wait: wait}, nil
	}
	creator, err := s.gate.Grants().Principal(ctx, sched.CreatedBy)
	if err == nil && !creator.Can(CanPublish) {
		err = &fault.Error{
			Layer:  fault.LayerPermission,
			Code:   CodeCreatorLacksCapability,
			Reason: fmt.Sprintf("%s, who scheduled it, no longer holds %s", creator.Name, CanPublish),
		}
	}
	if err == nil {
		err = db.WithTx(ctx, s.gate.Pool(), func(tx pgx.Tx) error {
			opts := &authz.DoOpts{Tx: tx}
			if _, err := s.Publish(ctx, scheduler, TransitionRequest{ID: sched.ArticleID, IdemKey: "schedule:" + sched.Token.String()}, opts); err != nil {
				return err
			}
			done, err := s.EndSchedule(ctx, scheduler, EndScheduleRequest{ID: sched.ID, Token: sched.Token, Transition: "complete"}, opts)
			sched = done
			return err
		})
	}
	if err == nil {
		return ScheduledRun{Outcome: ScheduledPublished, Schedule: sched}, nil
	}
	e, isFinal := Final(err)
	if !isFinal && !req.LastAttempt {
		return ScheduledRun{}, err // a conflict or an outage: retry, and the gate decides again
	}
	if !isFinal {
		// The last attempt: record why, so the schedule does not stay
		// pending (and block a new one) after the runner gives up.
		e = exhausted(err)
	}
	// Record why on the schedule (a separate transaction: the publication
	// rolled back). Recording needs only article.schedule, so it works even
	// when publishing was revoked.
	run := ScheduledRun{Outcome: ScheduledFailed, Refusal: e, Schedule: sched}
	failed, endErr := s.EndSchedule(ctx, scheduler, EndScheduleRequest{ID: sched.ID, Token: sched.Token, Transition: "fail", Outcome: e}, nil)
	if endErr != nil {
		if endE, ok := Final(endErr); !ok || endE.Layer == fault.LayerPermission || endE.Layer == fault.LayerInvariant {
			// The failure is not on record: retry the job rather than
			// leave a pending schedule that nothing will finish.
			return ScheduledRun{}, fmt.Errorf("record failed schedule %s: %w", sched.ID, endErr)
		}
		// Someone ended or moved it meanwhile: that outcome stands.
		run.EndedElsewhere = endErr
		return run, nil
	}
	run.Schedule = failed
	return run, nil
}

// Final reports whether err ends a background attempt for good: a layered
// failure that no retry can change. Conflicts and errors that name no
// layer (a lost connection) may be cured by a retry.
func Final(err error) (*fault.Error, bool) {
	var e *fault.Error
	if !errors.As(err, &e) || e.Retryable() {
		return nil, false
	}
	return e, true
}

// exhausted describes a failure that retries did not cure: a conflict
// keeps its layer; an error that names none (an outage) is unavailable
// ([fault.LayerUnavailable], [fault.CodeRetriesExhausted]).
func exhausted(err error) *fault.Error {
	e := &fault.Error{Layer: fault.LayerUnavailable, Code: fault.CodeRetriesExhausted, Reason: err.Error(), Cause: err}
	var layered *fault.Error
	if errors.As(err, &layered) {
		e.Layer, e.Reason = layered.Layer, layered.Reason
	}
	return e
}
