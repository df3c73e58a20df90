package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/examples/internal/stores"
)

// The exit codes releasectl documents.
//
// Every library error gets its code from its relman.ErrorClass (see
// exitCodes), so a new error needs no change here.
const (
	exitOK       = 0 // success
	exitRefused  = 1 // a gate, rule, policy or concurrent change said no
	exitUsage    = 2 // bad command line or invalid input
	exitStorage  = 3 // the store failed or could not be reached
	exitNotFound = 4 // no such release, window or scheduled event
	exitNotYet   = 5 // refused for now only: time alone lifts it
)

// exitCodes maps each error class to its exit code.
var exitCodes = map[relman.ErrorClass]int{
	relman.ClassNone:        exitOK,
	relman.ClassRefused:     exitRefused,
	relman.ClassForbidden:   exitRefused,
	relman.ClassConflict:    exitRefused,
	relman.ClassInvalid:     exitUsage,
	relman.ClassUnavailable: exitStorage,
	relman.ClassInternal:    exitStorage,
	relman.ClassNotFound:    exitNotFound,
	relman.ClassNotYet:      exitNotYet,
}

// app is one run of releasectl: its standard streams, environment and the
// stores it knows how to open. Tests build one with newApp and run it in
// process.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	progress       io.Writer   // where long commands show progress (a terminal), or nil
	stores         *stores.Set // the stores --store may name
}

func newApp(stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) *app {
	return &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, stores: stores.New(getenv)}
}

// command is one subcommand.
type command struct {
	name    string
	args    string // positional arguments, for the usage line
	summary string // one line for the command list
	help    string // paragraphs shown by --help
	run     func(ctx context.Context, a *app, c *cmdline) error
	flags   func(fs *flag.FlagSet, c *cmdline) // the command's own flags
	noStore bool                               // the command needs no store (lifecycle)
	remote  bool                               // the command also works against a server (--server)
}

// commands lists every subcommand in the order help shows them.
func commands() []*command {
	return []*command{
		createCmd(), editCmd(), listCmd(), showCmd(), fireCmd(), checkCmd(), testCmd(), reviewCmd(),
		riskCmd(), approveCmd(), rejectCmd(), windowCmd(), calendarCmd(), conflictsCmd(), slotCmd(),
		scheduleCmd(), scheduledCmd(), unscheduleCmd(), rolloutCmd(), runnerCmd(), outboxCmd(),
		feedbackCmd(), incidentCmd(), metricsCmd(),
		historyCmd(), auditCmd(), lifecycleCmd(), demoCmd(), serveCmd(),
	}
}

func findCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

// run runs the command line args (without the program name) and returns
// the exit code.
func (a *app) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		a.usage(a.stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if name == "help" && len(args) > 1 {
			c := findCommand(args[1])
			if c == nil {
				return a.fail(usageErrorf("help: unknown command %q (see 'releasectl help')", args[1]))
			}
			fs, _ := a.flagSet(c)
			a.commandUsage(a.stdout, c, fs)
			return exitOK
		}
		a.usage(a.stdout)
		return exitOK
	}
	// Under -o json every outcome is JSON on stdout: a failure that wrote
	// nothing there gets its problem document (see problemJSON).
	out := &countingWriter{w: a.stdout}
	a.stdout = out
	defer func() { a.stdout = out.w }()
	jsonOut := wantsJSON(args[1:])
	failed := func(err error) int {
		code := a.fail(err)
		if jsonOut && out.n == 0 {
			_ = writeJSON(out, problemJSON(err, code))
		}
		return code
	}
	c := findCommand(name)
	if c == nil {
		return failed(usageErrorf("unknown command %q (see 'releasectl help')", name))
	}
	cl, err := a.parse(c, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return failed(err)
	}
	if err := c.run(ctx, a, cl); err != nil {
		return failed(err)
	}
	return exitOK
}

