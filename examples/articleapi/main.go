// Command articleapi is an example HTTP service for bulwark's reference
// article workflow, built on package httpgate: every failure is an RFC
// 9457 problem named after the layer that refused, versions travel as
// ETags and If-Match, retries carry an Idempotency-Key, and every request
// has a correlation id that leads to its rows in bulwark.transition_log.
//
// Usage:
//
//	ARTICLEAPI_TOKENS='s3cret-a=alice,s3cret-p=pat' \
//	    articleapi [--addr :8080] [--database-url URL]
//
// The URL names a login that is a member of bulwark_app. Authentication
// is the service's own business, and this example's is the simplest that
// is not a header anyone can forge: bearer tokens from the environment,
// each naming a principal. A real service puts its own AuthenticateFunc
// there.
package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/db"
)

// tokensEnv names the variable holding token=principal pairs.
const tokensEnv = "ARTICLEAPI_TOKENS"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "articleapi:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done, then shuts down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("articleapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", ":8080", "address to listen on")
	databaseURL := fs.String("database-url", getenv("DATABASE_URL"), "PostgreSQL URL of a login in bulwark_app (default $DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	app, err := open(ctx, *databaseURL, getenv(tokensEnv))
	if err != nil {
		return err
	}
	defer app.close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           app.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	fmt.Fprintf(stderr, "articleapi: listening on %s\n", ln.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// app is the service's wiring: a pool, the grants cache, the handler.
type app struct {
	grants  *authz.Grants
	handler http.Handler
	pool    *pgxpool.Pool
	svc     *articles.Service
}

func (a *app) close() {
	a.grants.Stop()
	a.pool.Close()
}

// open connects, starts the grants listener (a revoked role stops working
// within milliseconds), registers the article capabilities and resolves
// the tokens' principals.
func open(ctx context.Context, databaseURL, tokens string) (*app, error) {
	if databaseURL == "" {
		return nil, errors.New("no database: pass --database-url or set DATABASE_URL")
	}
	pool, err := db.Open(ctx, databaseURL, &db.OpenOpts{ApplicationName: "articleapi"})
	if err != nil {
		return nil, err
	}
	a := &app{grants: authz.NewGrants(pool, nil), pool: pool}
	if err := a.grants.Start(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	auth, err := bearerTokens(ctx, pool, tokens)
	if err == nil {
		if a.svc, err = articles.NewService(ctx, authz.NewGate(pool, a.grants, nil), nil); err == nil {
			a.handler = newHandler(a.svc, auth, nil)
			return a, nil
		}
	}
	a.close()
	return nil, err
}

// bearerTokens parses "token=principal,..." and returns an AuthenticateFunc
// that accepts "Authorization: Bearer <token>". Each principal must exist.
// Tokens are kept as SHA-256 digests, so a lookup's time says nothing
// about how much of a guessed token was right.
func bearerTokens(ctx context.Context, conn db.DBTX, spec string) (AuthenticateFunc, error) {
	byDigest := map[[sha256.Size]byte]uuid.UUID{}
	q := db.New()
	for pair := range strings.SplitSeq(spec, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		token, name, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || len(token) < 8 || name == "" {
			return nil, fmt.Errorf("%s: want token=principal pairs with tokens of 8 or more characters", tokensEnv)
		}
		p, err := q.PrincipalGetByName(ctx, conn, name)
		if err != nil {
			return nil, fmt.Errorf("%s: principal %q: %w", tokensEnv, name, db.InterpretError(err))
		}
		byDigest[sha256.Sum256([]byte(token))] = p.ID
	}
	if len(byDigest) == 0 {
		return nil, fmt.Errorf("%s is empty: no one could use the service", tokensEnv)
	}
	return func(r *http.Request) (uuid.UUID, error) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			return uuid.Nil, errUnauthenticated
		}
		id, ok := byDigest[sha256.Sum256([]byte(token))]
		if !ok {
			return uuid.Nil, errUnauthenticated
		}
		return id, nil
	}, nil
}

var errUnauthenticated = errors.New("articleapi: no valid bearer token")
