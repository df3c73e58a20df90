package relman_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relman-dev/relman"
)

// fieldErrors returns "field:rule=param" (or "field:rule") for each field
// of a *ValidationError matching ErrInvalid.
func fieldErrors(t *testing.T, err error) []string {
	t.Helper()
	var ve *relman.ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, relman.ErrInvalid) {
		t.Fatalf("error %v (%T) is not a *ValidationError matching ErrInvalid", err, err)
	}
	out := make([]string, len(ve.Fields))
	for i, f := range ve.Fields {
		out[i] = f.Field + ":" + f.Rule
		if f.Param != "" {
			out[i] += "=" + f.Param
		}
	}
	return out
}

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
		want []string
	}{
		{"PlanTasks negative duration", func() error {
			_, err := relman.PlanTasks(t0, []relman.Task{{Name: "a", Duration: time.Hour}, {Name: "b", Duration: -time.Hour}})
			return err
		}, []string{"tasks[1].duration:gte=0"}},
		{"PlanTasks blank name", func() error {
			_, err := relman.PlanTasks(t0, []relman.Task{{Name: " "}})
			return err
		}, []string{"tasks[0].name:required"}},
		{"NextSlot negative horizon", func() error {
			_, err := cal.NextSlot(t0, time.Hour, nil, relman.SlotOptions{Horizon: -time.Hour})
			return err
		}, []string{"horizon:gte=0"}},
		{"NextSlot zero after", func() error {
			_, err := cal.NextSlot(time.Time{}, time.Hour, nil, relman.SlotOptions{})
			return err
		}, []string{"after:required"}},
		{"NextSlot zero duration, negative capacity", func() error {
			_, err := cal.NextSlot(t0, 0, nil, relman.SlotOptions{Capacity: -1})
			return err
		}, []string{"duration:gt=0", "capacity:gte=0"}},
		{"Manager.NextSlot negative horizon", func() error {
			_, err := m.NextSlot(ctx, t0, time.Hour, nil, "", -time.Hour)
			return err
		}, []string{"horizon:gte=0"}},
		{"Manager.NextSlot zero after", func() error {
			_, err := m.NextSlot(ctx, time.Time{}, time.Hour, nil, "", 0)
			return err
		}, []string{"after:required"}},
		{"RemoveRisk blank risk id", func() error {
			_, err := m.RemoveRisk(ctx, "x-1", alice, "")
			return err
		}, []string{"risk_id:required"}},
		{"DeleteWindow blank id", func() error {
			return m.DeleteWindow(ctx, alice, "")
		}, []string{"id:required"}},
		{"ImportICS nil reader", func() error {
			_, err := relman.ImportICS(nil, relman.ImportOptions{})
			return err
		}, []string{"in:required"}},
		{"ImportICS unknown kind", func() error {
			_, err := relman.ImportICS(strings.NewReader(""), relman.ImportOptions{Kind: "holiday"})
			return err
		}, []string{"kind:oneof=maintenance freeze"}},
		{"ImportWindows nil reader", func() error {
			_, err := m.ImportWindows(ctx, alice, nil, relman.ImportOptions{})
			return err
		}, []string{"r:required"}},
		{"ExportICS nil writer", func() error {
			return relman.ExportICS(nil, nil, nil, relman.ICSOptions{})
		}, []string{"out:required"}},
		{"Manager.ExportICS nil writer", func() error {
			return m.ExportICS(ctx, (io.Writer)(nil))
		}, []string{"out:required"}},
		{"Check nil release", func() error {
			p := relman.DefaultPolicy()
			return p.Check(nil, t0)
		}, []string{"release:required"}},
		{"Assess nil assessor", func() error {
			_, err := relman.Assess(ctx, newRelease("y"), relman.Env{Now: t0}, nil)
			return err
		}, []string{"assessors[0]:required"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := fieldErrors(t, c.call()); !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	if r, _ := m.Get(ctx, "x-1"); r.Revision != 1 {
		t.Errorf("release changed by refused calls: revision %d", r.Revision)
	}
}
