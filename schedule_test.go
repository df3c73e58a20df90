package relman_test

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
)

// Bad input to the calendar, scheduling and risk entry points is a
// *ValidationError naming the field, with the rule's parameter apart.
func TestBadInputIsValidationError(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(t)
	if _, err := m.Create(ctx, newRelease("x-1"), alice); err != nil {
		t.Fatal(err)
	}
	cal, err := relman.NewCalendar()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		call func() error
		want []relman.FieldError
	}{
		{"PlanTasks negative duration", func() error {
			_, err := relman.PlanTasks(t0, []relman.Task{{Name: "a", Duration: time.Hour}, {Name: "b", Duration: -time.Hour}})
			return err
		}, []relman.FieldError{{Field: "tasks[1].duration", Rule: "gte", Param: "0"}}},
		{"PlanTasks blank name", func() error {
			_, err := relman.PlanTasks(t0, []relman.Task{{Name: " "}})
			return err
		}, []relman.FieldError{{Field: "tasks[0].name", Rule: "required"}}},
		{"NextSlot negative horizon", func() error {
			_, err := cal.NextSlot(t0, time.Hour, nil, relman.SlotOptions{Horizon: -time.Hour})
			return err
		}, []relman.FieldError{{Field: "horizon", Rule: "gte", Param: "0"}}},
		{"NextSlot zero after", func() error {
			_, err := cal.NextSlot(time.Time{}, time.Hour, nil, relman.SlotOptions{})
			return err
		}, []relman.FieldError{{Field: "after", Rule: "required"}}},
		{"NextSlot zero duration, negative capacity", func() error {
			_, err := cal.NextSlot(t0, 0, nil, relman.SlotOptions{Capacity: -1})
			return err
		}, []relman.FieldError{{Field: "duration", Rule: "gt", Param: "0"}, {Field: "capacity", Rule: "gte", Param: "0"}}},
		{"Manager.NextSlot negative horizon", func() error {
			_, err := m.NextSlot(ctx, t0, time.Hour, nil, "", -time.Hour)
			return err
		}, []relman.FieldError{{Field: "horizon", Rule: "gte", Param: "0"}}},
		{"NextSlot horizon over ten years, too many services", func() error {
			_, err := cal.NextSlot(t0, time.Hour, make([]string, relman.MaxSlotServices+1), relman.SlotOptions{Horizon: relman.MaxHorizon + time.Second})
			return err
		}, []relman.FieldError{{Field: "horizon", Rule: "lte", Param: relman.MaxHorizon.String()}, {Field: "services", Rule: "max", Param: "100"}}},
		{"Manager.NextSlot horizon over ten years", func() error {
			_, err := m.NextSlot(ctx, t0, time.Hour, nil, "", relman.MaxHorizon+time.Second)
			return err
		}, []relman.FieldError{{Field: "horizon", Rule: "lte", Param: "87600h0m0s"}}},
		{"Manager.NextSlot too many services", func() error {
			_, err := m.NextSlot(ctx, t0, time.Hour, make([]string, 101), "", 0)
			return err
		}, []relman.FieldError{{Field: "services", Rule: "max", Param: "100"}}},
		{"Manager.NextSlot zero after", func() error {
			_, err := m.NextSlot(ctx, time.Time{}, time.Hour, nil, "", 0)
			return err
		}, []relman.FieldError{{Field: "after", Rule: "required"}}},
		{"RemoveRisk blank risk id", func() error {
			_, err := m.RemoveRisk(ctx, "x-1", alice, "")
			return err
		}, []relman.FieldError{{Field: "risk_id", Rule: "required"}}},
		{"DeleteWindow blank id", func() error {
			return m.DeleteWindow(ctx, alice, "")
		}, []relman.FieldError{{Field: "id", Rule: "required"}}},
		{"ImportICS nil reader", func() error {
			_, err := relman.ImportICS(nil, relman.ImportOptions{})
			return err
		}, []relman.FieldError{{Field: "in", Rule: "required"}}},
		{"ImportICS unknown kind", func() error {
			_, err := relman.ImportICS(strings.NewReader(""), relman.ImportOptions{Kind: "holiday"})
			return err
		}, []relman.FieldError{{Field: "kind", Rule: "oneof", Param: "maintenance freeze"}}},
		{"ImportWindows nil reader", func() error {
			_, err := m.ImportWindows(ctx, alice, nil, relman.ImportOptions{})
			return err
		}, []relman.FieldError{{Field: "r", Rule: "required"}}},
		{"ExportICS nil writer", func() error {
			return relman.ExportICS(nil, nil, nil, relman.ICSOptions{})
		}, []relman.FieldError{{Field: "out", Rule: "required"}}},
		{"Manager.ExportICS nil writer", func() error {
			return m.ExportICS(ctx, (io.Writer)(nil))
		}, []relman.FieldError{{Field: "out", Rule: "required"}}},
		{"Allowed inverted span", func() error {
			return cal.Allowed(relman.Span{Start: t0.Add(time.Hour), End: t0}, nil)
		}, []relman.FieldError{{Field: "span.end", Rule: "gtfield", Param: "Start"}}},
		{"Allowed zero span", func() error {
			return cal.Allowed(relman.Span{}, nil)
		}, []relman.FieldError{{Field: "span.start", Rule: "required"}, {Field: "span.end", Rule: "gtfield", Param: "Start"}}},
		{"WithCapacity negative", func() error {
			_, err := relman.NewManager(memory.New(), relman.WithCapacity(-1))
			return err
		}, []relman.FieldError{{Field: "capacity", Rule: "gte", Param: "0"}}},
		{"Check nil release", func() error {
			p := relman.DefaultPolicy()
			return p.Check(nil, t0)
		}, []relman.FieldError{{Field: "release", Rule: "required"}}},
		{"Assess nil assessor", func() error {
			_, err := relman.Assess(ctx, newRelease("y"), relman.Env{Now: t0}, nil)
			return err
		}, []relman.FieldError{{Field: "assessors[0]", Rule: "required"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := validationFields(t, c.call()); !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	if r, _ := m.Get(ctx, "x-1"); r.Revision != 1 {
		t.Errorf("release changed by refused calls: revision %d", r.Revision)
	}
}

// An open-ended span (zero End) overlaps no occurrence: it used to list
// every occurrence of a recurring window up to the year 9999.
func TestOccurrencesOfAnEmptySpan(t *testing.T) {
	cal, err := relman.NewCalendar(relman.Window{ID: "d", Name: "daily", Kind: relman.WindowFreeze, TimeZone: "UTC",
		Start: t0, End: t0.Add(time.Hour), RRule: "FREQ=DAILY"})
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range []relman.Span{{Start: t0}, {Start: t0.Add(time.Hour), End: t0}} {
		if got := cal.Occurrences(sp, nil); len(got) != 0 {
			t.Errorf("Occurrences(%v) = %d occurrences, want none", sp, len(got))
		}
	}
}
