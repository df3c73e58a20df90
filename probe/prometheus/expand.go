package prometheus

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/relman-dev/relman"
)

// ErrPlaceholder: a query's placeholder could not be filled in: it is
// unknown, unterminated, shadowed by a parameter, or its value is empty,
// too long or has a character outside [A-Za-z0-9._:-].
var ErrPlaceholder = errors.New("prometheus: bad placeholder")

// MaxValueLen bounds the length of one substituted value.
const MaxValueLen = 200

// Expand returns query with its placeholders replaced by values from q,
// as Measure sends it. The placeholders are
//
//	{{release}}      q.Release.ID
//	{{version}}      q.Release.Version
//	{{environment}}  q.Environment
//	{{step}}         q.Step (0-based; -1 while the release is watched in operation)
//	{{key}}          q.Params["key"], for any other key
//
// Spaces inside the braces are allowed ({{ version }}). A parameter may
// not redefine one of the four built-in names.
//
// Values are not escaped: instead, each must be 1 to MaxValueLen
// characters from [A-Za-z0-9._:-], none of which can end a PromQL string
// ("…", '…' or `…`), escape a character in it, or open a matcher, a
// group or a comment: inside a quoted label value, a value stays that one
// label value. Outside quotes (a range such as [{{window}}], a threshold)
// it is inserted as it is, where "-" is a minus sign. A semantic version
// with build metadata ("1.2.3+build.7") is refused: label such series
// without the metadata. In a regular-expression matcher (=~) a "." in a
// value matches any character; use = to match a version exactly.
//
// Every error matches ErrPlaceholder.
func Expand(query string, q relman.ProbeQuery) (string, error) {
	var b strings.Builder
	b.Grow(len(query))
	rest := query
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		b.WriteString(rest[:i])
		end := strings.Index(rest[i+2:], "}}")
		if end < 0 {
			return "", fmt.Errorf("%w: %q is not closed with }}", ErrPlaceholder, clip(rest[i:], 40))
		}
		name := strings.TrimSpace(rest[i+2 : i+2+end])
		v, err := lookup(name, q)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
		rest = rest[i+2+end+2:]
	}
}

// lookup returns the checked value of the placeholder name.
func lookup(name string, q relman.ProbeQuery) (string, error) {
	var (
		v  string
		ok bool
	)
	builtin := true
	switch name {
	case "release":
		if q.Release != nil {
			v, ok = q.Release.ID, true
		}
	case "version":
		if q.Release != nil {
			v, ok = q.Release.Version, true
		}
	case "environment":
		v, ok = q.Environment, true
	case "step":
		v, ok = strconv.Itoa(q.Step), true
	default:
		builtin = false
		v, ok = q.Params[name]
	}
	switch {
	case !validName(name):
		return "", fmt.Errorf("%w: {{%s}} is not a placeholder name", ErrPlaceholder, clip(name, 40))
	case builtin && hasKey(q.Params, name):
		return "", fmt.Errorf("%w: parameter %q redefines a built-in placeholder", ErrPlaceholder, name)
	case !ok && builtin:
		return "", fmt.Errorf("%w: {{%s}} needs the release, which the query does not carry", ErrPlaceholder, name)
	case !ok:
		return "", fmt.Errorf("%w: {{%s}} is neither built in (release, version, environment, step) nor a parameter", ErrPlaceholder, name)
	case v == "":
		return "", fmt.Errorf("%w: {{%s}} is empty", ErrPlaceholder, name)
	case len(v) > MaxValueLen:
		return "", fmt.Errorf("%w: {{%s}} is longer than %d bytes", ErrPlaceholder, name, MaxValueLen)
	case !safeValue(v):
		return "", fmt.Errorf("%w: {{%s}} = %q has a character outside [A-Za-z0-9._:-]", ErrPlaceholder, name, v)
	}
	return v, nil
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// validName reports whether s looks like an identifier.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// safeValue reports whether every byte of s is in [A-Za-z0-9._:-].
func safeValue(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// clip cuts s to at most n bytes, on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
