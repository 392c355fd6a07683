package expenses

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/fault"
)

// Limits, the same as the migration's: the database stays the last line,
// these give a caller a clear error before a round trip.
const (
	MaxDescriptionLength = 500
	MaxIdemKeyLength     = 200
	MaxNoteLength        = 2000
)

// CodeMissingNote is the invalid-input code of a rejection without a
// reason.
const CodeMissingNote = "missing_note"

func checkText(field, s string, maxRunes int) error {
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return authz.Invalid(fault.CodeInvalidText, field+" must be valid UTF-8 without NUL characters")
	}
	if n := utf8.RuneCountInString(s); n > maxRunes {
		return authz.Invalid(fault.CodeTooLong, fmt.Sprintf("%s is longer than %d characters", field, maxRunes))
	}
	return nil
}

func checkAmount(cents int64) error {
	if cents <= 0 {
		return authz.Invalid(fault.CodeInvalidInput, "an amount is a positive number of cents")
	}
	return nil
}

func checkTarget(id uuid.UUID, version int32) error {
	if id == uuid.Nil {
		return authz.Invalid(authz.CodeMissingID, "a claim id is required")
	}
	if version < 0 {
		return authz.Invalid(fault.CodeInvalidInput, "an expected version is 1 or more (0: the current one)")
	}
	return nil
}

func checkIdemKey(key string) error {
	if key == "" {
		return nil
	}
	if err := checkText("idempotency key", key, MaxIdemKeyLength); err != nil {
		return err
	}
	if strings.ContainsFunc(key, unicode.IsControl) {
		return authz.Invalid(fault.CodeInvalidInput, "idempotency key must not contain control characters")
	}
	return nil
}

// Validate refuses a create the database would refuse.
func (req CreateRequest) Validate() error {
	if err := checkAmount(req.AmountCents); err != nil {
		return err
	}
	if err := checkText("description", req.Description, MaxDescriptionLength); err != nil {
		return err
	}
	return checkIdemKey(req.IdemKey)
}

// Validate refuses an edit the database would refuse.
func (req EditRequest) Validate() error {
	if err := checkTarget(req.ID, req.ExpectedVersion); err != nil {
		return err
	}
	if req.AmountCents != nil {
		if err := checkAmount(*req.AmountCents); err != nil {
			return err
		}
	}
	if req.Description != nil {
		if err := checkText("description", *req.Description, MaxDescriptionLength); err != nil {
			return err
		}
	}
	return checkIdemKey(req.IdemKey)
}

// Validate refuses a transition request the database would refuse.
func (req TransitionRequest) Validate() error {
	if err := checkTarget(req.ID, req.ExpectedVersion); err != nil {
		return err
	}
	if err := checkText("note", req.Note, MaxNoteLength); err != nil {
		return err
	}
	return checkIdemKey(req.IdemKey)
}

// rejectRequest is a rejection: a transition whose note is required.
type rejectRequest struct{ TransitionRequest }

// Validate refuses a rejection that does not say why.
func (req rejectRequest) Validate() error {
	if strings.TrimSpace(req.Note) == "" {
		return authz.Invalid(CodeMissingNote, "a rejection says why, in its note")
	}
	return req.TransitionRequest.Validate()
}
