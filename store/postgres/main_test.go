package postgres_test

import (
	"fmt"
	"io"
	"os"
	"testing"
)

// TestMain says so when the PostgreSQL tests will skip. go test hides
// the output of a package that passes, so the line also goes to the
// terminal (/dev/tty) when there is one: a developer running
// 'go test work' without RELMAN_POSTGRES_DSN sees that the PostgreSQL
// store was not tested. CI sets the DSN (.ci/run).
func TestMain(m *testing.M) {
	if os.Getenv(dsnEnv) == "" {
		msg := fmt.Sprintf("store/postgres: %s is not set: the PostgreSQL tests SKIP (set it to a database the tests may write to)\n", dsnEnv)
		var w io.Writer = os.Stdout
		tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
		if err == nil {
			w = io.MultiWriter(os.Stdout, tty)
		}
		fmt.Fprint(w, msg)
		if tty != nil {
			tty.Close()
		}
	}
	os.Exit(m.Run())
}
