package authz_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
)

// articleCapabilities are the capabilities the articles line's first migration declares.
var articleCapabilities = []authz.Capability{
	"article.archive", "article.create", "article.edit", "article.publish", "article.review", "article.submit",
}

func TestNameRules(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	type testBundle struct {
		rules *authz.NameRules
		tx    pgx.Tx
	}

	setup := func(t *testing.T) *testBundle {
		t.Helper()
		tx := bulwarktest.Tx(t)
		rules, err := authz.LoadNameRules(ctx, tx)
		require.NoError(t, err)
		return &testBundle{rules: rules, tx: tx}
	}

	// requireAgreement asserts that Go and SQL give the same answer for
	// every name, and returns how many answers fell in each kind.
	requireAgreement := func(t *testing.T, bundle *testBundle, names []string) map[string]int {
		t.Helper()
		kinds := map[string]int{}
		var mismatches []string
		for _, name := range names {
			want, err := db.New().CapabilityNameProblem(ctx, bundle.tx, name)
			require.NoError(t, err, "name %q", name)
			got := bundle.rules.Problem(authz.Capability(name))
			if got != want {
				mismatches = append(mismatches, fmt.Sprintf("name %q\n\tgo:  %s\n\tsql: %s", name, got, want))
			}
			kinds[problemKind(want)]++
		}
		require.Empty(t, mismatches, "Go and SQL disagree on %d of %d names", len(mismatches), len(names))
		return kinds
	}

	t.Run("AgreesOnWhichWordIsNamed", func(t *testing.T) {
		t.Parallel()

		// A name holding two forbidden words reports one of them; Go and
		// SQL must pick the same. States may contain "_" and digits,
		// where byte order and a linguistic collation part ways ("x_y"
		// and "x1y"), so declare such states (in a transaction rolled
		// back after the test) and reload the rules.
		bundle := setup(t)
		_, err := bundle.tx.Exec(ctx, "SELECT bulwark.declare_machine('ordering', 'x_y', ARRAY['x_y', 'x1y', 'xy', 'x_y_z'])")
		require.NoError(t, err)
		rules, err := authz.LoadNameRules(ctx, bundle.tx)
		require.NoError(t, err)
		require.Subset(t, rules.States, []string{"x_y", "x1y", "xy", "x_y_z"})
		bundle.rules = rules

		kinds := requireAgreement(t, bundle, []string{
			"article.x_y_x1y", "article.x1y_x_y", "x1y.x_y", "x_y.x1y", "xy.x_y", "x_y_z.xy",
			"article.draft_own", "article.own_draft", "article.any_own", "article.own_any",
			"article.published_draft", "article.in_review_draft", "article.draft_in_review",
			"article.after_all_any_before", "article.while_when",
		})
		require.Equal(t, map[string]int{"qualifier": 6, "state": 9}, kinds)
	})

	t.Run("AgreesWithDatabase", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		declared, err := db.New().CapabilityList(ctx, bundle.tx)
		require.NoError(t, err)

		var names []string
		for _, c := range declared {
			names = append(names, c.Name)
		}
		words := slices.Concat(bundle.rules.Qualifiers, bundle.rules.States)
		for _, w := range words {
			names = append(names,
				// The word as, and inside, the action.
				"article."+w,
				"article."+w+"_edit",
				"article.edit_"+w,
				"article.edit_"+w+"_now",
				"article.edit__"+w,
				"article."+w+"_",
				// The word as, and inside, the resource.
				w+".edit",
				w+"_article.edit",
				"article_"+w+".edit",
				"my_"+w+"_article.edit",
				// Near misses: the word glued to other letters.
				"article."+w+"s",
				"article.x"+w,
				"article."+w+"x",
				"article."+strings.ReplaceAll(w, "_", ""),
				w+"x.edit",
			)
		}
		names = append(names,
			// From the contract.
			"article.publish_draft", "article.edit_own", "draft.publish", "article.approve_in_review",
			"article.archive_published", "article.edit_any", "article.publish_after", "own.article",
			// Near misses that must pass.
			"article.drafting", "article.review", "article.owner", "article.ownership", "article.inreview",
			"article.in_reviewer", "article.reviewin", "article.publisher", "article.drafts", "article.anyway",
			"article.publish", "article.archive", "article.approve", "article.in", "article.review_in",
			// Bad formats.
			"", ".", "article", "article.", ".publish", "a.b.c", "article..publish", "Article.Publish",
			"article.Publish", "ARTICLE.PUBLISH", "1article.publish", "article.1publish", "_article.publish",
			"article._publish", "article.pub-lish", "article .publish", " article.publish", "article.publish ",
			"article.publish\n", "article.publish\t", "\narticle.publish", "article.publiché", "ärticle.edit",
			"article.pub lish", "article;publish", "article.publish;", "article/publish",
			// Lengths around 100.
			"a."+strings.Repeat("b", 98),
			"a."+strings.Repeat("b", 99),
			"article."+strings.Repeat("x", 93),
			strings.Repeat("a", 60)+"."+strings.Repeat("b", 60),
		)
		names = append(names, randomNames(words, 400)...)

		kinds := requireAgreement(t, bundle, names)
		t.Logf("%d names: %v", len(names), kinds)
		// The corpus reaches every branch of the rule, many times.
		for _, kind := range []string{"ok", "format", "qualifier", "state"} {
			require.Greater(t, kinds[kind], 20, "the corpus has too few %s names: %v", kind, kinds)
		}
	})

	t.Run("LoadsQualifiersAndStates", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		require.Subset(t, bundle.rules.Qualifiers, []string{"after", "any", "own", "owned", "while"})
		require.Subset(t, bundle.rules.States, []string{"approved", "archived", "draft", "in_review", "published"})
	})
}

