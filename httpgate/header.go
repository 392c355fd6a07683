package httpgate

import (
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bulwarkdb/bulwark/authz"
)

// Header names this package reads and writes.
const (
	HeaderETag           = "ETag"
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderIfMatch        = "If-Match"
	HeaderRequestID      = "X-Request-Id"
)

// Codes of the invalid-input errors for malformed headers.
const (
	CodeInvalidIdempotencyKey = "invalid_idempotency_key"
	CodeInvalidIfMatch        = "invalid_if_match"
)

// MaxIdempotencyKeyLength is the longest key bulwark stores (runes).
const MaxIdempotencyKeyLength = 200

// IdempotencyKey returns the request's Idempotency-Key, or "" when it sent
// none. The value is a bare key (Idempotency-Key: 8e03978e-40d5) or a
// structured-field string, as the IETF draft writes it
// (Idempotency-Key: "8e03978e-40d5"). A key that is empty, longer than 200
// characters, sent twice, or holds control characters or a malformed
// quoted string is an invalid-input error (400).
func IdempotencyKey(r *http.Request) (string, error) {
	values := r.Header.Values(HeaderIdempotencyKey)
	switch len(values) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", invalidKey("send one Idempotency-Key")
	}
	key := strings.TrimSpace(values[0])
	if strings.HasPrefix(key, `"`) {
		var ok bool
		if key, ok = unquoteString(key); !ok {
			return "", invalidKey(`Idempotency-Key must be a key or a quoted string such as "8e03978e-40d5"`)
		}
	}
	switch {
	case key == "":
		return "", invalidKey("Idempotency-Key is empty")
	case !utf8.ValidString(key) || strings.ContainsFunc(key, isControl):
		return "", invalidKey("Idempotency-Key must be printable text")
	case utf8.RuneCountInString(key) > MaxIdempotencyKeyLength:
		return "", invalidKey("Idempotency-Key is longer than 200 characters")
	}
	return key, nil
}

func invalidKey(reason string) error { return authz.Invalid(CodeInvalidIdempotencyKey, reason) }

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// unquoteString decodes an RFC 8941 sf-string: printable ASCII between
// double quotes, with \" and \\ as the only escapes.
func unquoteString(s string) (string, bool) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", false
	}
	var b strings.Builder
	for i := 1; i < len(s)-1; i++ {
		c := s[i]
		switch {
		case c == '\\':
			i++
			if i == len(s)-1 || (s[i] != '"' && s[i] != '\\') {
				return "", false
			}
			b.WriteByte(s[i])
		case c == '"' || c < 0x20 || c > 0x7e:
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// IfMatch returns the version the request's If-Match pins, or 0 when it
// sent none or "*" (any current version: the action's own checks decide).
// The header must be one strong entity tag holding a version, as [ETag]
// writes it ("3"); a weak tag (W/"3"), a list, or anything else is an
// invalid-input error (400), since a version cannot match it.
func IfMatch(r *http.Request) (int32, error) {
	values := r.Header.Values(HeaderIfMatch)
	if len(values) == 0 {
		return 0, nil
	}
	if len(values) > 1 {
		return 0, invalidIfMatch()
	}
	v := strings.TrimSpace(values[0])
	if v == "*" {
		return 0, nil
	}
	if len(v) < 3 || v[0] != '"' || v[len(v)-1] != '"' {
		return 0, invalidIfMatch()
	}
	digits := v[1 : len(v)-1]
	if digits[0] == '0' || digits[0] == '+' {
		return 0, invalidIfMatch()
	}
	version, err := strconv.ParseInt(digits, 10, 32)
	if err != nil || version < 1 {
		return 0, invalidIfMatch()
	}
	return int32(version), nil
}

func invalidIfMatch() error {
	return authz.Invalid(CodeInvalidIfMatch, `If-Match must be one entity tag this service sent, such as "3"`)
}

// ETag returns the strong entity tag of an entity at version: "3", quoted.
func ETag(version int32) string { return `"` + strconv.FormatInt(int64(version), 10) + `"` }

// SetETag sets the response's ETag to the entity tag of version.
func SetETag(w http.ResponseWriter, version int32) { w.Header().Set(HeaderETag, ETag(version)) }
