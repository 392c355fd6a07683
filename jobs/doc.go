// Package jobs runs bulwark's background jobs on River, through the same
// gate as every other caller.
//
// Jobs get no shortcut: each acts as a service principal with explicit
// grants (scheduler, retention), calls the article service, and connects
// as a login role that is a member of bulwark_jobs, which holds DML on
// River's tables and none on guarded data.
//
// # Failure semantics
//
// A conflict (the world moved) is retried with backoff, and each attempt
// runs the whole gate again, so the policy sees the new state. Permission,
// policy, invariant and invalid-input failures are final: the job is
// cancelled with the layer and reason recorded (on the schedule, and in
// River's job errors). An invariant failure is also logged at error level:
// the layers above let through something the database had to refuse.
package jobs
