// Package fault is bulwark's vocabulary of failure: the layer that refused
// ([Layer]), one sentinel per layer for errors.Is ([ErrConflict], ...), the
// [Error] type every bulwark package returns, and the stable codes it
// carries.
//
// The rule of this package: it is a leaf. It imports nothing of bulwark and
// no driver, so the generated seam (package db), the gate (package authz)
// and every domain name the same type, and a service can switch on a
// failure without importing the database's packages.
//
// # Layers
//
// Each layer answers a different question, so a caller reacts to each
// differently:
//
//	layer        meaning                                                 HTTP  retry?
//	invalid      the request is malformed                                400   no
//	permission   the principal lacks the capability                     403   no
//	not_found    no such entity or principal                             404   no
//	conflict     the world moved: a stale version, a lost race           409   yes, unless Final
//	policy       the request makes no sense in this context              422   no
//	invariant    the database refused what the layers above prevent     500   no
//	unavailable  the database or a dependency did not answer in time    503   yes, later
//
// [Layers] lists them, and [Layer.Declared] says whether a string is one.
// A layer is part of the API: services log it, metrics and problem types
// carry it, and a domain may record it in a column whose CHECK names the
// same strings (a test proves every such list, and every layer literal in
// Go, names only declared layers).
//
// # Who produces what
//
// Package db maps SQLSTATEs to layers (db.InterpretError, the only place
// that does), and maps the unique and exclusion constraints a domain
// declared with bulwark.declare_conflict to conflicts with the declared
// code. Package authz adds the Go layers' own: invalid input, permission
// before any write, and policy (only the Go policy layer returns it: the
// database has no policies). Background work that gave up on errors that
// name no layer (a lost connection, retries run out) reports unavailable.
//
// # Codes
//
// [Error.Code] is a stable, machine-readable code, such as
// [CodeStaleVersion]. The constants here are the kit's own; a domain adds
// its policies' reason codes and the codes it declares for its
// constraints. Codes never change meaning.
package fault
