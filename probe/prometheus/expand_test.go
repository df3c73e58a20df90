package prometheus_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/probe/prometheus"
)

func TestExpand(t *testing.T) {
	base := relman.ProbeQuery{Release: &relman.Release{ID: "rel-7", Version: "2.4.0-rc.1"}, Environment: "eu-west:prod", Step: 2,
		Params: map[string]string{"service": "invoices", "le": "0.5", "window_1": "5m"}}
	tests := []struct {
		name, query, want string
		edit              func(q *relman.ProbeQuery)
		bad               string // a part of the error message; "" for success
	}{
		{name: "no placeholders", query: `sum(up{job="a"})`, want: `sum(up{job="a"})`},
		{name: "built-ins", query: `{{release}} {{version}} {{environment}} {{step}}`, want: `rel-7 2.4.0-rc.1 eu-west:prod 2`},
		{name: "spaces in braces", query: `x{v="{{ version }}"}`, want: `x{v="2.4.0-rc.1"}`},
		{name: "params", query: `histogram_quantile(0.99, rate(x_bucket{service="{{service}}"}[{{window_1}}])) > {{le}}`,
			want: `histogram_quantile(0.99, rate(x_bucket{service="invoices"}[5m])) > 0.5`},
		{name: "watching", query: `{{step}}`, want: `-1`, edit: func(q *relman.ProbeQuery) { q.Step = -1 }},
		{name: "single braces stay", query: `x{a="b"}`, want: `x{a="b"}`},
		{name: "adjacent", query: `{{release}}{{step}}`, want: `rel-72`},
		{name: "unknown", query: `{{service_name}}`, bad: "neither built in"},
		{name: "unterminated", query: `x{v="{{version"}`, bad: "not closed"},
		{name: "empty name", query: `{{}}`, bad: "not a placeholder name"},
		{name: "odd name", query: `{{ver sion}}`, bad: "not a placeholder name"},
		{name: "shadowing", query: `{{version}}`, bad: "redefines", edit: func(q *relman.ProbeQuery) { q.Params = map[string]string{"version": "1.0.0"} }},
		{name: "no release", query: `{{version}}`, bad: "needs the release", edit: func(q *relman.ProbeQuery) { q.Release = nil }},
		{name: "empty value", query: `{{environment}}`, bad: "is empty", edit: func(q *relman.ProbeQuery) { q.Environment = "" }},
		{name: "quote", query: `{{version}}`, bad: "outside", edit: func(q *relman.ProbeQuery) { q.Release = &relman.Release{Version: `1"} or vector(1) #`} }},
		{name: "build metadata", query: `{{version}}`, bad: "outside", edit: func(q *relman.ProbeQuery) { q.Release = &relman.Release{Version: "1.2.3+build.7"} }},
		{name: "space", query: `{{service}}`, bad: "outside", edit: func(q *relman.ProbeQuery) { q.Params = map[string]string{"service": "a b"} }},
		{name: "backslash", query: `{{service}}`, bad: "outside", edit: func(q *relman.ProbeQuery) { q.Params = map[string]string{"service": `a\`} }},
		{name: "non-ASCII", query: `{{service}}`, bad: "outside", edit: func(q *relman.ProbeQuery) { q.Params = map[string]string{"service": "café"} }},
		{name: "too long", query: `{{service}}`, bad: "longer than", edit: func(q *relman.ProbeQuery) {
			q.Params = map[string]string{"service": strings.Repeat("a", prometheus.MaxValueLen+1)}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := base
			if tt.edit != nil {
				tt.edit(&q)
			}
			got, err := prometheus.Expand(tt.query, q)
			if tt.bad == "" {
				if err != nil || got != tt.want {
					t.Fatalf("Expand(%q) = %q, %v; want %q", tt.query, got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, prometheus.ErrPlaceholder) || !strings.Contains(err.Error(), tt.bad) || got != "" {
				t.Fatalf("Expand(%q) = %q, %v; want ErrPlaceholder saying %q", tt.query, got, err, tt.bad)
			}
		})
	}
}

// FuzzExpand checks that an expansion never panics and that whatever it
// returns is the query with each placeholder replaced by a safe value.
func FuzzExpand(f *testing.F) {
	f.Add(`sum(x{v="{{version}}"})`, "2.4.0", "k", "v")
	f.Add(`{{k}}{{`, "1", "k", `"`)
	f.Add(`{{ k }}}}`, "", "k", "a:b")
	f.Fuzz(func(t *testing.T, query, version, key, value string) {
		q := relman.ProbeQuery{Release: &relman.Release{ID: "r", Version: version}, Environment: "prod", Params: map[string]string{key: value}}
		got, err := prometheus.Expand(query, q)
		if err != nil {
			if !errors.Is(err, prometheus.ErrPlaceholder) {
				t.Fatalf("error %v does not match ErrPlaceholder", err)
			}
			return
		}
		if strings.Count(got, `"`) != strings.Count(query, `"`) || strings.Count(got, "}") > strings.Count(query, "}") {
			t.Fatalf("Expand(%q) = %q changed the query's shape", query, got)
		}
	})
}
