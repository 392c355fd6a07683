package articles

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/fault"
)

// Limits, the same as the database's constraints: the database stays the
// last line, these give a caller a clear error before a round trip.
const (
	MaxBodyBytes     = 1 << 20
	MaxIdemKeyLength = 200
	MaxNoteLength    = 2000
	MaxSlugLength    = 120
	MaxSummaryLength = 1000
	MaxTitleLength   = 300
)

// CodeMissingID is the invalid-input code for a nil article id.
const CodeMissingID = authz.CodeMissingID

var slugPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// checkText refuses text a database column would refuse: invalid UTF-8,
// NUL, control characters where a single line is expected, and text longer
// than max runes.
func checkText(field, s string, maxRunes int, multiline bool) error {
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return authz.Invalid(fault.CodeInvalidText, field+" must be valid UTF-8 without NUL characters")
	}
	if n := utf8.RuneCountInString(s); n > maxRunes {
		return authz.Invalid(fault.CodeTooLong, fmt.Sprintf("%s is longer than %d characters", field, maxRunes))
	}
	if !multiline && strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r'
	}) {
		return authz.Invalid(fault.CodeInvalidInput, field+" must not contain control characters")
	}
	return nil
}

func checkID(id uuid.UUID) error {
	if id == uuid.Nil {
		return authz.Invalid(CodeMissingID, "an article id is required")
	}
	return nil
}

func checkVersion(v int32) error {
	if v < 0 {
		return authz.Invalid(fault.CodeInvalidInput, "an expected version is 1 or more (0: the current one)")
	}
	return nil
}

func checkIdemKey(key string) error {
	if key == "" {
		return nil
	}
	if err := checkText("idempotency key", key, MaxIdemKeyLength, false); err != nil {
		return err
	}
	if strings.ContainsFunc(key, unicode.IsControl) {
		return authz.Invalid(fault.CodeInvalidInput, "idempotency key must not contain control characters")
	}
	return nil
}

func checkBody(body string) error {
	if !utf8.ValidString(body) || strings.ContainsRune(body, 0) {
		return authz.Invalid(fault.CodeInvalidText, "body must be valid UTF-8 without NUL characters")
	}
	if len(body) > MaxBodyBytes {
		return authz.Invalid(fault.CodeTooLong, "body is larger than 1 MiB")
	}
	return nil
}

func checkSlug(slug string) error {
	if err := checkText("slug", slug, MaxSlugLength, false); err != nil {
		return err
	}
	if !slugPattern.MatchString(slug) {
		return authz.Invalid(fault.CodeInvalidInput, "slug must be lower-case words of a-z and 0-9 joined by single hyphens")
	}
	return nil
}

// Validate refuses a create the database would refuse: no title, text
// too long or malformed.
func (req CreateRequest) Validate() error {
	if strings.TrimSpace(req.Title) == "" {
		return authz.Invalid(fault.CodeInvalidInput, "an article needs a title")
	}
	if err := checkText("title", req.Title, MaxTitleLength, false); err != nil {
		return err
	}
	if err := checkBody(req.Body); err != nil {
		return err
	}
	return checkIdemKey(req.IdemKey)
}

// Validate refuses an edit the database would refuse.
func (req EditRequest) Validate() error {
	if err := checkID(req.ID); err != nil {
		return err
	}
	if err := checkVersion(req.ExpectedVersion); err != nil {
		return err
	}
	if req.Title != nil {
		if err := checkText("title", *req.Title, MaxTitleLength, false); err != nil {
			return err
		}
	}
	if req.Slug != nil {
		if err := checkSlug(*req.Slug); err != nil {
			return err
		}
	}
	if req.Summary != nil {
		if err := checkText("summary", *req.Summary, MaxSummaryLength, false); err != nil {
			return err
		}
	}
	if req.Body != nil {
		if err := checkBody(*req.Body); err != nil {
			return err
		}
	}
	return checkIdemKey(req.IdemKey)
}

// Validate refuses a transition request the database would refuse.
func (req TransitionRequest) Validate() error {
	if err := checkID(req.ID); err != nil {
		return err
	}
	if err := checkVersion(req.ExpectedVersion); err != nil {
		return err
	}
	if err := checkText("note", req.Note, MaxNoteLength, true); err != nil {
		return err
	}
	return checkIdemKey(req.IdemKey)
}

// Validate refuses an unknown state and a page size out of bounds.
func (req ListRequest) Validate() error {
	known := false
	for _, s := range States() {
		known = known || s == req.State
	}
	if !known {
		return authz.Invalid("unknown_state", fmt.Sprintf("unknown article state %q", req.State))
	}
	if req.Limit < 0 || req.Limit > 100 {
		return authz.Invalid(fault.CodeInvalidInput, "a page holds 1 to 100 articles")
	}
	return nil
}
