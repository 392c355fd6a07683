package scaffold

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Declaration is a machine declaration: what `bulwark new` reads. Field
// names are the JSON keys.
type Declaration struct {
	// Machine names the state machine (bulwark.machines), e.g. "expense".
	// It prefixes the typed wrappers (<schema>.<machine>_<action>) and the
	// sqlc query names.
	Machine string `json:"machine"`
	// Schema is the PostgreSQL schema the migration creates for the
	// domain's table and wrappers, e.g. "expenses".
	Schema string `json:"schema"`
	// Table is the guarded table's name within Schema, e.g. "claims".
	Table string `json:"table"`
	// Package names the domain's Go package; its sqlc code goes to the
	// package <Package>db. Default: Schema without underscores.
	Package string `json:"package,omitempty"`
	// Model is the Go name of the table's row type in the sqlc package.
	// Default: the machine's name in CamelCase ("Expense").
	Model string `json:"model,omitempty"`
	// Description says what the domain is, for the schema's and the
	// table's comments.
	Description string `json:"description"`

	// States are the machine's states; Initial is the state a create
	// starts in.
	States  []string `json:"states"`
	Initial string   `json:"initial"`

	// Capabilities are the capabilities the domain declares.
	Capabilities []Capability `json:"capabilities"`
	// Roles bundle capabilities for principals.
	Roles []Role `json:"roles"`
	// Columns are the table's domain columns, beside the id, state,
	// version and created_at columns every guarded table has.
	Columns []Column `json:"columns,omitempty"`
	// Actions are the actions that create a row or change its columns
	// without a state change.
	Actions []Action `json:"actions,omitempty"`
	// Transitions are the machine's state changes.
	Transitions []Transition `json:"transitions"`
}

// Capability is a capability the domain declares.
type Capability struct {
	// Name is resource.action, naming no state or condition.
	Name string `json:"name"`
	// Description says what a holder may attempt.
	Description string `json:"description"`
}

// Role is a domain role (bulwark.roles): a named bundle of capabilities.
type Role struct {
	Name         string   `json:"name"`
	Capabilities []string `json:"capabilities"`
}

// Column is a domain column of the guarded table.
type Column struct {
	// Name is the column's name.
	Name string `json:"name"`
	// Type is one of [ColumnTypes].
	Type string `json:"type"`
	// Null allows NULL; columns are NOT NULL by default.
	Null bool `json:"null,omitempty"`
	// MaxLength bounds a text column, in characters: a named CHECK, and
	// an argument check that refuses longer input as invalid (22001).
	MaxLength int `json:"max_length,omitempty"`
	// References is a foreign key target, "schema.table (column)", e.g.
	// "bulwark.principals (id)".
	References string `json:"references,omitempty"`
	// Comment says what the column means (COMMENT ON COLUMN; sqlc copies
	// it into Go docs).
	Comment string `json:"comment,omitempty"`
}

// Action is an action that writes domain columns: kind "create" inserts a
// row in the initial state, kind "update" changes columns of a row without
// changing its state.
type Action struct {
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Capability string `json:"capability"`
	// Args are the columns the action sets from its typed arguments: a
	// create sets each to its argument, an update to its argument when
	// that is not NULL (NULL keeps the current value).
	Args []string `json:"args,omitempty"`
	// Actor is a uuid column set to the acting principal (a create's
	// author, say).
	Actor string `json:"actor,omitempty"`
	// Note makes the wrapper take a note for the audit row.
	Note bool `json:"note,omitempty"`
}

// Transition is one named state change from one or more source states to
// one target state.
type Transition struct {
	Name       string   `json:"name"`
	From       []string `json:"from"`
	To         string   `json:"to"`
	Capability string   `json:"capability"`
	// Actor is a uuid column set to the acting principal by this
	// transition (an approval's approver, say).
	Actor string `json:"actor,omitempty"`
	// Note makes the wrapper take a note for the audit row (a reason for
	// a rejection, say).
	Note bool `json:"note,omitempty"`
}

// Action kinds.
const (
	KindCreate = "create"
	KindUpdate = "update"
)

// Parse reads a declaration from JSON. Unknown keys and trailing data are
// errors, so that a misspelt key does not silently mean its default. It
// does not validate the declaration: call [Declaration.Validate].
func Parse(r io.Reader) (*Declaration, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read declaration: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var d Declaration
	if err := dec.Decode(&d); err != nil {
		return nil, &SyntaxError{Offset: dec.InputOffset(), Err: err}
	}
	if dec.More() {
		return nil, &SyntaxError{Offset: dec.InputOffset(), Err: fmt.Errorf("data after the declaration")}
	}
	return &d, nil
}

// pkg returns the Go package's name.
func (d *Declaration) pkg() string {
	if d.Package != "" {
		return d.Package
	}
	out := make([]byte, 0, len(d.Schema))
	for i := 0; i < len(d.Schema); i++ {
		if d.Schema[i] != '_' {
			out = append(out, d.Schema[i])
		}
	}
	return string(out)
}

// dbPkg returns the sqlc package's name.
func (d *Declaration) dbPkg() string { return d.pkg() + "db" }

// model returns the Go name of the row type.
func (d *Declaration) model() string {
	if d.Model != "" {
		return d.Model
	}
	return goName(d.Machine)
}

// column returns the declared column named name.
func (d *Declaration) column(name string) (Column, bool) {
	for _, c := range d.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}
