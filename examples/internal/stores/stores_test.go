package stores

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/relman-dev/relman"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultDB(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"XDG_DATA_HOME": "/data", "HOME": "/home/u"}, "/data/relman/relman.db"},
		{map[string]string{"HOME": "/home/u"}, "/home/u/.local/share/relman/relman.db"},
		{map[string]string{}, ""},
	} {
		if got := New(env(c.env)).DefaultDB(); got != c.want {
			t.Errorf("DefaultDB with %v = %q, want %q", c.env, got, c.want)
		}
	}
	s := New(env(map[string]string{"HOME": "/h"}))
	if got := s.Describe("sqlite"); got != "sqlite:/h/.local/share/relman/relman.db" {
		t.Errorf("Describe(sqlite) = %q", got)
	}
	if got := s.Describe("postgres://u:pw@db/x"); got != "postgres://u:***@db/x" {
		t.Errorf("Describe(url) = %q", got)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:secret@h:5432/db?sslmode=disable": "postgres://u:***@h:5432/db?sslmode=disable",
		"postgres://u@h/db":                             "postgres://u@h/db",
		"sqlite:/tmp/x.db":                              "sqlite:/tmp/x.db",
		"memory":                                        "memory",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := New(env(map[string]string{"XDG_DATA_HOME": dir}))

	st, closeFn, err := s.Open(ctx, "sqlite")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "x"); !errors.Is(err, relman.ErrNotFound) {
		t.Errorf("Get on a new default database: %v", err)
	}
	if err := closeFn(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "relman", "relman.db")); err != nil {
		t.Errorf("the default database was not created under XDG_DATA_HOME: %v", err)
	}

	var se *Error
	for spec, usage := range map[string]bool{
		"oracle:x":         true,
		"postgres":         true,
		"postgres://%zz":   true,
		"sqlite:" + dir:    false, // a directory, not a file
		"sqlite:/dev/null": false,
	} {
		_, _, err := s.Open(ctx, spec)
		if !errors.As(err, &se) || se.Usage != usage {
			t.Errorf("Open(%q) = %v; want an *Error with Usage %v", spec, err, usage)
		}
	}
	if _, closeFn, err := s.Open(ctx, "memory"); err != nil {
		t.Error(err)
	} else {
		closeFn()
	}
}