func TestRegistry(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	type testBundle struct {
		registry *authz.Registry
	}

	setup := func(t *testing.T) *testBundle {
		t.Helper()
		registry, err := authz.NewRegistry(ctx, bulwarktest.Tx(t))
		require.NoError(t, err)
		return &testBundle{registry: registry}
	}

	t.Run("AcceptsDeclaredCapabilities", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		for _, c := range articleCapabilities {
			require.False(t, bundle.registry.Registered(c), "%s before Register", c)
		}
		require.NoError(t, bundle.registry.Register(articleCapabilities...))
		for _, c := range articleCapabilities {
			require.True(t, bundle.registry.Registered(c), "%s after Register", c)
		}
		require.False(t, bundle.registry.Registered("role.grant"), "declared but not registered")
		require.NotNil(t, bundle.registry.Rules())
	})

	t.Run("RefusesStateOrCondition", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		for _, c := range []authz.Capability{"article.publish_draft", "article.edit_own", "article.approve_in_review", "Article.Publish"} {
			err := bundle.registry.Register(c)
			e := bulwarktest.RequireLayer(t, err, fault.LayerInvalid, "capability_refused")
			require.Equal(t, "capability refused: "+bundle.registry.Rules().Problem(c), e.Reason)
			require.False(t, bundle.registry.Registered(c))
		}
	})

	t.Run("RefusesUndeclared", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		err := bundle.registry.Register("article.frobnicate")
		bulwarktest.RequireLayer(t, err, fault.LayerInvalid, "capability_undeclared")
		require.False(t, bundle.registry.Registered("article.frobnicate"))
		require.Equal(t, 400, fault.HTTPStatus(err))
	})
}

// problemKind classifies one of capability_name_problem's sentences.
func problemKind(problem string) string {
	switch {
	case problem == "":
		return "ok"
	case strings.Contains(problem, "encodes a condition"):
		return "qualifier"
	case strings.Contains(problem, "encodes the state"):
		return "state"
	default:
		return "format"
	}
}

// randomNames returns n names from a fixed seed: half well-formed, built
// from words that include the rule's words and near misses, half from a
// small alphabet that breaks the format in many ways. Every name is valid
// UTF-8 without NUL, so the database accepts it as text.
func randomNames(words []string, n int) []string {
	rng := rand.New(rand.NewPCG(20240601, 17))
	vocabulary := slices.Concat(words, []string{
		"article", "edit", "publish", "review", "in", "x", "a1", "b_2", "draf", "owns", "anyone", "drafty",
	})
	pick := func() string { return vocabulary[rng.IntN(len(vocabulary))] }
	part := func() string {
		p := pick()
		for range rng.IntN(3) {
			p += "_" + pick()
		}
		return p
	}
	const alphabet = "abdefinortwy_0.9Z -é"
	runes := []rune(alphabet)
	names := make([]string, 0, n)
	for i := range n {
		if i%2 == 0 {
			names = append(names, part()+"."+part())
			continue
		}
		var b strings.Builder
		for range 1 + rng.IntN(24) {
			b.WriteRune(runes[rng.IntN(len(runes))])
		}
		names = append(names, b.String())
	}
	return names
}
