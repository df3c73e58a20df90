// Calendarpage serves the forward schedule of change as a read-only web
// page: a timeline of the releases planned in the coming weeks, coloured
// by stage, over the maintenance windows and freezes of the calendar,
// with conflicting releases highlighted and every conflict explained, the
// releases not yet scheduled, and the lifecycle diagram; plus a JSON API
// of the same data.
// It uses only the standard library's net/http and html/template.
//
// Usage:
//
//	calendarpage [--addr 127.0.0.1:8080] [--store SPEC] [--days 28] [--seed]
//
// Then open http://127.0.0.1:8080/. The page takes ?from=YYYY-MM-DD and
// ?days=N. The API:
//
//	GET /api/schedule[?from=&days=]   the schedule shown on the page (JSON)
//	GET /api/lifecycle                stages, events, gates, and a Mermaid diagram
//	GET /healthz                      "ok"
//
// --store (or RELMAN_STORE) names the store as releasectl does, so the
// page shows what releasectl writes: the default SQLite file, sqlite:FILE,
// a postgres:// URL, or memory. --seed first adds a few sample releases
// (ids sample-…) planned over the coming days, two of them in conflict,
// and, when the store keeps windows, a daily evening maintenance window
// and a freeze over one of them, to have something to look at:
//
//	go run ./examples/calendarpage --store memory --seed
//
// Conflicts come from Manager.Conflicts: two releases on one service or
// team, a window in a freeze or outside maintenance, over capacity.
//
// Exit codes: 0 after a clean shutdown (Ctrl-C), 2 for bad flags, 3 when
// the store cannot be opened or the address cannot be listened on.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/examples/internal/stores"
	"github.com/relman-dev/relman/httpapi"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("calendarpage", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	store := fs.String("store", "", "where releases are kept, as for releasectl (env RELMAN_STORE; default "+stores.DefaultSpec+")")
	days := fs.Int("days", 28, "days shown by default (1–366)")
	seed := fs.Bool("seed", false, "add sample releases first (ids sample-…; skipped if present)")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Println("calendarpage serves the forward schedule of change as a read-only web page, with relman's HTTP API under /api/.\n\nUsage:\n  calendarpage [flags]\n\nFlags:")
			fs.SetOutput(os.Stdout)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintf(os.Stderr, "calendarpage: %v (see calendarpage --help)\n", err)
		return 2
	}
	if fs.NArg() > 0 || *days < 1 || *days > maxDays {
		fmt.Fprintln(os.Stderr, "calendarpage: usage: calendarpage [--addr HOST:PORT] [--store SPEC] [--days 1–366] [--seed]")
		return 2
	}
	if *store == "" {
		*store = os.Getenv("RELMAN_STORE")
	}
	if *store == "" {
		*store = stores.DefaultSpec
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	set := stores.New(os.Getenv)
	st, closeStore, err := set.Open(ctx, *store)
	if err != nil {
		fmt.Fprintln(os.Stderr, "calendarpage:", err)
		var se *stores.Error
		if errors.As(err, &se) && se.Usage {
			return 2
		}
		return 3
	}
	defer closeStore()
	events := httpapi.NewBroker(0)
	m, err := relman.NewManager(st, events.Option())
	if err != nil {
		fmt.Fprintln(os.Stderr, "calendarpage:", err)
		return 3
	}
	if *seed {
		n, err := seedReleases(ctx, st, time.Now())
		if err != nil {
			fmt.Fprintln(os.Stderr, "calendarpage: seed:", err)
			return 3
		}
		log.Info("seeded sample releases", "added", n)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "calendarpage:", err)
		return 3
	}
	s := &server{m: m, events: events, now: time.Now, days: *days, store: set.Describe(*store), log: log}
	srv := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second,
		IdleTimeout: time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	log.Info("serving the forward schedule", "url", "http://"+ln.Addr().String()+"/", "store", s.store)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintln(os.Stderr, "calendarpage:", err)
		return 3
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		log.Warn("shutdown", "err", err)
	}
	return 0
}
