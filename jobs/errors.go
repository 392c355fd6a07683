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
// (a positive RetentionAge) on a database without the article line.
// [NewRunner] returns it, wrapped with the option at fault.
var ErrInvalidOpts = errors.New("bulwark jobs: invalid runner options")
