package scaffold

import (
	"errors"
	"fmt"
	"strings"
)

// SyntaxError reports a declaration that is not the JSON [Parse] expects:
// malformed JSON, an unknown key, a value of the wrong type. Fix the file;
// retrying cannot help.
type SyntaxError struct {
	// Offset is the byte offset in the input where reading stopped.
	Offset int64
	Err    error
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("declaration is not valid (byte %d): %v", e.Offset, e.Err)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// Problem is one thing wrong with a declaration.
type Problem struct {
	// Field locates the problem, as a path of JSON keys and indexes:
	// "transitions[2].from[0]".
	Field string
	// Message says what is wrong.
	Message string
}

func (p Problem) String() string { return p.Field + ": " + p.Message }

// ValidationError reports every problem [Declaration.Validate] found,
// in the declaration's order. Nothing is generated from a declaration
// with problems.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = "  " + p.String()
	}
	noun := "problems"
	if len(e.Problems) == 1 {
		noun = "problem"
	}
	return fmt.Sprintf("declaration has %d %s:\n%s", len(e.Problems), noun, strings.Join(lines, "\n"))
}

// ErrExists is matched (errors.Is) by an *ExistsError.
var ErrExists = errors.New("scaffold: file exists")

// ExistsError reports files [Write] would have overwritten; it wrote none.
// Move them away, or write with [WriteOpts].Force.
type ExistsError struct {
	Paths []string
}

func (e *ExistsError) Error() string {
	return fmt.Sprintf("refusing to overwrite %s (use --force to overwrite)", strings.Join(e.Paths, ", "))
}

// Is makes errors.Is(err, ErrExists) true.
func (e *ExistsError) Is(target error) bool { return target == ErrExists }