// usage prints the list of commands.
func (a *app) usage(w io.Writer) {
	fmt.Fprint(w, `releasectl moves releases through an ITIL release lifecycle.

Usage:
  releasectl <command> [flags] [arguments]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s  %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Common flags (every command):
  --store NAME[:LOCATION]  where releases are kept (env RELMAN_STORE; default `+defaultStore+`):
                           sqlite (the file `+orDash(a.stores.DefaultDB())+`), sqlite:FILE,
                           postgres://user@host/db, memory (keeps nothing)
  --server URL             act on a relman server's HTTP API ('releasectl serve') instead of a
                           store (env RELMAN_SERVER; RELMAN_TOKEN is sent as a bearer token):
                           `+strings.Join(remoteCommands(), ", ")+`
  --actor ID               who acts (env RELMAN_ACTOR, then USER)
  --now TIME               pretend it is TIME (RFC 3339) for every time check
  -o text|json             aligned tables for people, or JSON for programs

Environment: RELMAN_OUTBOX=on makes the store keep an outbox of
notifications for 'releasectl runner --webhook' (set it for every program
that writes); RELMAN_ENVIRONMENTS lists the rollout environments
(default test,staging?,production).

Exit codes:
  0 success                          1 refused (a gate, rule, policy or concurrent change),
                                       or a history that does not verify (tampered)
  2 usage or invalid input           3 storage failed or unreachable
  4 no such release (or window, job) 5 not yet: refused until a time that will come

Run 'releasectl <command> --help' for a command's flags.
`)
}

// commandUsage prints a command's help and flags.
func (a *app) commandUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	line := "releasectl " + c.name + " [flags]"
	if c.args != "" {
		line += " " + c.args
	}
	fmt.Fprintf(w, "%s\n\nUsage:\n  %s\n", c.summary, line)
	if c.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.help))
	}
	fmt.Fprint(w, "\nFlags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// cmdline is a parsed command line: the common flags, the positional
// arguments, and whatever the command's own flags bound.
type cmdline struct {
	cmd    *command
	fs     *flag.FlagSet
	store  string
	server string // --server: the API's URL
	actor  string
	now    string
	output string
	args   []string
}

// flagSet builds the FlagSet of c with the common flags.
func (a *app) flagSet(c *command) (*flag.FlagSet, *cmdline) {
	cl := &cmdline{cmd: c}
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cl.fs = fs
	if !c.noStore {
		fs.StringVar(&cl.store, "store", "", "where releases are kept: NAME[:LOCATION] (env RELMAN_STORE; default "+defaultStore+")")
		fs.StringVar(&cl.actor, "actor", "", "who acts (env RELMAN_ACTOR, then USER)")
		fs.StringVar(&cl.now, "now", "", "pretend it is this instant (RFC 3339) for every time check")
		fs.StringVar(&cl.server, "server", "", "act on a relman server's HTTP API at this `URL` instead of a store (env RELMAN_SERVER)")
	}
	fs.StringVar(&cl.output, "o", "text", "output format: text or json")
	if c.flags != nil {
		c.flags(fs, cl)
	}
	return fs, cl
}

// parse parses args for c. Flags may come before, between or after the
// positional arguments; "--" ends the flags.
func (a *app) parse(c *command, args []string) (*cmdline, error) {
	fs, cl := a.flagSet(c)
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				a.commandUsage(a.stdout, c, fs)
				return nil, err
			}
			return nil, usageErrorf("%s: %s (see 'releasectl %s --help')", c.name, err, c.name)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			cl.args = append(cl.args, rest...)
			break
		}
		cl.args = append(cl.args, rest[0])
		args = rest[1:]
	}
	if cl.output != "text" && cl.output != "json" {
		return nil, usageErrorf("%s: -o must be text or json, not %q", c.name, cl.output)
	}
	if cl.server == "" && !cl.set("store") && c.remote {
		cl.server = a.getenv("RELMAN_SERVER")
	}
	if cl.server != "" {
		switch {
		case cl.set("store"):
			return nil, usageErrorf("%s: give --store or --server, not both", c.name)
		case cl.now != "":
			return nil, usageErrorf("%s: --now does not apply with --server: the server's clock judges", c.name)
		case !c.remote:
			return nil, usageErrorf("%s: not available with --server (these are: %s)", c.name, strings.Join(remoteCommands(), ", "))
		}
		cl.server = strings.TrimSuffix(cl.server, "/")
	}
	if cl.store == "" {
		cl.store = a.getenv("RELMAN_STORE")
	}
	if cl.store == "" {
		cl.store = defaultStore
	}
	if cl.actor == "" {
		cl.actor = a.getenv("RELMAN_ACTOR")
	}
	if cl.actor == "" {
		cl.actor = a.getenv("USER")
	}
	if cl.actor == "" {
		cl.actor = "releasectl"
	}
	return cl, nil
}

