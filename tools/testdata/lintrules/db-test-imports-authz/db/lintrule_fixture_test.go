package db_test

// Breaks db-knows-no-layer-above: a test of db that reaches for the policy layer.
import _ "github.com/bulwarkdb/bulwark/authz"
