package authz

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/bulwarkdb/bulwark/db"
)

// Capability names what a principal may attempt, as resource.action
// ("article.publish"). It never encodes state or condition.
type Capability string

// capabilityPattern is the format the database's capability_name_format
// constraint enforces.
var capabilityPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$`)

// NameRules is the rule for capability names with the database's data: the
// qualifier words and every declared state. Load it with [LoadNameRules];
// the SQL function bulwark.capability_name_problem applies the same rule to
// the same data, and a test proves the two agree.
type NameRules struct {
	Qualifiers []string
	States     []string
}

// LoadNameRules reads the qualifier list and the declared states.
func LoadNameRules(ctx context.Context, conn db.DBTX) (*NameRules, error) {
	row, err := db.New().CapabilityNameRules(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("load capability name rules: %w", db.InterpretError(err))
	}
	return &NameRules{Qualifiers: row.Qualifiers, States: row.States}, nil
}

// Problem returns why c is not an acceptable capability name, or "" when it
// is. The sentences match the database's.
func (r *NameRules) Problem(c Capability) string {
	name := string(c)
	if !capabilityPattern.MatchString(name) || len(name) > 100 {
		return "a capability is named resource.action in lower case (at most 100 characters)"
	}
	// Whole words only: "_article_publish_draft_" contains "_draft_".
	tokens := "_" + strings.ReplaceAll(name, ".", "_") + "_"
	for _, q := range slices.Sorted(slices.Values(r.Qualifiers)) {
		if strings.Contains(tokens, "_"+q+"_") {
			return fmt.Sprintf("%q encodes a condition (%q); a capability names only what may be attempted", name, q)
		}
	}
	for _, s := range slices.Sorted(slices.Values(r.States)) {
		if strings.Contains(tokens, "_"+s+"_") {
			return fmt.Sprintf("%q encodes the state %q; state belongs to policies and invariants, not capabilities", name, s)
		}
	}
	return ""
}

// Registry holds the capabilities a program acts with. Registering one that
// encodes state or condition, or one no migration declared, is an error, so
// a typo or a drifting name fails at start-up rather than as a permission
// failure in production.
type Registry struct {
	declared map[Capability]bool
	mu       sync.RWMutex
	rules    *NameRules
	used     map[Capability]struct{}
}

// NewRegistry loads the name rules and the declared capabilities.
func NewRegistry(ctx context.Context, conn db.DBTX) (*Registry, error) {
	rules, err := LoadNameRules(ctx, conn)
	if err != nil {
		return nil, err
	}
	caps, err := db.New().CapabilityList(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("load capabilities: %w", db.InterpretError(err))
	}
	r := &Registry{declared: map[Capability]bool{}, rules: rules, used: map[Capability]struct{}{}}
	for _, c := range caps {
		r.declared[Capability(c.Name)] = c.DeprecatedAt != nil
	}
	return r, nil
}

// Register adds capabilities. It returns an invalid-input *fault.Error for a name
// that breaks the rule, and for one the database does not declare or has
// deprecated.
func (r *Registry) Register(caps ...Capability) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	// All or nothing: check every name before registering any.
	for _, c := range caps {
		if problem := r.rules.Problem(c); problem != "" {
			return Invalid("capability_refused", "capability refused: "+problem)
		}
		deprecated, ok := r.declared[c]
		if !ok {
			return Invalid("capability_undeclared", fmt.Sprintf("capability %s is not declared by any migration", c))
		}
		if deprecated {
			return Invalid("capability_deprecated", fmt.Sprintf("capability %s is deprecated", c))
		}
	}
	for _, c := range caps {
		r.used[c] = struct{}{}
	}
	return nil
}

// Registered reports whether c was registered.
func (r *Registry) Registered(c Capability) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.used[c]
	return ok
}

// Rules returns the name rules the registry applies.
func (r *Registry) Rules() *NameRules { return r.rules }
