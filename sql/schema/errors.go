package schema

import (
	"errors"
	"fmt"
)

// ErrNothingApplied reports that [Down] or [Redo] found no applied
// migration in the line, or a line that was never migrated; nothing
// changed. Running them again cannot help.
var ErrNothingApplied = errors.New("schema: no migration of the line is applied")

// LineError reports a line that cannot be used as given: a bad name or
// version table, or two lines of one run that share either. Returned by
// [Own], [Up] and the other runs before they touch the database; fix the
// call.
type LineError struct {
	// Line is the line's name.
	Line string
	// Problem says what is wrong with it.
	Problem string
}

func (e *LineError) Error() string {
	return fmt.Sprintf("schema: line %s: %s", e.Line, e.Problem)
}

// RequirementError reports a line given to [Up] without a line it requires
// before it (the articles without River, say). Nothing was migrated; pass
// the required line first.
type RequirementError struct {
	// Line is the line that has the requirement.
	Line string
	// Requires is the line missing before it.
	Requires string
}

func (e *RequirementError) Error() string {
	return fmt.Sprintf("schema: line %s requires line %s before it", e.Line, e.Requires)
}

// DependentError reports a line that [Down], [Redo] or [Reset] would not
// roll back because another line that requires it has applied migrations:
// rolling the core back under the article domain would leave the domain's
// version table claiming tables that are gone. Nothing was rolled back;
// roll the dependent line back first.
type DependentError struct {
	// Line is the line asked to go down.
	Line string
	// Dependent is the applied line that requires it.
	Dependent string
}

func (e *DependentError) Error() string {
	return fmt.Sprintf("schema: line %s is applied and requires line %s: roll it back first", e.Dependent, e.Line)
}

// MigrationFileError reports a line whose migration files goose cannot
// take: a file that does not parse (no `-- +goose Up` annotation, a
// StatementBegin without its StatementEnd), two migrations with one
// version, or no migration at all. Returned by [Line.Check], and by [Up],
// [Redo] and [Reset] before they touch the database: nothing was applied
// or rolled back, in any line. Running again cannot help; fix the files.
type MigrationFileError struct {
	// Line is the line's name.
	Line string
	// File is the file at fault, by its path in the line's file system:
	// the one that does not parse, or the later of two with one version.
	// Empty when no single file is (a line without migrations).
	File string
	// Err is goose's error, which says what is wrong.
	Err error
}

func (e *MigrationFileError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("schema: line %s: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("schema: line %s: migration %s: %v", e.Line, e.File, e.Err)
}

func (e *MigrationFileError) Unwrap() error { return e.Err }
