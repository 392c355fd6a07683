package db

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultConnectTimeout bounds each connection attempt (dial, TLS and
// authentication together) when the URL sets no connect_timeout, or sets
// 0, and PGCONNECT_TIMEOUT is unset. Without it a server that accepts TCP
// and never answers would hold a caller forever.
const DefaultConnectTimeout = 10 * time.Second

// OpenOpts are options for [Open]. A nil *OpenOpts means defaults.
type OpenOpts struct {
	// ApplicationName is reported in pg_stat_activity. Default "bulwark".
	ApplicationName string
	// MaxConns caps the pool. Zero keeps pgxpool's default (the larger of 4
	// and the number of CPUs) or the URL's pool_max_conns.
	MaxConns int32
}

// ParseConfig returns the pool configuration [Open] uses for url: the URL's
// settings, then opts' application name and pool size, and
// [DefaultConnectTimeout] unless the URL (or PGCONNECT_TIMEOUT) sets a
// positive connect_timeout. Use its ConnConfig for a single connection. On
// failure it returns the parser's error, which never includes the URL's
// password.
func ParseConfig(url string, opts *OpenOpts) (*pgxpool.Config, error) {
	if opts == nil {
		opts = &OpenOpts{}
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	name := opts.ApplicationName
	if name == "" {
		name = "bulwark"
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = name
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	// pgconn bounds the whole attempt with a context of this duration; 0,
	// libpq's "wait forever", is what this default exists to refuse.
	if cfg.ConnConfig.ConnectTimeout <= 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	return cfg, nil
}

// Open returns a pool for url (configured by [ParseConfig]), checked with
// a ping. Services connect as a login role that is a member of bulwark_app
// (jobs: bulwark_jobs); that role can read and call transition functions,
// nothing more. On failure it returns the connection error, which names no
// layer: a *pgconn.ConnectError when the server could not be reached or
// refused the login, within [DefaultConnectTimeout] unless the URL sets
// another connect_timeout.
func Open(ctx context.Context, url string, opts *OpenOpts) (*pgxpool.Pool, error) {
	cfg, err := ParseConfig(url, opts)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("create pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	return pool, nil
}
