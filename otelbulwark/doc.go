// Package otelbulwark traces and measures bulwark's gate and grants cache
// with OpenTelemetry.
//
// No domain knowledge here; it observes the gate, it never decides.
//
// # Traces
//
// An [Observer] is an [authz.StepObserver]: give it to the gate
// ([authz.GateOpts]) and every gate call becomes a span, bulwark.gate, with
// a child per step the call reached: bulwark.permission, bulwark.snapshot,
// bulwark.policy and bulwark.transition ([authz.Step]). A call through
// [authz.DoRetry] is a span bulwark.retry whose children are its attempts.
// The gate span is a child of the caller's span when the context carries
// one, and its trace id is the call's correlation id, written to
// bulwark.transition_log.correlation_id: an audit row leads to its trace.
//
// Spans carry these attributes (an allowed call has no layer or code):
//
//	bulwark.action          the action's name ("article.publish")
//	bulwark.attempt         1, or the attempt's number under DoRetry
//	bulwark.attempts        on bulwark.retry: the attempts made
//	bulwark.capability      what the principal needed ("" for reads)
//	bulwark.code            the refusing layer's stable code
//	bulwark.correlation_id  the trace id, as in the audit log
//	bulwark.grants.cache    on bulwark.permission: hit or miss
//	bulwark.layer           invalid, permission, not_found, conflict, policy, invariant, unavailable
//	bulwark.outcome         allowed, denied or failed
//	bulwark.principal_id    the acting principal
//	bulwark.replay          true when an idempotency key was replayed
//	bulwark.retryable       whether a fresh attempt may succeed
//	bulwark.target          what the action names as its target
//
// An invariant failure, unavailable, or an error that names no layer (a
// lost connection) sets the span's status to Error: the first is a defect,
// the others an outage. Denials, conflicts, bad input and missing targets
// are answers, not errors, and leave the status unset.
//
// # Metrics
//
//	bulwark.gate.decisions          counter: calls by action, outcome, layer, code
//	bulwark.gate.duration           histogram (s): a call's latency by action, outcome, layer
//	bulwark.gate.step.duration      histogram (s): a step's latency by action, step
//	bulwark.gate.retries            counter: attempts after the first, by action
//	bulwark.gate.conflicts          counter: calls that ended in a conflict, by action, code
//	bulwark.gate.replays            counter: idempotent replays, by action
//	bulwark.grants.lookups          counter: principal lookups by bulwark.grants.cache (hit, miss)
//	bulwark.grants.change_to_effect histogram (s): from a grant change's audit row to the cache dropping it, by bulwark.grants.change and bulwark.grants.scope
//
// bulwark.grants.change is the audit row's transition (role_revoke,
// role_grant, principal_create, maintenance_update, ...), so revoke-to-effect
// is the series with role_revoke; bulwark.grants.scope is principal, or all
// for a change of a role's capabilities, which drops every principal.
//
// The grants metrics need the observer in [authz.GrantsOpts] too. Package
// jobs adds River's own metrics and spans (rivercontrib/otelriver) and the
// queue depth, and `bulwark jobs --metrics-addr` serves all of them to
// Prometheus.
package otelbulwark
