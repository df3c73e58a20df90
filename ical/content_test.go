package ical

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestFoldLine(t *testing.T) {
	for _, s := range []string{
		"SUMMARY:short",
		"DESCRIPTION:" + strings.Repeat("abcdefghij", 30),
		"DESCRIPTION:" + strings.Repeat("é€😀", 60), // 2-, 3- and 4-octet sequences
	} {
		var b strings.Builder
		foldLine(&b, s)
		out := b.String()
		if !strings.HasSuffix(out, "\r\n") {
			t.Fatalf("no CRLF: %q", out)
		}
		phys := strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n")
		for i, l := range phys {
			if len(l) > 75 {
				t.Errorf("line %d has %d octets", i, len(l))
			}
			if !utf8.ValidString(l) {
				t.Errorf("line %d splits a UTF-8 sequence: %q", i, l)
			}
			if i > 0 && l[0] != ' ' {
				t.Errorf("continuation %d does not start with a space", i)
			}
		}
		lines, _, err := unfold(strings.NewReader(out))
		if err != nil || len(lines) != 1 || lines[0] != s {
			t.Errorf("unfold(fold(s)) = %q, %v", lines, err)
		}
	}
}

func TestTextEscaping(t *testing.T) {
	in := "a\\b;c,d\ne"
	esc := EscapeText(in)
	if esc != `a\\b\;c\,d\ne` {
		t.Errorf("escape = %q", esc)
	}
	if got := UnescapeText(esc); got != in {
		t.Errorf("unescape = %q", got)
	}
	if got := SplitText(`a\,b,c\\,d`); !slices.Equal(got, []string{"a,b", `c\`, "d"}) {
		t.Errorf("splitText = %q", got)
	}
}

func TestParseContentLine(t *testing.T) {
	p, err := parseContentLine(`dtstart;TZID="Europe/Paris";X-A=1,"b:c";X-B=:20260329T220000`, 3)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "DTSTART" || p.Param("tzid") != "Europe/Paris" || p.Value != "20260329T220000" ||
		!slices.Equal(p.Params[1].Values, []string{"1", "b:c"}) || p.Params[2].Values[0] != "" {
		t.Errorf("parsed %+v", p)
	}
	for _, bad := range []string{"NOCOLON", ":value", "A;B:x", `A;B="x:y`, "A B:x", "A;=x:y"} {
		_, err := parseContentLine(bad, 7)
		var ie *Error
		if !errors.As(err, &ie) || ie.Line != 7 {
			t.Errorf("parseContentLine(%q) = %v", bad, err)
		}
	}
}

func vtimezoneText(loc *time.Location, from, to int) string {
	var b strings.Builder
	VTimezone(loc, from, to).write(&b)
	return b.String()
}

func TestVTimezoneParis(t *testing.T) {
	paris := mustLoad(t, "Europe/Paris")
	out := vtimezoneText(paris, 2020, 2030)
	for _, want := range []string{
		"TZID:Europe/Paris",
		"BEGIN:DAYLIGHT\r\nDTSTART:20200329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST",
		"BEGIN:STANDARD\r\nDTSTART:20201025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("VTIMEZONE lacks %q:\n%s", want, out)
		}
	}
	// A zone without DST gets one observance.
	if s := vtimezoneText(mustLoad(t, "Asia/Kolkata"), 2020, 2030); !strings.Contains(s, "TZOFFSETFROM:+0530\r\nTZOFFSETTO:+0530") {
		t.Errorf("Kolkata:\n%s", s)
	}
}

// TestVTimezoneRoundTrip writes the VTIMEZONE of real zones, reads it back
// with ZoneFromVTimezone under another name, and compares offsets and
// transitions with Go's zone over the span written.
func TestVTimezoneRoundTrip(t *testing.T) {
	for _, name := range []string{"Europe/Paris", "America/New_York", "Australia/Lord_Howe", "America/Sao_Paulo", "Asia/Kolkata", "Pacific/Chatham", "Australia/Sydney"} {
		loc := mustLoad(t, name)
		vt := VTimezone(loc, 2015, 2045)
		vt.Props[0].Value = "Custom " + name
		got, err := ZoneFromVTimezone(vt)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.String() != "Custom "+name {
			t.Errorf("name %q", got.String())
		}
		end := time.Date(2046, 1, 1, 0, 0, 0, 0, time.UTC)
		for u := time.Date(2015, 2, 1, 0, 0, 0, 0, time.UTC); u.Before(end); u = u.Add(97 * time.Minute) {
			_, want := u.In(loc).Zone()
			if _, off := u.In(got).Zone(); off != want {
				t.Fatalf("%s at %s: offset %d, want %d", name, u, off, want)
			}
		}
		var want, have []time.Time
		for _, tr := range zoneTransitions(loc, time.Date(2015, 2, 1, 0, 0, 0, 0, loc), end) {
			want = append(want, tr.at.UTC())
		}
		for _, tr := range zoneTransitions(got, time.Date(2015, 2, 1, 0, 0, 0, 0, loc), end) {
			have = append(have, tr.at.UTC())
		}
		if !slices.EqualFunc(have, want, time.Time.Equal) {
			t.Errorf("%s: %d transitions, Go %d", name, len(have), len(want))
		}
		// Past the expanded span, the POSIX rule carries the zone on.
		for _, y := range []int{2201, 2350} {
			for _, m := range []time.Month{1, 4, 7, 10} {
				u := time.Date(y, m, 20, 12, 0, 0, 0, time.UTC)
				_, want := u.In(loc).Zone()
				if _, off := u.In(got).Zone(); off != want {
					t.Errorf("%s in %d-%02d: offset %d, want %d", name, y, m, off, want)
				}
			}
		}
		// And an IANA zone that agrees with it is found again.
		iana, ok := IANAZone(got, time.Date(2015, 2, 1, 0, 0, 0, 0, time.UTC), end)
		if !ok {
			t.Errorf("%s: no IANA zone found for it", name)
			continue
		}
		for u := time.Date(2015, 2, 1, 0, 0, 0, 0, time.UTC); u.Before(end); u = u.Add(241 * time.Minute) {
			_, a := u.In(iana).Zone()
			_, b := u.In(loc).Zone()
			if a != b {
				t.Fatalf("%s: IANAZone gave %s, which differs at %s", name, iana, u)
			}
		}
	}
}
