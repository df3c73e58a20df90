package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/httpapi"
)

// writeJSON writes v as indented JSON, durations as Go duration strings
// (see withDurations).
func writeJSON(w io.Writer, v any) error {
	b, err := marshalNoEscape(withDurations(v))
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

// table writes aligned columns: the first row is the header.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(header...)
	return t
}

// row writes one row; tabs and newlines inside cells become spaces.
func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = strings.Join(strings.Fields(c), " ")
		if cells[i] == "" {
			cells[i] = "-"
		}
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// fmtTime formats a time for people, in UTC, to the minute.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// fmtSpan formats a window.
func fmtSpan(s *relman.Span) string {
	if s == nil {
		return "-"
	}
	start, end := s.Start.UTC(), s.End.UTC()
	if start.Format("20060102") == end.Format("20060102") {
		return start.Format("2006-01-02 15:04") + "–" + end.Format("15:04 UTC")
	}
	return start.Format("2006-01-02 15:04") + " – " + end.Format("2006-01-02 15:04 UTC")
}

// fmtMoney formats an amount without cents when it has none.
func fmtMoney(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.2f", v)
}

// shortHash abbreviates a hash for tables.
func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

// countingWriter counts what goes through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// wantsJSON reports whether args ask for -o json (before parsing, so that
// a command line that does not parse still gets its answer in JSON).
func wantsJSON(args []string) bool {
	for i, a := range args {
		if a == "--" {
			break
		}
		switch a {
		case "-o=json", "--o=json":
			return true
		case "-o", "--o":
			if i+1 < len(args) && args[i+1] == "json" {
				return true
			}
		}
	}
	return false
}

// cliProblem is a failure under -o json: the RFC 9457 problem document
// the HTTP API would answer (its class from relman.Classify), with the
// message releasectl printed on stderr and the exit code.
type cliProblem struct {
	*httpapi.Problem
	ExitCode int `json:"exit_code"`
}

// exitClasses is the class of releasectl's own errors, by exit code.
var exitClasses = map[int]relman.ErrorClass{
	exitRefused: relman.ClassRefused, exitUsage: relman.ClassInvalid, exitStorage: relman.ClassUnavailable,
	exitNotFound: relman.ClassNotFound, exitNotYet: relman.ClassNotYet,
}

// problemJSON describes err for -o json.
func problemJSON(err error, code int) cliProblem {
	var re *remoteError
	var p *httpapi.Problem
	if errors.As(err, &re) {
		cp := *re.p
		p = &cp
	} else {
		p = httpapi.ProblemFor(err)
	}
	if class := exitClasses[code]; class != "" && class != p.Class && relman.Classify(err) == relman.ClassInternal {
		p.Class, p.Status = class, httpapi.Statuses[class]
		p.Type, p.Title = "urn:relman:problem:"+string(class), http.StatusText(p.Status)
	}
	p.Detail = strings.Join(strings.Fields(err.Error()), " ")
	return cliProblem{Problem: p, ExitCode: code}
}
