// Package jobs runs bulwark's background jobs on River, through the same
// gate as every other caller.
//
// Jobs get no shortcut: each acts as a service principal with explicit
// grants (scheduler, retention), calls the article service, and connects
// as a login role that is a member of bulwark_jobs, which holds DML on
// River's tables and none on guarded data.
//
// The package is a thin adapter: every domain decision (is a job the kit's,
// is its schedule due and still its own, may its creator still publish,
// what to record when not; which articles expired, which schedules lost
// their job) is the articles service's ([articles.Service.RunScheduled],
// ListExpired, ListJobless, through the gate). Here they become River's
// answers: snooze, cancel, retry.
//
// # Which jobs
//
// Every runner purges expired idempotency keys (bulwark.idempotency_purge,
// the core's), so a team's database migrated with the core and River
// lines and its own (bulwark migrate up --with-river) runs the runner as
// well. The article jobs (scheduled publication, its reconciler, and
// retention) are the reference article domain's: a runner works them only
// where the article line is applied, and refuses retention elsewhere (see
// [NewRunner]). Every runner needs River's line, and a login that is a
// member of bulwark_jobs: without either, [NewRunner] refuses before River
// starts ([ErrRiverLineMissing], [ErrNotJobsMember]).
//
// # Who may give orders
//
// A River job row is an order to act as a service principal, so River's
// doors are guarded like the rest:
//
//   - River's tables: only bulwark_jobs (the runners) may read or write
//     them; the application roles and PUBLIC hold nothing in schema river,
//     and `bulwark verify` checks that. Applications queue a scheduled
//     publication only by calling the schedule functions
//     (app.article_schedule_publish, _move), which insert the job
//     themselves, in the same transaction, and record it in a ledger that
//     only they write (app.article_schedule_jobs).
//   - Workers believe nothing a job row says: the scheduled-publish worker
//     acts only on a job the ledger names with the same arguments, for a
//     pending schedule whose token matches, not before its time; any other
//     job does nothing and is cancelled with [ErrNotQueuedByKit] in its
//     errors. Retention runs only in a runner configured with a positive
//     age; elsewhere its worker is not even registered.
//   - River's control channel (NOTIFY river.river_control) takes orders
//     from any login, so runners never LISTEN: they poll (River's PollOnly).
//
// # Failure semantics
//
// A conflict (the world moved) is retried with backoff, and each attempt
// runs the whole gate again, so the policy sees the new state. Permission,
// policy, invariant and invalid-input failures are final: the job is
// cancelled with the layer and reason recorded (on the schedule, and in
// River's job errors). An invariant failure is also logged at error level:
// the layers above let through something the database had to refuse.
//
// Faults are bounded (see [RunnerOpts]): a runner that dies mid-job has its
// job retried by another once River's leader takes it for stuck, and a
// reconciler on the leader queues a new job for a pending schedule whose
// job was lost, or fails the schedule, with the reason, after three
// requeues.
package jobs
