package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests in this file build the releasectl binary and run it the way a
// person or a CI job would: in a fresh directory, with a clean
// environment, looking only at stdout, stderr and the exit code.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binary builds releasectl once per test run and returns its path.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "releasectl-test-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "releasectl")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// exe runs the binary with args in dir, with only PATH and HOME from
// the test's environment plus env, feeding stdin.
func exe(t *testing.T, dir, stdin string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "USER=tester"}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run releasectl: %v", err)
	}
	return result{out.String(), errb.String(), code}
}

func TestBinary(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bad.json"), []byte("{\"id\": \"x\",\n \"title\": \"t\" \"version\": \"1.0.0\"}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "good.json"), []byte(`{"id": "x-1", "title": "t", "version": "1.0.0", "services": ["web"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		args   []string
		stdin  string
		env    []string
		code   int
		stdout []string // each must appear in stdout
		stderr string   // must appear in the one line of stderr
	}{
		{name: "help", args: []string{"--help"}, stdout: []string{"Commands:", "Exit codes:"}},
		{name: "command help", args: []string{"check", "--help"}, stdout: []string{"dry run", "-window START/END"}},
		{name: "no arguments", args: nil, code: 2},
		{name: "unknown command", args: []string{"shipit"}, code: 2, stderr: `unknown command "shipit" (see 'releasectl help')`},
		{name: "missing flag", args: []string{"create", "--title", "t"}, code: 2, stderr: "create: missing --id, --version"},
		{name: "missing flag value", args: []string{"fire", "x", "approve", "--reason"}, code: 2, stderr: "flag needs an argument: -reason"},
		{name: "malformed JSON", args: []string{"create", "-f", "bad.json"}, code: 2, stderr: "create: bad.json: line 2, column 15: malformed JSON"},
		{name: "malformed JSON on stdin", args: []string{"create", "-f", "-"}, stdin: "{", code: 2, stderr: "create: standard input: unexpected end of JSON input"},
		{name: "unknown release", args: []string{"show", "nope"}, code: 4, stderr: "show: nope: no such release"},
		{name: "unknown release check", args: []string{"check", "nope", "deploy"}, code: 4, stderr: "check: nope: no such release"},
		{name: "unknown store", args: []string{"list"}, env: []string{"RELMAN_STORE=oracle:scott/tiger"}, code: 2, stderr: `unknown store "oracle"`},
		{name: "typo in an RRULE", args: []string{"window", "add", "w1", "--name", "n", "--kind", "maintenance", "--start", "2026-03-07 22:00",
			"--end", "2026-03-08 02:00", "--rrule", "FREQ=WEKLY;BYDAY=SA"}, code: 2, stderr: "window: w1: rrule FREQ=WEKLY: unknown frequency"},
		{name: "no windows", args: []string{"window", "list"}, stdout: []string{"no windows"}},
		{name: "window add", args: []string{"window", "add", "w1", "--name", "Saturday night", "--kind", "maintenance", "--start", "2026-03-07 22:00",
			"--end", "2026-03-08 02:00", "--now", "2026-03-02T00:00:00Z"}, stdout: []string{"window w1 saved (maintenance); next occurrence 2026-03-07 22:00 – 2026-03-08 02:00 UTC"}},
		{name: "window kept", args: []string{"window", "list"}, stdout: []string{"w1", "maintenance", "Saturday night"}},
		{name: "create from file", args: []string{"create", "-f", "good.json"}, stdout: []string{"created x-1 (proposed)"}},
		{name: "create from flags as JSON", args: []string{"create", "--id", "y-1", "--title", "Y", "--version", "2.0.0", "-o", "json"},
			stdout: []string{`"id": "y-1"`, `"stage": "proposed"`, `"owner": "tester"`}},
		{name: "lifecycle", args: []string{"lifecycle"}, stdout: []string{"EVENT", "authorize", "rollback-plan"}},
		{name: "demo", args: []string{"demo", "--now", "2026-03-02T09:00:00Z"},
			stdout: []string{"[ 1/37]", "✗ approve refused by carl", "authorize refused", "self-approval is not allowed", "approvals complete", "FAILED: PDF totals off by one cent", "fail: testing → building",
				"not yet", "fired by the runner", "step 2 (25%) failed verification", "error-rate=0.07 fail", "rolled_back after 1 of 3 steps", "succeeded after 3 of 3 steps; release operating",
				"close: operating → closed", "[37/37]", "chains intact"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := exe(t, dir, c.stdin, c.env, c.args...)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, c.code, r.stderr)
			}
			for _, w := range c.stdout {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout does not contain %q:\n%s", w, r.stdout)
				}
			}
			if c.code == 0 {
				if r.stderr != "" {
					t.Errorf("success wrote to stderr: %q", r.stderr)
				}
				return
			}
			if c.args == nil {
				if !strings.Contains(r.stderr, "Commands:") {
					t.Errorf("no arguments: stderr does not show usage: %q", r.stderr)
				}
				return
			}
			if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "releasectl: ") || !strings.Contains(r.stderr, c.stderr) {
				t.Errorf("stderr %q: want one line containing %q", r.stderr, c.stderr)
			}
		})
	}
}

