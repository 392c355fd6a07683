package jobs

import "github.com/google/uuid"

// ScheduledPublishArgs is the job that publishes a scheduled article. The
// token is the schedule's at queueing time: after a move the schedule has
// a new token and this job is stale.
type ScheduledPublishArgs struct {
	ScheduleID uuid.UUID `json:"schedule_id"`
	Token      uuid.UUID `json:"token"`
}

// Kind is River's name for the job.
func (ScheduledPublishArgs) Kind() string { return "bulwark.scheduled_publish" }

// RetentionArgs is the periodic job that archives published articles
// older than the configured age.
type RetentionArgs struct{}

// Kind is River's name for the job.
func (RetentionArgs) Kind() string { return "bulwark.retention" }
