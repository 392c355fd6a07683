// Package langtest runs bulwark on a PostgreSQL server that speaks German,
// so that nothing in the SQL core, in package db or in the Go layers above
// can decide anything by the server's text unnoticed: PostgreSQL translates
// its messages, their context lines (PG_CONTEXT, an error's Where) and
// their severities.
//
// The package has tests only. They run on a throwaway cluster that
// package bulwarktest starts for MainOpts.Language "de", with LANGUAGE=de
// in the server's environment and lc_messages = 'C.UTF-8', whatever
// DATABASE_URL says, and they migrate a fresh database up, walk an article
// through every transition, meet every SQLSTATE of the contract and try
// direct writes.
//
// The package's rule: every test proves the server it ran on speaks German
// (a German severity on each refusal it checks), so that none can pass on
// an English server.
package langtest
