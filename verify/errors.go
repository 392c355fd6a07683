package verify

import (
	"errors"
	"fmt"
)

// ErrNotInstalled reports that the database has no schema bulwark: it was
// never migrated. Returned by [Run]; migrating (`bulwark migrate up`) is
// the fix, retrying is not.
var ErrNotInstalled = errors.New("bulwark: schema bulwark is missing: this database was never migrated (run bulwark migrate up)")

// ErrNoContract reports that schema bulwark exists without the
// enforcement contract (bulwark.contract_constraints), as an older
// bulwark made it, so there is nothing to verify constraints and
// migrations against. Returned by [Run]; migrating is the fix, retrying
// is not.
var ErrNoContract = errors.New("bulwark: the database predates the enforcement contract (bulwark.contract_constraints): run bulwark migrate up")

// ErrNoRecord reports that schema bulwark exists without the boundary's
// record (bulwark.contract_objects, the core's migration 00002), so there is nothing
// to compare the functions, columns and triggers with. Returned by [Run];
// migrating is the fix, retrying is not.
var ErrNoRecord = errors.New("bulwark: the database predates the boundary's record (bulwark.contract_objects): run bulwark migrate up")

// CheckError reports that a check could not run, most often because the
// role lacks a privilege (SELECT on a bulwark table or on goose's version
// table, EXECUTE on bulwark.capability_name_problem) or the connection
// failed. Returned by [Run]. Retrying as the migration role, or as a
// member of bulwark_app that may read the version table, may help.
type CheckError struct {
	// Check names the check, or the shared data, that could not be read.
	Check string
	// Err is the cause, with the server's SQLSTATE when there is one.
	Err error
}

func (e *CheckError) Error() string {
	return fmt.Sprintf("bulwark: verify stopped at %s: %v", e.Check, e.Err)
}

func (e *CheckError) Unwrap() error { return e.Err }
