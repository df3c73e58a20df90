package main

import "testing"

// TestRunExitCodes checks the documented exit codes of bad invocations
// (each returns before serving).
func TestRunExitCodes(t *testing.T) {
	t.Setenv("RELMAN_STORE", "")
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"--help"}, 0},
		{[]string{"--port", "80"}, 2},
		{[]string{"--days", "0"}, 2},
		{[]string{"extra"}, 2},
		{[]string{"--store", "oracle:scott"}, 2},
		{[]string{"--store", "sqlite:/dev/null"}, 3},
		{[]string{"--store", "memory", "--addr", "256.0.0.1:1"}, 3},
	} {
		if got := run(c.args); got != c.code {
			t.Errorf("calendarpage %v: exit %d, want %d", c.args, got, c.code)
		}
	}
}