// want checks that exactly the named positional arguments were given.
func (cl *cmdline) want(names ...string) error {
	if len(cl.args) == len(names) {
		return nil
	}
	usage := "<" + strings.Join(names, "> <") + ">"
	if len(cl.args) < len(names) {
		return usageErrorf("%s: missing <%s> (usage: releasectl %s %s)", cl.cmd.name, names[len(cl.args)], cl.cmd.name, usage)
	}
	return usageErrorf("%s: unexpected argument %q (usage: releasectl %s %s)", cl.cmd.name, cl.args[len(names)], cl.cmd.name, usage)
}

// set reports whether the flag name was given on the command line.
func (cl *cmdline) set(name string) bool {
	found := false
	cl.fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

func (cl *cmdline) json() bool { return cl.output == "json" }

// actorValue is the acting actor.
func (cl *cmdline) actorValue() relman.Actor { return relman.Actor{ID: cl.actor} }

// clock returns the clock the Manager reads: the real time, or the
// instant given with --now.
func (cl *cmdline) clock() (func() time.Time, error) {
	if cl.now == "" {
		return time.Now, nil
	}
	t, err := parseTime(cl.now)
	if err != nil {
		return nil, usageErrorf("%s: --now: %v", cl.cmd.name, err)
	}
	return func() time.Time { return t }, nil
}

// session is an open store and a Manager over it, or a server.
type session struct {
	m     *relman.Manager // nil with --server
	api   backend         // m, or the server
	store string          // the store's name, for messages
	close func() error
}

// remoteCommands names the commands that work with --server.
func remoteCommands() []string {
	var out []string
	for _, c := range commands() {
		if c.remote {
			out = append(out, c.name)
		}
	}
	return out
}

// openRelease opens the store and reads release id. On error nothing is
// left open, and a failed read is already explained.
func (a *app) openRelease(ctx context.Context, cl *cmdline, id string) (*session, *relman.Release, error) {
	s, err := a.open(ctx, cl)
	if err != nil {
		return nil, nil, err
	}
	r, err := s.api.Get(ctx, id)
	if err != nil {
		_ = s.close()
		return nil, nil, explain(cl, id, err)
	}
	return s, r, nil
}

// open opens the store named on the command line and builds a Manager
// over it. The caller must call s.close.
func (a *app) open(ctx context.Context, cl *cmdline, opts ...relman.Option) (*session, error) {
	if cl.server != "" {
		u, err := url.Parse(cl.server)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, usageErrorf("%s: --server %q: want an http:// or https:// URL", cl.cmd.name, cl.server)
		}
		api := &remote{base: cl.server, actor: cl.actor, token: a.getenv("RELMAN_TOKEN"), client: &http.Client{Timeout: 2 * time.Minute}}
		return &session{api: api, store: cl.server, close: func() error { return nil }}, nil
	}
	clock, err := cl.clock()
	if err != nil {
		return nil, err
	}
	sign, err := a.signerOption()
	if err != nil {
		return nil, err
	}
	st, closeFn, err := a.openStore(ctx, cl.store)
	if err != nil {
		return nil, err
	}
	m, err := relman.NewManager(st, append(append([]relman.Option{relman.WithClock(clock)}, sign...), opts...)...)
	if err != nil {
		_ = closeFn()
		return nil, err
	}
	return &session{m: m, api: m, store: cl.store, close: closeFn}, nil
}

// exitError carries an exit code and a one-line message.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, msg: fmt.Sprintf(format, args...)}
}

func refusedf(format string, args ...any) error {
	return &exitError{code: exitRefused, msg: fmt.Sprintf(format, args...)}
}