func TestBinaryDemoJSON(t *testing.T) {
	r := exe(t, t.TempDir(), "", nil, "demo", "-o", "json")
	if r.code != 0 {
		t.Fatalf("demo -o json: exit %d: %s", r.code, r.stderr)
	}
	var steps []demoResult
	if err := json.Unmarshal([]byte(r.stdout), &steps); err != nil {
		t.Fatalf("demo -o json is not JSON: %v", err)
	}
	if len(steps) != 37 || steps[36].Kind != "verify" {
		t.Errorf("demo -o json: %d steps, last %+v", len(steps), steps[len(steps)-1])
	}
}

// TestBinaryOnSQLite walks a release from proposed to closed with one
// process per command on the default store (a SQLite file under HOME),
// and checks that refused commands and bad input leave the database as
// it was.
func TestBinaryOnSQLite(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) result { return exe(t, dir, "", nil, args...) }
	ok := func(args ...string) string {
		t.Helper()
		r := run(args...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("releasectl %s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
		}
		return r.stdout
	}
	fails := func(code int, want string, args ...string) {
		t.Helper()
		r := run(args...)
		if r.code != code || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("releasectl %s: exit %d (want %d), stderr %q (want one line with %q)", strings.Join(args, " "), r.code, code, r.stderr, want)
		}
	}
	at := func(ts string, args ...string) []string { return append(args, "--now", ts) }

	out := ok(at("2026-03-02T09:00:00Z", "create", "--id", "web-1.0.0", "--title", "Web", "--version", "1.0.0", "--service", "web",
		"--problem", "slow pages", "--value", "1000", "--cost", "100", "--feasibility", "high", "--suite", "unit", "--rollback", "redeploy 0.9")...)
	if !strings.Contains(out, "created web-1.0.0 (proposed)") {
		t.Fatalf("create: %s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, ".local", "share", "relman", "relman.db")); err != nil {
		t.Fatalf("the default database is not in the user's data directory: %v", err)
	}
	ok(at("2026-03-02T10:00:00Z", "fire", "web-1.0.0", "approve", "--actor", "carl")...)
	ok(at("2026-03-02T11:00:00Z", "fire", "web-1.0.0", "plan", "--window", "2026-03-04T22:00:00Z/2026-03-05T00:00:00Z")...)

	// Bad input and refusals change nothing.
	snapshot := func() string { return ok("show", "web-1.0.0", "-o", "json") + ok("history", "web-1.0.0", "-o", "json") }
	before := snapshot()
	fails(1, "deploy is not allowed from stage planned", "fire", "web-1.0.0", "deploy")
	fails(1, "pass is not allowed from stage planned", "check", "web-1.0.0", "pass")
	fails(1, "cancel refused by 1 gate(s): reason: a reason is required", "fire", "web-1.0.0", "cancel")
	fails(2, "flag provided but not defined: -force", "fire", "web-1.0.0", "start", "--force")
	fails(2, "invalid: version: semver", "edit", "web-1.0.0", "--version", "1.0")
	fails(2, `verdict must be pass or fail`, "test", "web-1.0.0", "unit", "green")
	fails(1, "a release with this id already exists", "create", "--id", "web-1.0.0", "--title", "Web", "--version", "1.0.0")
	if after := snapshot(); after != before {
		t.Errorf("refused commands changed the database:\nbefore %s\nafter %s", before, after)
	}

	ok(at("2026-03-02T12:00:00Z", "fire", "web-1.0.0", "start")...)
	ok(at("2026-03-03T09:00:00Z", "fire", "web-1.0.0", "submit")...)
	ok(at("2026-03-03T10:00:00Z", "test", "web-1.0.0", "unit", "fail", "--detail", "flaky login")...)
	ok(at("2026-03-03T10:05:00Z", "fire", "web-1.0.0", "fail", "--reason", "unit red")...)
	ok(at("2026-03-03T12:00:00Z", "fire", "web-1.0.0", "submit")...)
	ok(at("2026-03-03T13:00:00Z", "test", "web-1.0.0", "unit", "pass")...)
	ok(at("2026-03-03T13:05:00Z", "fire", "web-1.0.0", "pass")...)
	ok(at("2026-03-03T14:00:00Z", "risk", "assess", "web-1.0.0")...)
	ok(at("2026-03-03T14:10:00Z", "approve", "web-1.0.0", "--actor", "carl", "--comment", "fine")...)
	ok(at("2026-03-03T14:20:00Z", "fire", "web-1.0.0", "authorize")...)
	r := run(at("2026-03-04T12:00:00Z", "check", "web-1.0.0", "deploy")...)
	if r.code != 5 || !strings.Contains(r.stdout, "not yet, from 2026-03-04 22:00 UTC") {
		t.Errorf("check deploy before the window: exit %d, stdout %q", r.code, r.stdout)
	}
	ok(at("2026-03-04T22:01:00Z", "check", "web-1.0.0", "deploy")...)
	ok(at("2026-03-04T22:01:00Z", "fire", "web-1.0.0", "deploy")...)
	ok(at("2026-03-04T22:30:00Z", "fire", "web-1.0.0", "complete")...)
	ok(at("2026-03-11T09:00:00Z", "review", "web-1.0.0", "successful")...)
	ok(at("2026-03-11T09:05:00Z", "fire", "web-1.0.0", "close")...)

	out = ok("history", "web-1.0.0", "--verify")
	for _, w := range []string{"approve: proposed → approved", "fail: testing → building", "unit red", "close: operating → closed", "verified: 17 entries, chain intact"} {
		if !strings.Contains(out, w) {
			t.Errorf("history does not contain %q:\n%s", w, out)
		}
	}
	if out := ok("list", "--stage", "closed"); !strings.Contains(out, "web-1.0.0") {
		t.Errorf("list --stage closed:\n%s", out)
	}
	if out := ok("metrics", "--from", "2026-03-01", "--to", "2026-04-01"); !strings.Contains(out, "service web") {
		t.Errorf("metrics:\n%s", out)
	}
}

func TestBinaryStorageErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a database, just some words that are long enough to be a header\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		store, want string
		code        int
	}{
		{"sqlite:" + filepath.Join(dir, "missing", "dir", "x.db"), "open store sqlite:", 3},
		{"sqlite:notes.txt", "not a relman database", 3},
		{"postgres://relman:secret@127.0.0.1:1/none?connect_timeout=2", "open store postgres://relman:***@127.0.0.1:1/none", 3},
		{"postgres://%zz", "store postgres://%zz: postgres: invalid DSN", 2},
	} {
		r := exe(t, dir, "", nil, "list", "--store", c.store)
		if r.code != c.code || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, c.want) || strings.Contains(r.stderr, "secret") {
			t.Errorf("--store %s: exit %d (want %d), stderr %q (want one line with %q, no password)", c.store, r.code, c.code, r.stderr, c.want)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "notes.txt")); err != nil || !strings.HasPrefix(string(b), "not a database") {
		t.Errorf("the foreign file was changed: %q, %v", b, err)
	}
}

// TestBinaryOnPostgres runs the demo and reads it back on PostgreSQL when
// RELMAN_POSTGRES_DSN names a database (CI sets it); it skips otherwise.
func TestBinaryOnPostgres(t *testing.T) {
	dsn := os.Getenv("RELMAN_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("RELMAN_POSTGRES_DSN is not set: no PostgreSQL to run against")
	}
	dir := t.TempDir()
	env := []string{"RELMAN_STORE=" + dsn}
	id := fmt.Sprintf("pg-demo-%d", time.Now().UnixNano()) // unique per run: the database may be shared
	r := exe(t, dir, "", env, "demo", "--id", id, "--now", "2026-03-02T09:00:00Z")
	if r.code != 0 || !strings.Contains(r.stdout, "close: operating → closed") {
		t.Fatalf("demo on postgres: exit %d, stderr %q\n%s", r.code, r.stderr, r.stdout)
	}
	r = exe(t, dir, "", env, "history", id, "--verify")
	if r.code != 0 || !strings.Contains(r.stdout, "chain intact") {
		t.Errorf("history --verify on postgres: exit %d, stderr %q\n%s", r.code, r.stderr, r.stdout)
	}
	// The demo's release was rolled back by its canary; its fix is closed.
	r = exe(t, dir, "", env, "show", id, "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"stage": "rolled_back"`) {
		t.Errorf("show on postgres: exit %d, stderr %q", r.code, r.stderr)
	}
	r = exe(t, dir, "", env, "show", id+"-fix", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"stage": "closed"`) {
		t.Errorf("show the fix on postgres: exit %d, stderr %q", r.code, r.stderr)
	}
}
