package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/httpapi"
	"github.com/relman-dev/relman/runner"
	"github.com/relman-dev/relman/store/postgres"
)

func serveCmd() *command {
	var (
		addr   string
		noRun  bool
		ro     rolloutOptions
		broker = httpapi.NewBroker(0)
	)
	c := &command{
		name:    "serve",
		summary: "serve the store over relman's HTTP API (for --server), with a runner",
		help: `
Serves the store over relman's HTTP API (package httpapi; its OpenAPI
document is at /openapi.json) until interrupted, and runs a runner in the
same process unless --no-runner. Other releasectl commands reach it with
--server http://ADDR.

GET /events streams changes as server-sent events: those this process
makes and, on PostgreSQL, those of every program sharing the database
that sets RELMAN_NOTIFY=on (LISTEN/NOTIFY).

Authentication is a demonstration: the actor is the X-Relman-Actor header
(releasectl sends --actor). With RELMAN_TOKEN set, every request must
also carry "Authorization: Bearer $RELMAN_TOKEN" (releasectl sends its own
RELMAN_TOKEN). Listen on a loopback address unless a proxy in front
authenticates properly.`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		fs.StringVar(&addr, "addr", "127.0.0.1:8080", "listen on this `ADDRESS`")
		fs.BoolVar(&noRun, "no-runner", false, "do not run a runner in this process")
		ro.bind(fs)
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if err := cl.want(); err != nil {
			return err
		}
		opts, err := ro.options(a)
		if err != nil {
			return err
		}
		s, err := a.open(ctx, cl, append(opts, broker.Option())...)
		if err != nil {
			return err
		}
		defer s.close()
		h, err := httpapi.New(s.m, httpapi.Options{Events: broker, Authenticate: headerAuth(a.getenv("RELMAN_TOKEN"))})
		if err != nil {
			return err
		}
		follows, err := followStore(ctx, s.m.Store(), broker)
		if err != nil {
			return explain(cl, "", err)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return usageErrorf("serve: %v", err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan struct{})
		if !noRun {
			r, err := runner.New(s.m, runner.Options{Logger: slog.New(newLineHandler(a.stderr, s.m.Now))})
			if err != nil {
				return explain(cl, "", err)
			}
			go func() { defer close(done); _ = r.Run(ctx) }()
		} else {
			close(done)
		}
		go func() {
			<-ctx.Done()
			sctx, stop := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer stop()
			_ = srv.Shutdown(sctx)
		}()
		fmt.Fprintf(a.stdout, "serving relman's HTTP API on http://%s (store %s); stop with Ctrl-C\n", ln.Addr(), a.stores.Describe(cl.store))
		if follows {
			fmt.Fprintln(a.stdout, "/events follows every instance's changes (PostgreSQL LISTEN/NOTIFY; writers need RELMAN_NOTIFY=on)")
		}
		err = srv.Serve(ln)
		cancel()
		<-done
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return storageErrorf("serve: %v", err)
	}
	return c
}

// headerAuth is serve's demonstration authentication: the actor named by
// the X-Relman-Actor header, and, if token is set, a matching bearer
// token.
func headerAuth(token string) func(r *http.Request) (relman.Actor, error) {
	return func(r *http.Request) (relman.Actor, error) {
		if token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
				return relman.Actor{}, errors.New("a bearer token is required")
			}
		}
		id := r.Header.Get("X-Relman-Actor")
		if id == "" {
			return relman.Actor{}, errors.New("no X-Relman-Actor header")
		}
		return relman.Actor{ID: id}, nil
	}
}

// followStore publishes to b the changes the store announces from every
// instance sharing it, where it can (PostgreSQL's Subscribe), until ctx
// ends; it reports whether it does. Elsewhere b hears this process's
// changes only (the Manager's after-hook and the handler).
func followStore(ctx context.Context, st relman.Store, b *httpapi.Broker) (bool, error) {
	ps, ok := st.(*postgres.Store)
	if !ok {
		return false, nil
	}
	sub, err := ps.Subscribe(ctx)
	if err != nil {
		return false, err
	}
	go func() {
		defer sub.Close()
		for c := range sub.Changes() {
			b.Publish(httpapi.Change{ReleaseID: c.ReleaseID, Revision: c.Revision, Stage: c.Stage, Entries: c.Entries, Resync: c.Resync})
		}
	}()
	return true, nil
}
