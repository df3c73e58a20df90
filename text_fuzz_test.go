package relman_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/relman-dev/relman"
)

// FuzzCheckInput: CheckInput never panics, and refuses a text exactly
// when it is not valid UTF-8 or holds a NUL, wherever the text is.
func FuzzCheckInput(f *testing.F) {
	for _, s := range []string{"", "ok", "a\x00b", "\xff", "é", "\xc3", "🚀\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		bad := !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0
		for _, v := range []any{
			s,
			relman.Release{Title: s},
			&relman.Release{Labels: map[string]string{s: "v"}},
			relman.Request{Actor: relman.Actor{ID: "a", Roles: []string{"x", s}}},
			[]relman.AuditEntry{{Details: map[string]string{"k": s}}},
		} {
			if err := relman.CheckInput("", v); (err != nil) != bad {
				t.Fatalf("CheckInput(%T with %q) = %v; bad text: %v", v, s, err, bad)
			}
		}
	})
}
