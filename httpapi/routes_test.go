package httpapi_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/relman-dev/relman/httpapi"
)

// TestEveryRoute walks every operation of the OpenAPI document: each
// exists in the handler (an unauthenticated request is answered 401, not
// 404 or 405), and each that reads a body answers 413 to an oversized
// one and 400 to malformed JSON and to an unknown field.
func TestEveryRoute(t *testing.T) {
	e := newEnv(t)
	e.do("olga", "POST", "/releases", newRelease("x")).want(t, 201)
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`\{[a-z]+\}`)
	paths := doc.Paths.InMatchingOrder()
	slices.Sort(paths)
	n := 0
	for _, path := range paths {
		for method, op := range doc.Paths.Value(path).Operations() {
			concrete := param.ReplaceAllStringFunc(path, func(p string) string {
				switch p {
				case "{seq}":
					return "1"
				case "{command}":
					return "resume"
				case "{event}":
					return "approve"
				}
				return "x"
			})
			n++
			if path == "/openapi.json" {
				e.do("", method, concrete, nil).want(t, 200)
				continue
			}
			t.Run(method+" "+path, func(t *testing.T) {
				if p := e.do("", method, concrete, nil).want(t, 401).problem(t); p.Status != 401 {
					t.Errorf("unauthenticated: %+v", p)
				}
				if op.RequestBody == nil {
					return
				}
				e.do("olga", method, concrete, `{"reason": "`+strings.Repeat("x", 65<<10)+`"}`).want(t, 413)
				e.do("olga", method, concrete, `{"reason": `).want(t, 400)
				if p := e.do("olga", method, concrete, `{"no_such_field": 1}`).want(t, 400).problem(t); !strings.Contains(p.Detail, "unknown field") {
					t.Errorf("unknown field: %+v", p)
				}
			})
		}
	}
	if n < 30 {
		t.Errorf("only %d operations in the document", n)
	}
}
