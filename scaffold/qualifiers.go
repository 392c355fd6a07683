package scaffold

// qualifiers are the words that make a capability name encode a condition
// ("expense.approve_own"), as the core's migration seeds them into
// bulwark.capability_qualifiers, which the database and the Go registry
// read. The generator runs without a database, so it holds the seed; a
// test holds it equal to the table of a migrated database.
var qualifiers = []string{
	"after", "all", "any", "before", "during", "if", "mine", "only", "own", "owned",
	"self", "unless", "until", "when", "while",
}

// Qualifiers returns the words a capability name must not contain, as
// the core declares them.
func Qualifiers() []string { return append([]string(nil), qualifiers...) }
