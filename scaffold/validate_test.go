package scaffold_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/scaffold"
)

// TestValidate breaks a valid declaration one way at a time and expects
// the problem at its field, with a message naming the cause; nothing is
// generated from it.
func TestValidate(t *testing.T) {
	t.Parallel()

	require.NoError(t, load(t, "expense").Validate())
	require.NoError(t, load(t, "ticket").Validate())

	for name, tc := range map[string]struct {
		breakFunc func(d *scaffold.Declaration)
		field     string
		says      string
	}{
		"ActionNamedApply": {func(d *scaffold.Declaration) { d.Actions[0].Name = "apply" }, "actions[0].name", "engine's own"},
		"ArgCollidesWithParameter": {func(d *scaffold.Declaration) {
			d.Columns = append(d.Columns, scaffold.Column{Name: "note", Type: "text", Null: true})
			d.Actions[1].Args = append(d.Actions[1].Args, "note")
		}, "actions[1].args[2]", "p_note"},
		"ActionNamedLikeARead": {func(d *scaffold.Declaration) { d.Transitions[0].Name = "get_by_id" }, "transitions[0].name", "Go name ExpenseGetByID"},
		"ArgUndeclared":        {func(d *scaffold.Declaration) { d.Actions[1].Args[0] = "amount" }, "actions[1].args[0]", "not a declared column"},
		"ActorNotUUID":         {func(d *scaffold.Declaration) { d.Transitions[1].Actor = "description" }, "transitions[1].actor", "uuid"},
		"CapabilityBadFormat":  {func(d *scaffold.Declaration) { d.Capabilities[0].Name = "Expense.Create" }, "capabilities[0].name", "resource.action"},
		"CapabilityEncodesCondition": {func(d *scaffold.Declaration) {
			d.Capabilities[1].Name = "expense.edit_own"
		}, "capabilities[1].name", "condition"},
		"CapabilityEncodesState": {func(d *scaffold.Declaration) {
			d.Capabilities[3].Name = "expense.review_submitted"
		}, "capabilities[3].name", "state"},
		"CapabilityTwice":       {func(d *scaffold.Declaration) { d.Capabilities[1].Name = "expense.create" }, "capabilities[1].name", "twice"},
		"CapabilityUndeclared":  {func(d *scaffold.Declaration) { d.Transitions[0].Capability = "expense.send" }, "transitions[0].capability", "not among the declared capabilities"},
		"ColumnReserved":        {func(d *scaffold.Declaration) { d.Columns[0].Name = "version" }, "columns[0].name", "every guarded table gets"},
		"ColumnType":            {func(d *scaffold.Declaration) { d.Columns[0].Type = "varchar(20)" }, "columns[0].type", "not one of"},
		"CreateLeavesNotNull":   {func(d *scaffold.Declaration) { d.Actions[0].Args = d.Actions[0].Args[:1] }, "actions[0].args", "description"},
		"DescriptionMissing":    {func(d *scaffold.Declaration) { d.Description = " " }, "description", "required"},
		"DescriptionAnnotation": {func(d *scaffold.Declaration) { d.Description = strings.Repeat("a", 74) + " +goose NO TRANSACTION" }, "description", "+goose"},
		"DuplicateEdge":         {func(d *scaffold.Declaration) { d.Transitions[2].To = "approved" }, "transitions[2].from[0]", "duplicate transition submitted -> approved"},
		"InitialUnknown":        {func(d *scaffold.Declaration) { d.Initial = "new" }, "initial", "not among the states"},
		"MachineName":           {func(d *scaffold.Declaration) { d.Machine = "Expense" }, "machine", "snake_case"},
		"MaxLengthOnNumber":     {func(d *scaffold.Declaration) { d.Columns[0].MaxLength = 10 }, "columns[0].max_length", "text columns only"},
		"PackageKeyword":        {func(d *scaffold.Declaration) { d.Package = "func" }, "package", "Go package name"},
		"ReferenceFormat":       {func(d *scaffold.Declaration) { d.Columns[2].References = "principals" }, "columns[2].references", "schema.table (column)"},
		"RoleCapabilityUnknown": {func(d *scaffold.Declaration) { d.Roles[0].Capabilities[0] = "expense.file" }, "roles[0].capabilities[0]", "not among the declared"},
		"SchemaOfTheCore":       {func(d *scaffold.Declaration) { d.Schema = "bulwark" }, "schema", "own schema"},
		"StateTwice":            {func(d *scaffold.Declaration) { d.States = append(d.States, "paid") }, "states[5]", "twice"},
		"TransitionFromUnknown": {func(d *scaffold.Declaration) { d.Transitions[0].From[0] = "new" }, "transitions[0].from[0]", "not among the states"},
		"TransitionNoSource":    {func(d *scaffold.Declaration) { d.Transitions[0].From = nil }, "transitions[0].from", "at least one source"},
		"TransitionToUnknown":   {func(d *scaffold.Declaration) { d.Transitions[3].To = "settled" }, "transitions[3].to", "not among the states"},
		"TransitionTwice": {func(d *scaffold.Declaration) {
			d.Transitions = append(d.Transitions, scaffold.Transition{Name: "pay", From: []string{"rejected"}, To: "paid", Capability: "expense.pay"})
		}, "transitions[4].name", "already declared at transitions[3]"},
		"TransitionNamedLikeAction": {func(d *scaffold.Declaration) { d.Transitions[0].Name = "edit" }, "transitions[0].name", "already declared at actions[1]"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			d := load(t, "expense")
			tc.breakFunc(d)
			err := d.Validate()
			var verr *scaffold.ValidationError
			require.ErrorAs(t, err, &verr)
			var found []string
			for _, p := range verr.Problems {
				found = append(found, p.String())
				if p.Field == tc.field && strings.Contains(p.Message, tc.says) {
					_, genErr := scaffold.Generate(d, nil)
					require.True(t, errors.As(genErr, &verr), "Generate must refuse what Validate refuses")
					return
				}
			}
			require.Failf(t, "problem not reported", "want %s: ...%s...; got %q", tc.field, tc.says, found)
		})
	}
}

// TestValidateReportsEveryProblem: one run names them all, in order.
func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()

	d := load(t, "expense")
	d.Machine = ""
	d.States = nil
	d.Capabilities[0].Description = ""
	err := d.Validate()
	var verr *scaffold.ValidationError
	require.ErrorAs(t, err, &verr)
	fields := make([]string, 0, len(verr.Problems))
	for _, p := range verr.Problems {
		fields = append(fields, p.Field)
	}
	require.Subset(t, fields, []string{"machine", "states", "initial", "capabilities[0].description", "transitions[0].from[0]"})
	require.Contains(t, err.Error(), "declaration has")
}

// TestParse: unknown keys, wrong types and trailing data are refused as
// syntax, not taken as defaults.
func TestParse(t *testing.T) {
	t.Parallel()

	for name, input := range map[string]string{
		"UnknownKey":   `{"machine": "x", "satets": []}`,
		"WrongType":    `{"machine": 1}`,
		"Trailing":     `{"machine": "x"} {}`,
		"NotJSON":      `machine: x`,
		"TruncatedObj": `{"machine": "x"`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			_, err := scaffold.Parse(strings.NewReader(input))
			var syntaxErr *scaffold.SyntaxError
			require.ErrorAs(t, err, &syntaxErr)
		})
	}
}
