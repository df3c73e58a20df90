package ical

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The corpus under testdata/corpus holds files written in the style of
// real producers (Google Calendar, Outlook/Exchange, Apple Calendar,
// Thunderbird/Lightning, a public holiday feed). Each FILE.ics has a
// FILE.json of the occurrences an independent implementation finds in
// 2026; testdata/expected.py wrote them (see there for its conventions).

var (
	corpusFrom = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	corpusTo   = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
)

// occurrence is one line of an expected file: start, end, UID.
type occurrence [3]string

func readExpected(t *testing.T, path string) []occurrence {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []occurrence
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return want
}

// expandAll lists the occurrences of events in [from, to), skipping
// cancelled series, as the expected files do.
func expandAll(evs []*Event, from, to time.Time) []occurrence {
	var got []occurrence
	for _, ev := range evs {
		if ev.Cancelled {
			continue
		}
		for in := range ev.Set.Between(from, to) {
			got = append(got, occurrence{
				in.Start.UTC().Format(time.RFC3339), in.End.UTC().Format(time.RFC3339), ev.UID,
			})
		}
	}
	slices.SortFunc(got, func(a, b occurrence) int { return strings.Compare(strings.Join(a[:], " "), strings.Join(b[:], " ")) })
	return got
}

func TestCorpus(t *testing.T) {
	files, _ := filepath.Glob("testdata/corpus/*.ics")
	if len(files) < 6 {
		t.Fatalf("corpus has %d files", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".ics"), func(t *testing.T) {
			r, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			evs, err := ReadEvents(r, ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := expandAll(evs, corpusFrom, corpusTo)
			want := readExpected(t, strings.TrimSuffix(f, ".ics")+".json")
			if !slices.Equal(got, want) {
				diffOccurrences(t, got, want)
			}
		})
	}
}

func diffOccurrences(t *testing.T, got, want []occurrence) {
	t.Helper()
	t.Errorf("%d occurrences, want %d", len(got), len(want))
	for _, g := range got {
		if !slices.Contains(want, g) {
			t.Errorf("+ %v", g)
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("- %v", w)
		}
	}
}
