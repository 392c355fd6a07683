package main

import (
	"fmt"

	"github.com/jackc/pgx/v5"
)

// pgxConfig parses a database URL, keeping the parser's message but never
// echoing the URL itself (it may hold a password).
func pgxConfig(url string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	return cfg, nil
}
