package ical

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Error reports iCalendar input that cannot be read or a value that cannot
// be used. Line is the 1-based physical line where the problem starts (0
// when it is not tied to a line); Err, when set, is the underlying error,
// such as a *RuleError for a bad RRULE. Parse, ReadEvents and the value
// parsers return it.
type Error struct {
	Line   int
	Reason string
	Err    error
}

// Error implements error.
func (e *Error) Error() string {
	msg := e.Reason
	if e.Err != nil {
		inner := strings.TrimPrefix(e.Err.Error(), "ical: ")
		if msg == "" {
			msg = inner
		} else {
			msg += ": " + inner
		}
	}
	if e.Line > 0 {
		return fmt.Sprintf("ical: line %d: %s", e.Line, msg)
	}
	return "ical: " + msg
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

func errAt(line int, format string, args ...any) *Error {
	return &Error{Line: line, Reason: fmt.Sprintf(format, args...)}
}

// Param is one property parameter, such as TZID=Europe/Paris. Values are
// unquoted; a list parameter (MEMBER="a","b") has several.
type Param struct {
	Name   string
	Values []string
}

// Property is one content line, NAME;PARAM=VALUE:value. Name is upper
// case. Value is the raw text after the colon, still escaped for TEXT
// values (see UnescapeText). Line is the physical line it started on when
// parsed, 0 otherwise.
type Property struct {
	Name   string
	Params []Param
	Value  string
	Line   int
}

// Param returns the first value of the named parameter, or "".
func (p *Property) Param(name string) string {
	for _, q := range p.Params {
		if strings.EqualFold(q.Name, name) && len(q.Values) > 0 {
			return q.Values[0]
		}
	}
	return ""
}

// Component is an iCalendar component, BEGIN:NAME … END:NAME, with its
// properties and nested components in the order of the input. Name is
// upper case; Line is where BEGIN stood.
type Component struct {
	Name  string
	Props []Property
	Comps []*Component
	Line  int
}

// Properties returns the properties named name, in order.
func (c *Component) Properties(name string) []*Property {
	var out []*Property
	for i := range c.Props {
		if strings.EqualFold(c.Props[i].Name, name) {
			out = append(out, &c.Props[i])
		}
	}
	return out
}

// Property returns the first property named name, or nil.
func (c *Component) Property(name string) *Property {
	for i := range c.Props {
		if strings.EqualFold(c.Props[i].Name, name) {
			return &c.Props[i]
		}
	}
	return nil
}

// Add appends a property with the given name and raw value.
func (c *Component) Add(name, value string, params ...Param) {
	c.Props = append(c.Props, Property{Name: name, Params: params, Value: value})
}

// WriteTo writes c and its nested components as content lines ending in
// CRLF, folded so that no line exceeds 75 octets.
func (c *Component) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	c.write(&b)
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func (c *Component) write(b *strings.Builder) {
	writeProp(b, Property{Name: "BEGIN", Value: c.Name})
	for _, p := range c.Props {
		writeProp(b, p)
	}
	for _, s := range c.Comps {
		s.write(b)
	}
	writeProp(b, Property{Name: "END", Value: c.Name})
}

// ---------------------------------------------------------------------------
// Writing content lines.

// EscapeText escapes a TEXT value: backslash, semicolon, comma, newline.
func EscapeText(s string) string {
	if !strings.ContainsAny(s, "\\;,\n\r") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case ';':
			b.WriteString(`\;`)
		case ',':
			b.WriteString(`\,`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				continue
			}
			b.WriteString(`\n`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// UnescapeText undoes EscapeText; unknown escapes keep the character.
func UnescapeText(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'n', 'N':
			b.WriteByte('\n')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// SplitText splits a TEXT list at unescaped commas and unescapes each item.
func SplitText(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case ',':
			out = append(out, UnescapeText(s[start:i]))
			start = i + 1
		}
	}
	return append(out, UnescapeText(s[start:]))
}

// paramValue quotes a parameter value when it holds ':', ';' or ','.
// DQUOTE cannot appear in a parameter value; it becomes a single quote.
// Control characters are dropped.
func paramValue(v string) string {
	v = strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r < 0x20 && r != '\t', r == 0x7f:
			return -1
		}
		return r
	}, v)
	if strings.ContainsAny(v, ":;,") {
		return `"` + v + `"`
	}
	return v
}

// writeProp writes p as a folded content line ending in CRLF.
func writeProp(w *strings.Builder, p Property) {
	var b strings.Builder
	b.WriteString(p.Name)
	for _, q := range p.Params {
		b.WriteByte(';')
		b.WriteString(q.Name)
		b.WriteByte('=')
		for i, v := range q.Values {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(paramValue(v))
		}
	}
	b.WriteByte(':')
	b.WriteString(p.Value)
	foldLine(w, b.String())
}

// foldLine writes line folded so that no physical line exceeds 75 octets
// (continuations start with a space), never splitting a UTF-8 sequence.
func foldLine(w *strings.Builder, line string) {
	limit := 75
	for len(line) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		w.WriteString(line[:cut])
		w.WriteString("\r\n ")
		line = line[cut:]
		limit = 74 // the leading space counts
	}
	w.WriteString(line)
	w.WriteString("\r\n")
}

// ---------------------------------------------------------------------------
// Parsing content lines.

// MaxInput is the largest iCalendar input Parse (and ReadEvents) reads:
// 16 MiB. Longer input is refused with an *Error that says so (it
// matches ErrTooLarge), never cut short.
const MaxInput = 16 << 20

