package db_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/db"
)

func TestParseConfig(t *testing.T) {
	t.Parallel()

	t.Run("ConnectTimeout", func(t *testing.T) {
		t.Parallel()

		for _, tc := range []struct {
			query string
			want  time.Duration
		}{
			{query: "", want: db.DefaultConnectTimeout},
			// libpq's "wait forever" is refused too.
			{query: "?connect_timeout=0", want: db.DefaultConnectTimeout},
			{query: "?connect_timeout=3", want: 3 * time.Second},
			{query: "?connect_timeout=120", want: 2 * time.Minute},
		} {
			cfg, err := db.ParseConfig("postgres://nobody@127.0.0.1:5432/nothing"+tc.query, nil)
			require.NoError(t, err, tc.query)
			require.Equal(t, tc.want, cfg.ConnConfig.ConnectTimeout, tc.query)
		}
	})

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()

		cfg, err := db.ParseConfig("postgres://nobody@127.0.0.1:5432/nothing", &db.OpenOpts{MaxConns: 7})
		require.NoError(t, err)
		require.Equal(t, "bulwark", cfg.ConnConfig.RuntimeParams["application_name"])
		require.EqualValues(t, 7, cfg.MaxConns)

		cfg, err = db.ParseConfig("postgres://nobody@127.0.0.1:5432/nothing?application_name=mine", &db.OpenOpts{ApplicationName: "bulwark-jobs"})
		require.NoError(t, err)
		require.Equal(t, "mine", cfg.ConnConfig.RuntimeParams["application_name"])
	})

	t.Run("BadURLHidesThePassword", func(t *testing.T) {
		t.Parallel()

		_, err := db.ParseConfig("postgres://nobody:s3cret@127.0.0.1:5432/nothing?connect_timeout=soon", nil)
		require.Error(t, err)
		require.NotContains(t, err.Error(), "s3cret")
	})
}

func TestOpen(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("Connects", func(t *testing.T) {
		t.Parallel()

		pool, err := db.Open(ctx, bulwarktest.LoginAs(t, bulwarktest.NewDatabase(t), "bulwark_app"), &db.OpenOpts{ApplicationName: "pool-test"})
		require.NoError(t, err)
		defer pool.Close()
		var name string
		require.NoError(t, pool.QueryRow(ctx, `SELECT pg_catalog.current_setting('application_name')`).Scan(&name))
		require.Equal(t, "pool-test", name)
	})

	// A server that accepts TCP and never answers: Open returns a
	// connection error instead of waiting for ever.
	t.Run("SilentServerFails", func(t *testing.T) {
		t.Parallel()

		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		accepted := make(chan net.Conn, 16)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					close(accepted)
					return
				}
				accepted <- c
			}
		}()
		t.Cleanup(func() {
			_ = ln.Close()
			for c := range accepted {
				_ = c.Close()
			}
		})

		_, err = db.Open(ctx, "postgres://nobody@"+ln.Addr().String()+"/nothing?connect_timeout=1", nil)
		var connectErr *pgconn.ConnectError
		require.True(t, errors.As(err, &connectErr), "got %v", err)
		require.True(t, pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded), "got %v", err)
	})
}
