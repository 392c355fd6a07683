package scaffold

import "strings"

// initialisms are written upper-case in Go names, as the house style and
// golint want: claimant_id becomes ClaimantID.
var initialisms = map[string]string{
	"api": "API", "http": "HTTP", "id": "ID", "ip": "IP", "json": "JSON",
	"sql": "SQL", "uri": "URI", "url": "URL", "uuid": "UUID",
}

// goName returns the CamelCase Go name of a snake_case SQL name.
func goName(snake string) string {
	var b strings.Builder
	for _, word := range strings.Split(snake, "_") {
		if word == "" {
			continue
		}
		if up, ok := initialisms[word]; ok {
			b.WriteString(up)
			continue
		}
		b.WriteString(strings.ToUpper(word[:1]) + word[1:])
	}
	return b.String()
}

// literal returns s as an SQL string literal.
func literal(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// array returns names as an SQL text array literal: ARRAY['a', 'b'].
func array(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = literal(n)
	}
	return "ARRAY[" + strings.Join(quoted, ", ") + "]"
}

// inList returns names as the inside of an SQL IN list: 'a', 'b'.
func inList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = literal(n)
	}
	return strings.Join(quoted, ", ")
}

// sentenceList joins words as English does: "a, b or c".
func sentenceList(words []string, conj string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " " + conj + " " + words[len(words)-1]
}
