package relman

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var updateRoundTrip = flag.Bool("update-roundtrip", false, "rewrite testdata/roundtrip/*.ics from the ical corpus")

// spans reads an expected-occurrences file of ical/testdata/expected.py
// and returns its "start end" pairs, sorted (UIDs change on export).
func spans(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var occ [][3]string
	if err := json.Unmarshal(data, &occ); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := make([]string, len(occ))
	for i, o := range occ {
		out[i] = o[0] + " " + o[1]
	}
	slices.Sort(out)
	return out
}

// TestCorpusRoundTrip imports each file of the ical corpus as windows and
// checks three things: the calendar of those windows has the occurrences
// the independent implementation found in the file; exporting them gives
// testdata/roundtrip/NAME.ics (run with -update-roundtrip to rewrite it,
// then ical/testdata/expected.py on it); and the independent
// implementation finds the same occurrences in the exported file.
func TestCorpusRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("ical/testdata/corpus/*.ics")
	if len(files) == 0 {
		t.Fatal("no corpus")
	}
	year := Span{Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".ics")
		t.Run(name, func(t *testing.T) {
			in, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			ws, err := ImportICS(in, ImportOptions{Kind: WindowFreeze})
			if err != nil {
				t.Fatal(err)
			}
			want := spans(t, strings.TrimSuffix(f, ".ics")+".json")
			cal, err := NewCalendar(ws...)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range cal.Occurrences(year, nil) {
				got = append(got, o.Span.Start.UTC().Format(time.RFC3339)+" "+o.Span.End.UTC().Format(time.RFC3339))
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("imported windows:\n got %q\nwant %q", got, want)
			}

			var out bytes.Buffer
			opt := ICSOptions{Now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)}
			if err := ExportICS(&out, ws, nil, opt); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "roundtrip", name+".ics")
			if *updateRoundTrip {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			prev, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(prev, out.Bytes()) {
				t.Fatalf("export differs from %s (run with -update-roundtrip, then expected.py):\n%s", golden, out.String())
			}
			if again := spans(t, strings.TrimSuffix(golden, ".ics")+".json"); !slices.Equal(again, want) {
				t.Errorf("exported file, read by the independent parser:\n got %q\nwant %q", again, want)
			}
			// And it imports back to the same windows.
			checkReimport(t, out.String(), ws)
		})
	}
}
