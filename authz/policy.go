package authz

// Decision is a policy's answer: allow, or deny with a stable reason code
// and a sentence a person can read.
type Decision struct {
	Allowed bool
	Code    string
	Reason  string
}

// Allow returns the allowing decision.
func Allow() Decision { return Decision{Allowed: true} }

// Deny returns a denying decision. code is stable (services switch on it);
// reason is for people.
func Deny(code, reason string) Decision { return Decision{Code: code, Reason: reason} }

// Policy decides whether a request makes sense in context. It is a pure
// function of the principal, a snapshot of the target and the request: it
// never touches the database, so it cannot see concurrent requests. The
// database's version check catches what changed since the snapshot.
type Policy[S, R any] func(p *Principal, snapshot S, req R) Decision
