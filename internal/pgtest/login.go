package pgtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

const (
	// loginSuffix ends the name of every login role LoginAs makes.
	loginSuffix = "_login_test"

	// Errors that a role created or granted concurrently by another test
	// process may cause; ensureLogin re-checks and retries after them.
	sqlstateDuplicateObject = "42710" // duplicate_object: the role exists
	sqlstateInternalError   = "XX000" // "tuple concurrently updated"
	sqlstateUniqueViolation = "23505" // a catalog's unique index
)

// LoginAs returns a URL for the database of dbURL that logs in as
// <groupRole>_login_test, a LOGIN role that is a member of groupRole (such as
// bulwark_app, created by the migrations) and so has its privileges, with
// search_path set to the empty string. Roles are cluster-wide, so the login
// role is created once per server, idempotently and safely against other
// test processes. It fails t if groupRole does not exist.
func LoginAs(t testing.TB, dbURL, groupRole string) string {
	t.Helper()

	e := get(t)
	login := groupRole + loginSuffix
	require.NoError(t, e.ensureLogin(login, groupRole), "pgtest: log in as %s", groupRole)

	u, err := url.Parse(dbURL)
	require.NoError(t, err, "pgtest: parse database URL")
	u.User = url.UserPassword(login, e.loginPassword())
	q := u.Query()
	options := "-c search_path="
	if prev := q.Get("options"); prev != "" {
		options = prev + " " + options
	}
	q.Set("options", options)
	// libpq and pgx decode %20 but not + as a space; Encode writes a
	// literal + as %2B, so every + left is a space.
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return u.String()
}

// ensureLogin makes sure the role login exists, can log in and is a member
// of group.
func (e *environment) ensureLogin(login, group string) error {
	// One test at a time per process; other processes race in the server.
	e.loginMu.Lock()
	defer e.loginMu.Unlock()

	if e.logins[login] {
		return nil
	}
	password := e.loginPassword()
	if len(login) > 63 {
		return fmt.Errorf("role name %s is longer than 63 bytes", login)
	}

	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()

	var groupExists bool
	if err := e.admin.QueryRow(ctx,
		"SELECT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $1)", group,
	).Scan(&groupExists); err != nil {
		return fmt.Errorf("look up role %s: %w", group, err)
	}
	if !groupExists {
		return fmt.Errorf("role %s does not exist: the migrations should create it", group)
	}

	for attempt := 1; ; attempt++ {
		var loginExists, member bool
		err := e.admin.QueryRow(ctx, `
			SELECT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $1),
			       EXISTS (
			           SELECT FROM pg_catalog.pg_auth_members m
			           JOIN pg_catalog.pg_roles r ON r.oid = m.member
			           JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
			           WHERE r.rolname = $1 AND g.rolname = $2
			       )`, login, group,
		).Scan(&loginExists, &member)
		if err != nil {
			return fmt.Errorf("look up role %s: %w", login, err)
		}
		switch {
		case loginExists && member:
			// A role an older harness made may still have its password:
			// set this server's (the same value in every process that has
			// the same admin URL).
			err = e.exec(ctx, "ALTER ROLE "+ident(login)+" PASSWORD '"+password+"'")
			if err == nil {
				e.logins[login] = true
				return nil
			}
		case !loginExists:
			err = e.exec(ctx, "CREATE ROLE "+ident(login)+" LOGIN PASSWORD '"+password+"'")
		default:
			err = e.exec(ctx, "GRANT "+ident(group)+" TO "+ident(login))
		}
		if err != nil && (!concurrentRoleChange(err) || attempt >= 10) {
			return fmt.Errorf("make role %s a login in %s: %w", login, group, err)
		}
		if err != nil {
			time.Sleep(time.Duration(attempt) * 20 * time.Millisecond)
		}
	}
}

// exec runs sql on the admin pool.
func (e *environment) exec(ctx context.Context, sql string) error {
	_, err := e.admin.Exec(ctx, sql)
	return err
}

// concurrentRoleChange reports whether err is what another session
// changing the same role at the same moment causes.
func concurrentRoleChange(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case sqlstateDuplicateObject, sqlstateInternalError, sqlstateUniqueViolation:
		return true
	}
	return false
}

// loginPassword is the password of LoginAs's roles, for servers that demand
// one over TCP (the throwaway cluster trusts everyone anyway). It is derived
// from the admin URL, credentials included, so every test process against
// one server agrees on it, and nobody who lacks the admin's credentials can
// guess it: the roles outlive the tests on a DATABASE_URL server.
func (e *environment) loginPassword() string {
	sum := sha256.Sum256([]byte("bulwark LoginAs\x00" + e.adminURL))
	return hex.EncodeToString(sum[:])
}
