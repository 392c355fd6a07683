package db

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// OpenOpts are options for [Open]. A nil *OpenOpts means defaults.
type OpenOpts struct {
	// ApplicationName is reported in pg_stat_activity. Default "bulwark".
	ApplicationName string
	// MaxConns caps the pool. Zero keeps pgxpool's default (the larger of 4
	// and the number of CPUs) or the URL's pool_max_conns.
	MaxConns int32
}

// Open returns a pool for url, checked with a ping. Services connect as a
// login role that is a member of bulwark_app (jobs: bulwark_jobs); that role
// can read and call transition functions, nothing more. On failure it
// returns the connection error, which names no layer.
func Open(ctx context.Context, url string, opts *OpenOpts) (*pgxpool.Pool, error) {
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
