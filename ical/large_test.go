package ical_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/relman-dev/relman/ical"
)

// calendarOf returns an iCalendar of about size bytes: events, and one
// DESCRIPTION folded over many lines (the shape that made unfolding
// quadratic).
func calendarOf(size int) []byte {
	var b bytes.Buffer
	b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//relman//bench//EN\r\n")
	b.WriteString("BEGIN:VEVENT\r\nUID:long@bench\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T090000Z\r\nDTEND:20260101T100000Z\r\nDESCRIPTION:x")
	for b.Len() < size/2 {
		b.WriteString("\r\n " + strings.Repeat("y", 73))
	}
	b.WriteString("\r\nEND:VEVENT\r\n")
	for i := 0; b.Len() < size-200; i++ {
		fmt.Fprintf(&b, "BEGIN:VEVENT\r\nUID:%d@bench\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260102T090000Z\r\nDTEND:20260102T100000Z\r\nSUMMARY:event %d\r\nEND:VEVENT\r\n", i, i)
	}
	b.WriteString("END:VCALENDAR\r\n")
	return b.Bytes()
}

// BenchmarkParseLarge reads 1 MB and 16 MB calendars: the time per byte
// must not grow with the size (linear reading).
func BenchmarkParseLarge(b *testing.B) {
	for _, mb := range []int{1, 16} {
		data := calendarOf(mb<<20 - 1024)
		b.Run(fmt.Sprintf("%dMB", mb), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := ical.Parse(bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestParseTooLarge: input over MaxInput is refused as such, not cut short.
func TestParseTooLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("16 MiB")
	}
	data := calendarOf(ical.MaxInput + 4096)
	_, err := ical.Parse(bytes.NewReader(data))
	var ie *ical.Error
	if !errors.Is(err, ical.ErrTooLarge) || !errors.As(err, &ie) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Parse of %d bytes = %v, want ErrTooLarge", len(data), err)
	}
	// Just under the limit is read whole.
	data = calendarOf(ical.MaxInput - 4096)
	cs, err := ical.Parse(bytes.NewReader(data))
	if err != nil || len(cs) != 1 {
		t.Fatalf("Parse of %d bytes = %d components, %v", len(data), len(cs), err)
	}
	long := cs[0].Comps[0].Props[len(cs[0].Comps[0].Props)-1]
	if long.Name != "DESCRIPTION" || len(long.Value) < ical.MaxInput/3 {
		t.Errorf("the folded DESCRIPTION came back %d bytes long", len(long.Value))
	}
}
