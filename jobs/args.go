package jobs

import "github.com/google/uuid"

// ScheduledPublishArgs is the job that publishes a scheduled article. Only
// the schedule functions of the database queue it (app.article_schedule_
// enqueue, under the kind "bulwark.scheduled_publish"); the token is the
// schedule's at queueing time: after a move the schedule has a new token
// and this job is stale.
type ScheduledPublishArgs struct {
	ScheduleID uuid.UUID `json:"schedule_id"`
	Token      uuid.UUID `json:"token"`
}

// Kind is River's name for the job. The SQL that queues it writes the same
// name.
func (ScheduledPublishArgs) Kind() string { return "bulwark.scheduled_publish" }

// RetentionArgs is the periodic job that archives published articles
// older than the configured age.
type RetentionArgs struct{}

// Kind is River's name for the job.
func (RetentionArgs) Kind() string { return "bulwark.retention" }

// ReconcileArgs is the periodic job that keeps every pending schedule's job
// alive (see [RunnerOpts.ReconcileInterval]).
type ReconcileArgs struct{}

// Kind is River's name for the job.
func (ReconcileArgs) Kind() string { return "bulwark.schedule_reconcile" }