func notFoundf(format string, args ...any) error {
	return &exitError{code: exitNotFound, msg: fmt.Sprintf(format, args...)}
}

func storageErrorf(format string, args ...any) error {
	return &exitError{code: exitStorage, msg: fmt.Sprintf(format, args...)}
}

// exitCode maps an error to the documented exit code.
func exitCode(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, relman.ErrCorruptHistory) || errors.Is(err, relman.ErrCheckpoint):
		return exitRefused // a history that does not verify: tampered, not a failing store
	}
	return exitCodes[relman.Classify(err)]
}

// fail prints err as one line on stderr and returns its exit code.
func (a *app) fail(err error) int {
	msg := strings.Join(strings.Fields(err.Error()), " ") // one line, always
	fmt.Fprintln(a.stderr, "releasectl: "+msg)
	return exitCode(err)
}

// explain turns a library error into one the user can act on, keeping
// what it matches (errors.Is still works through it).
func explain(cl *cmdline, id string, err error) error {
	if err == nil {
		return nil
	}
	prefix := cl.cmd.name + ": "
	if id != "" {
		prefix += id + ": "
	}
	var ge *relman.GateError
	var te *relman.TransitionError
	var ve *relman.ValidationError
	switch {
	case errors.As(err, &ge):
		parts := make([]string, len(ge.Failures))
		for i, f := range ge.Failures {
			parts[i] = f.Gate + ": " + trimLib(f.Err.Error())
		}
		return &wrapped{msg: fmt.Sprintf("%s%s refused by %d gate(s): %s", prefix, ge.Event, len(ge.Failures), strings.Join(parts, "; ")), err: err}
	case errors.As(err, &te):
		if !te.Known {
			return &wrapped{msg: fmt.Sprintf("%sunknown event %q (see 'releasectl lifecycle')", prefix, te.Event), err: err}
		}
		return &wrapped{msg: fmt.Sprintf("%s%s is not allowed from stage %s", prefix, te.Event, te.From), err: err}
	case errors.As(err, &ve):
		parts := make([]string, len(ve.Fields))
		for i, f := range ve.Fields {
			parts[i] = f.String()
		}
		return &wrapped{msg: prefix + "invalid: " + strings.Join(parts, "; "), err: err}
	case errors.Is(err, relman.ErrNotFound):
		msg := prefix + "no such release"
		if strings.HasPrefix(cl.store, "memory") {
			msg += " (the memory store keeps nothing between runs)"
		}
		return &wrapped{msg: msg, err: err}
	case errors.Is(err, relman.ErrExists):
		return &wrapped{msg: prefix + "a release with this id already exists", err: err}
	case errors.Is(err, relman.ErrConflict):
		return &wrapped{msg: prefix + "changed by someone else meanwhile; try again", err: err}
	case errors.Is(err, context.Canceled):
		return &wrapped{msg: prefix + "interrupted", err: &exitError{code: exitStorage, msg: err.Error()}}
	}
	return &wrapped{msg: prefix + trimLib(err.Error()), err: err}
}

// wrapped replaces an error's message and keeps its identity.
type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

// trimLib drops the "relman: " prefix of library messages.
func trimLib(s string) string { return strings.TrimPrefix(s, "relman: ") }

// parseTime reads an RFC 3339 time, or a date and time without seconds
// or zone ("2026-03-03 22:00", taken as UTC).
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (want RFC 3339, e.g. 2026-03-03T22:00:00Z)", s)
}

// stringsFlag is a repeatable flag; each value may also hold several
// comma-separated items.
type stringsFlag []string

func (f *stringsFlag) String() string { return strings.Join(*f, ",") }
func (f *stringsFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(*f, s) {
			*f = append(*f, s)
		}
	}
	return nil
}

// mapFlag is a repeatable key=value flag.
type mapFlag map[string]string

func (f mapFlag) String() string {
	parts := make([]string, 0, len(f))
	for k, v := range f {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func (f mapFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("want key=value, got %q", v)
	}
	f[strings.TrimSpace(k)] = val
	return nil
}

// readInput reads a file, or standard input for "-".
func (a *app) readInput(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(a.stdin)
	}
	return os.ReadFile(name)
}