// ErrTooLarge: the input is longer than MaxInput.
var ErrTooLarge = errors.New("ical: input larger than 16 MiB")

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// unfold reads r and returns the logical content lines with the number of
// the physical line each starts on. CRLF and bare LF are both accepted.
// It takes time and memory linear in the input: continuation lines are
// appended to a builder, never by copying the line so far.
func unfold(r io.Reader) ([]string, []int, error) {
	cr := &countingReader{r: io.LimitReader(r, MaxInput+1)}
	sc := bufio.NewScanner(cr)
	sc.Buffer(make([]byte, 64<<10), MaxInput+1)
	var lines []string
	var nums []int
	var cur strings.Builder
	curNum := 0
	flush := func() {
		if curNum > 0 {
			lines = append(lines, cur.String())
			nums = append(nums, curNum)
		}
		cur.Reset()
		curNum = 0
	}
	n := 0
	for sc.Scan() {
		n++
		l := strings.TrimSuffix(sc.Text(), "\r")
		if n == 1 {
			l = strings.TrimPrefix(l, "\ufeff") // a byte order mark, as some Windows programs write
		}
		if l == "" {
			continue
		}
		if (l[0] == ' ' || l[0] == '\t') && curNum > 0 {
			cur.WriteString(l[1:])
			continue
		}
		flush()
		cur.WriteString(l)
		curNum = n
	}
	if cr.n > MaxInput {
		return nil, nil, &Error{Line: n, Reason: fmt.Sprintf("input larger than %d bytes", MaxInput), Err: ErrTooLarge}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, &Error{Line: n + 1, Reason: err.Error()}
	}
	flush()
	return lines, nums, nil
}

// parseContentLine splits NAME;P=V;P="a:b",c:value.
func parseContentLine(l string, num int) (Property, error) {
	p := Property{Line: num}
	i := strings.IndexAny(l, ";:")
	if i <= 0 {
		return p, &Error{Line: num, Reason: "not a content line (no name, or no ':')"}
	}
	p.Name = strings.ToUpper(l[:i])
	if !validName(p.Name) {
		return p, &Error{Line: num, Reason: fmt.Sprintf("bad property name %q", truncate(l[:i], 40))}
	}
	for l[i] == ';' {
		rest := l[i+1:]
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return p, &Error{Line: num, Reason: "parameter without '='"}
		}
		q := Param{Name: strings.ToUpper(rest[:eq])}
		if !validName(q.Name) {
			return p, &Error{Line: num, Reason: fmt.Sprintf("bad parameter name %q", truncate(rest[:eq], 40))}
		}
		j := i + 1 + eq + 1
		for {
			if j >= len(l) {
				return p, &Error{Line: num, Reason: "line ends inside a parameter"}
			}
			if l[j] == '"' {
				end := strings.IndexByte(l[j+1:], '"')
				if end < 0 {
					return p, &Error{Line: num, Reason: "unterminated quoted parameter value"}
				}
				q.Values = append(q.Values, l[j+1:j+1+end])
				j += end + 2
			} else {
				end := strings.IndexAny(l[j:], ",;:")
				if end < 0 {
					return p, &Error{Line: num, Reason: "line ends inside a parameter"}
				}
				q.Values = append(q.Values, l[j:j+end])
				j += end
			}
			if j >= len(l) {
				return p, &Error{Line: num, Reason: "line ends inside a parameter"}
			}
			if l[j] != ',' {
				break
			}
			j++
		}
		p.Params = append(p.Params, q)
		i = j
		if l[i] != ';' && l[i] != ':' {
			return p, &Error{Line: num, Reason: "unexpected character after a parameter value"}
		}
	}
	p.Value = l[i+1:]
	return p, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// maxDepth bounds component nesting.
const maxDepth = 16

// Parse reads an iCalendar stream into its top-level components. Folded
// lines are joined (CRLF and bare LF line ends are both accepted), names
// are upper-cased and parameter values unquoted; values stay raw. Errors
// are *Error naming the line.
func Parse(r io.Reader) ([]*Component, error) {
	lines, nums, err := unfold(r)
	if err != nil {
		return nil, err
	}
	var top []*Component
	var stack []*Component
	for k, l := range lines {
		p, err := parseContentLine(l, nums[k])
		if err != nil {
			return nil, err
		}
		switch p.Name {
		case "BEGIN":
			name := strings.ToUpper(strings.TrimSpace(p.Value))
			if !validName(name) {
				return nil, &Error{Line: p.Line, Reason: fmt.Sprintf("bad component name %q", truncate(p.Value, 40))}
			}
			if len(stack) == maxDepth {
				return nil, &Error{Line: p.Line, Reason: "components nested too deeply"}
			}
			c := &Component{Name: name, Line: p.Line}
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				parent.Comps = append(parent.Comps, c)
			} else {
				top = append(top, c)
			}
			stack = append(stack, c)
		case "END":
			name := strings.ToUpper(strings.TrimSpace(p.Value))
			if len(stack) == 0 || stack[len(stack)-1].Name != name {
				return nil, &Error{Line: p.Line, Reason: fmt.Sprintf("END:%s does not close an open component", truncate(name, 40))}
			}
			stack = stack[:len(stack)-1]
		default:
			if len(stack) == 0 {
				return nil, &Error{Line: p.Line, Reason: "property outside any component"}
			}
			c := stack[len(stack)-1]
			c.Props = append(c.Props, p)
		}
	}
	if len(stack) > 0 {
		return nil, &Error{Line: stack[len(stack)-1].Line, Reason: fmt.Sprintf("BEGIN:%s is never closed", stack[len(stack)-1].Name)}
	}
	return top, nil
}
