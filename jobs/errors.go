package jobs

import "errors"

// ErrNotQueuedByKit reports a job row that the kit did not queue: a
// scheduled publication that no schedule function queued (the schedule
// ledger does not name it), or one whose arguments were changed after. The
// scheduled-publish worker returns it, wrapped with the job and the reason,
// through river.JobCancel, so that River records it in the job's errors;
// the job does nothing. Retrying cannot help.
var ErrNotQueuedByKit = errors.New("bulwark jobs: job not queued by the kit")

// ErrInvalidOpts reports [RunnerOpts] that cannot work: a negative
// duration, a rescue horizon shorter than the job timeout, or retention
// (a positive RetentionAge) on a database without the article line, which
// matches [ErrArticleLineMissing] too. [NewRunner] returns it, wrapped
// with the option at fault.
var ErrInvalidOpts = errors.New("jobs: invalid runner options")

// ErrArticleLineMissing reports work that needs the article line (the
// line named schema.LineArticles, package sql/schema) asked of a database
// where it is not applied: retention, which archives articles. [NewRunner]
// returns it together with [ErrInvalidOpts] for a positive RetentionAge
// there.
var ErrArticleLineMissing = errors.New("jobs: the article line is not applied to this database")

// ErrRiverLineMissing reports a database where River's migration line
// (the line named schema.LineRiver) is not applied, so there are no River
// tables for a runner to work: one migrated with the core alone (bulwark
// migrate up without --with-river), or with River rolled back. [NewRunner] returns
// it, before River is started; apply the line (bulwark migrate up
// --with-river, or schema.Up with schema.River()) and try again.
var ErrRiverLineMissing = errors.New("jobs: River's migration line is not applied to this database")

// ErrNotJobsMember reports a pool whose login is not a member of
// bulwark_jobs, the role that holds River's tables and that the service
// principals of jobs are bound to. [NewRunner] returns it, wrapped with
// the login, before River is started.
var ErrNotJobsMember = errors.New("jobs: the login is not a member of bulwark_jobs")

// alsoIs is an error whose text is err's that matches sentinel as well as
// what err matches: a second sentinel without a second message.
type alsoIs struct {
	err      error
	sentinel error
}

func (e *alsoIs) Error() string   { return e.err.Error() }
func (e *alsoIs) Unwrap() []error { return []error{e.err, e.sentinel} }
