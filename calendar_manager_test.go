package relman_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/memory"
)

func TestCalendarGatesThroughManager(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t)
	start := c.now.Add(24 * time.Hour)
	freeze := relman.Window{ID: "f1", Name: "Change freeze", Kind: relman.WindowFreeze, TimeZone: "UTC",
		Start: start, End: start.Add(30 * time.Minute), Services: []string{"invoices"}}

	// Standard low-risk change: plans, builds, authorizes without approvals.
	r := newRelease("cal-1")
	r.Model = relman.ModelStandard
	toVerified(t, m, c, r)
	if _, err := m.Assess(ctx, "cal-1", alice); err != nil {
		t.Fatal(err)
	}
	fire(t, m, "cal-1", relman.EventAuthorize, relman.Request{})

	// A freeze stored after authorization covers the first half hour.
	if err := m.PutWindow(ctx, alice, freeze); err != nil {
		t.Fatal(err)
	}
	c.now = start.Add(10 * time.Minute)
	_, err := m.Fire(ctx, "cal-1", relman.EventDeploy, relman.Request{Actor: alice})
	var ge *relman.GateError
	if !errors.As(err, &ge) || !errors.Is(err, relman.ErrFreeze) {
		t.Fatalf("deploy inside the freeze: %v", err)
	}
	if at, ok := ge.NotYet(); !ok || !at.Equal(freeze.End) {
		t.Fatalf("NotYet = %v, %v; want %v (%v)", at, ok, freeze.End, err)
	}
	// Check says the same without changing anything.
	if err := m.Check(ctx, "cal-1", relman.EventDeploy, relman.Request{Actor: alice}); !errors.Is(err, relman.ErrNotYet) {
		t.Fatalf("Check: %v", err)
	}
	c.now = freeze.End
	fire(t, m, "cal-1", relman.EventDeploy, relman.Request{})

	// A second release on the same service and window conflicts with the first.
	r2 := newRelease("cal-2")
	r2.Teams, r2.Tasks = []string{"other"}, nil
	if _, err := m.Create(ctx, r2, alice); err != nil {
		t.Fatal(err)
	}
	fire(t, m, "cal-2", relman.EventApprove, relman.Request{})
	w := relman.Span{Start: start.Add(time.Hour), End: start.Add(3 * time.Hour)}
	_, err = m.Fire(ctx, "cal-2", relman.EventPlan, relman.Request{Actor: alice, Window: &w})
	var ce *relman.ConflictError
	if !errors.Is(err, relman.ErrSchedulingConflict) || !errors.As(err, &ce) || ce.Conflicts[0].Service != "invoices" {
		t.Fatalf("plan on a busy service: %v", err)
	}
	// NextSlot proposes the end of the first release's window.
	slot, err := m.NextSlot(ctx, w.Start, 2*time.Hour, r2.Services, "cal-2", 0)
	if err != nil || !slot.Start.Equal(start.Add(2*time.Hour)) {
		t.Fatalf("NextSlot = %v, %v", slot, err)
	}
	fire(t, m, "cal-2", relman.EventPlan, relman.Request{Window: &slot})
	conflicts, err := m.Conflicts(ctx)
	// Only cal-1's window still overlaps the freeze stored after it was planned.
	if err != nil || len(conflicts) != 1 || conflicts[0].Kind != relman.ConflictFreeze || conflicts[0].Releases[0] != "cal-1" {
		t.Fatalf("Conflicts = %v, %v", conflicts, err)
	}

	// Plan inside the stored freeze is refused; deleting the window lifts it.
	r3 := newRelease("cal-3")
	r3.Services, r3.Teams, r3.Tasks = []string{"invoices"}, []string{"third"}, nil
	if _, err := m.Create(ctx, r3, alice); err != nil {
		t.Fatal(err)
	}
	fire(t, m, "cal-3", relman.EventApprove, relman.Request{})
	frozen := relman.Span{Start: start.Add(-time.Hour), End: start.Add(-30 * time.Minute)}
	freeze2 := freeze
	freeze2.ID, freeze2.Start, freeze2.End = "f2", frozen.Start, frozen.End
	if err := m.PutWindow(ctx, alice, freeze2); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Fire(ctx, "cal-3", relman.EventPlan, relman.Request{Actor: alice, Window: &frozen}); !errors.Is(err, relman.ErrFreeze) {
		t.Fatalf("plan in a freeze: %v", err)
	}
	if err := m.DeleteWindow(ctx, alice, "f2"); err != nil {
		t.Fatal(err)
	}
	fire(t, m, "cal-3", relman.EventPlan, relman.Request{Window: &frozen})
	if err := m.DeleteWindow(ctx, alice, "f2"); !errors.Is(err, relman.ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
	bad := freeze
	bad.RRule = "FREQ=NEVER"
	if err := m.PutWindow(ctx, alice, bad); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("bad window: %v", err)
	}
}

func TestTaskCycleRefusesPlan(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t)
	r := newRelease("cyc")
	r.Tasks = []relman.Task{
		{Name: "a", Team: "x", DependsOn: []string{"b"}},
		{Name: "b", Team: "x", DependsOn: []string{"a"}},
	}
	if _, err := m.Create(ctx, r, alice); err != nil {
		t.Fatal(err)
	}
	fire(t, m, "cyc", relman.EventApprove, relman.Request{})
	w := relman.Span{Start: c.now.Add(time.Hour), End: c.now.Add(2 * time.Hour)}
	_, err := m.Fire(ctx, "cyc", relman.EventPlan, relman.Request{Actor: alice, Window: &w})
	var pe *relman.TaskPlanError
	if !errors.Is(err, relman.ErrTaskCycle) || !errors.As(err, &pe) || len(pe.Cycle) != 2 {
		t.Fatalf("plan with a cycle: %v", err)
	}
}

func TestManagerICSRoundTrip(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t)
	w := relman.Window{ID: "sun", Name: "Sunday night", Kind: relman.WindowMaintenance, TimeZone: "Europe/Paris",
		Start: c.now, End: c.now.Add(4 * time.Hour), RRule: "FREQ=WEEKLY", Services: []string{"invoices"}}
	if err := m.PutWindow(ctx, alice, w); err != nil {
		t.Fatal(err)
	}
	r := newRelease("ics-1")
	if _, err := m.Create(ctx, r, alice); err != nil {
		t.Fatal(err)
	}
	fire(t, m, "ics-1", relman.EventApprove, relman.Request{})
	win := relman.Span{Start: c.now.Add(7 * 24 * time.Hour), End: c.now.Add(7*24*time.Hour + 2*time.Hour)}
	fire(t, m, "ics-1", relman.EventPlan, relman.Request{Window: &win})
	var buf bytes.Buffer
	if err := m.ExportICS(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "UID:release-ics-1@relman") || !strings.Contains(buf.String(), "UID:window-sun@relman") {
		t.Fatalf("export:\n%s", buf.String())
	}
	m2, _ := newManager(t)
	ws, err := m2.ImportWindows(ctx, alice, &buf, relman.ImportOptions{})
	if err != nil || len(ws) != 1 || ws[0].ID != "sun" || !ws[0].Start.Equal(w.Start) || ws[0].RRule != "FREQ=WEEKLY" {
		t.Fatalf("ImportWindows = %+v, %v", ws, err)
	}
	cal, _ := m2.Calendar(ctx)
	if got := cal.Windows(); len(got) != 1 || got[0].Name != w.Name {
		t.Fatalf("stored windows %+v", got)
	}
}

// failingPuts is a memory store whose failAt-th PutWindow fails.
type failingPuts struct {
	*memory.Store
	puts, failAt int
}

var errPutFailed = errors.New("disk full")

func (s *failingPuts) PutWindow(ctx context.Context, w relman.Window) error {
	s.puts++
	if s.puts == s.failAt {
		return errPutFailed
	}
	return s.Store.PutWindow(ctx, w)
}

func TestImportWindowsAllOrNone(t *testing.T) {
	ctx := context.Background()
	win := func(id, name string) relman.Window {
		return relman.Window{ID: id, Name: name, Kind: relman.WindowFreeze, TimeZone: "UTC", Start: t0, End: t0.Add(time.Hour)}
	}
	var ics bytes.Buffer
	if err := relman.ExportICS(&ics, []relman.Window{win("a", "new a"), win("b", "new b"), win("c", "new c")}, nil, relman.ICSOptions{Now: t0}); err != nil {
		t.Fatal(err)
	}
	// "a" exists; the import puts a and b, then fails on c.
	st := &failingPuts{Store: memory.New(), failAt: 3}
	if err := st.Store.PutWindow(ctx, win("a", "old a")); err != nil {
		t.Fatal(err)
	}
	m, err := relman.NewManager(st, relman.WithClock(func() time.Time { return t0 }))
	if err != nil {
		t.Fatal(err)
	}
	ws, err := m.ImportWindows(ctx, alice, bytes.NewReader(ics.Bytes()), relman.ImportOptions{})
	if !errors.Is(err, errPutFailed) || !strings.HasPrefix(err.Error(), "relman: import windows: ") || ws != nil {
		t.Fatalf("ImportWindows = %v, %v; want the put error with context", ws, err)
	}
	stored, err := st.ListWindows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 || stored[0].ID != "a" || stored[0].Name != "old a" {
		t.Errorf("stored after a failed import: %+v, want only the old a", stored)
	}

	// Bad input stores nothing, and neither does the id of a fixed window.
	m2, err := relman.NewManager(memory.New(), relman.WithWindows(win("b", "fixed b")))
	if err != nil {
		t.Fatal(err)
	}
	_, err = m2.ImportWindows(ctx, alice, bytes.NewReader(ics.Bytes()), relman.ImportOptions{})
	if got := fields(t, err); !slices.Equal(got, []string{"windows[1].id:unique"}) {
		t.Errorf("importing a fixed window's id: %v", err)
	}
	if err := m2.PutWindow(ctx, alice, win("b", "stored b")); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("PutWindow with a fixed window's id: %v", err)
	}
	if cal, err := m2.Calendar(ctx); err != nil || len(cal.Windows()) != 1 {
		t.Errorf("calendar after refused imports: %v, %v", cal, err)
	}
}

// The window methods ask the Authorizer for AuthWindow, with no release.
func TestWindowAuthorization(t *testing.T) {
	ctx := context.Background()
	type ask struct {
		action string
		nilRel bool
	}
	var asked []ask
	m, _ := newManager(t, relman.WithAuthorizer(relman.AuthorizerFunc(func(_ context.Context, _ relman.Actor, action string, r *relman.Release) error {
		asked = append(asked, ask{action, r == nil})
		return nil
	})))
	w := relman.Window{ID: "w", Name: "w", Kind: relman.WindowFreeze, TimeZone: "UTC", Start: t0, End: t0.Add(time.Hour)}
	if err := m.PutWindow(ctx, alice, w); err != nil {
		t.Fatal(err)
	}
	var ics bytes.Buffer
	if err := relman.ExportICS(&ics, []relman.Window{w}, nil, relman.ICSOptions{Now: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ImportWindows(ctx, alice, &ics, relman.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteWindow(ctx, alice, "w"); err != nil {
		t.Fatal(err)
	}
	want := []ask{{relman.AuthWindow, true}, {relman.AuthWindow, true}, {relman.AuthWindow, true}}
	if !slices.Equal(asked, want) {
		t.Errorf("asked %v, want %v", asked, want)
	}
}

// A freeze override asks the Authorizer for AuthOverrideFreeze, with the
// release; refusing it refuses the override.
func TestFreezeOverrideAuthorization(t *testing.T) {
	ctx := context.Background()
	var got *relman.Release
	c := &clock{now: t0}
	freeze := relman.Window{ID: "f", Name: "freeze", Kind: relman.WindowFreeze, TimeZone: "UTC", Start: t0, End: t0.Add(48 * time.Hour)}
	m, err := relman.NewManager(memory.New(), relman.WithClock(c.Now), relman.WithWindows(freeze),
		relman.WithAuthorizer(relman.AuthorizerFunc(func(_ context.Context, _ relman.Actor, action string, r *relman.Release) error {
			if action == relman.AuthOverrideFreeze {
				got = r
				return errors.New("not today")
			}
			return nil
		})))
	if err != nil {
		t.Fatal(err)
	}
	r := newRelease("em-1")
	r.Kind, r.Model = relman.KindEmergency, relman.ModelEmergency
	if _, err := m.Create(ctx, r, alice); err != nil {
		t.Fatal(err)
	}
	fire(t, m, "em-1", relman.EventApprove, relman.Request{})
	duty := relman.Actor{ID: "dora", Roles: []string{relman.RoleFreezeOverride}}
	win := relman.Span{Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)}
	_, err = m.Fire(ctx, "em-1", relman.EventPlan, relman.Request{Actor: duty, Window: &win, Reason: "outage",
		Params: map[string]string{relman.ParamOverride: relman.OverrideFreeze}})
	var fe *relman.ForbiddenError
	if !errors.Is(err, relman.ErrOverrideRefused) || !errors.As(err, &fe) || fe.Action != relman.AuthOverrideFreeze {
		t.Errorf("plan with a refused override: %v", err)
	}
	if got == nil || got.ID != "em-1" {
		t.Errorf("the Authorizer got release %v, want em-1", got)
	}
}

// NextSlotFor places a release clear of the releases its teams are booked
// on, as the conflicts gate would; NextSlot, which knows only services,
// proposes a window that plan then refuses.
func TestNextSlotForKeepsTeamsApart(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name     string
		opts     []relman.Option
		wantFrom time.Duration // after start
	}{
		{"team conflicts block (the default)", nil, 2 * time.Hour},
		{"only service conflicts block", []relman.Option{relman.WithBlockingConflicts(relman.ConflictService)}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, clk := newManager(t, c.opts...)
			start := clk.now.Add(24 * time.Hour)
			// a holds team web on invoices from start to start+2h.
			a := newRelease("a")
			a.Teams, a.Tasks = []string{"web"}, nil
			if _, err := m.Create(ctx, a, alice); err != nil {
				t.Fatal(err)
			}
			fire(t, m, "a", relman.EventApprove, relman.Request{})
			fire(t, m, "a", relman.EventPlan, relman.Request{Window: &relman.Span{Start: start, End: start.Add(2 * time.Hour)}})
			// b shares no service with a, only team web (through a task).
			b := newRelease("b")
			b.Services, b.Teams = []string{"search"}, nil
			b.Tasks = []relman.Task{{Name: "deploy", Team: "web", Duration: time.Hour}}
			if _, err := m.Create(ctx, b, alice); err != nil {
				t.Fatal(err)
			}
			fire(t, m, "b", relman.EventApprove, relman.Request{})

			byService, err := m.NextSlot(ctx, start, time.Hour, b.Services, "b", 0)
			if err != nil || !byService.Start.Equal(start) {
				t.Fatalf("NextSlot(search) = %v, %v; want %v (no service conflict)", byService, err, start)
			}
			slot, err := m.NextSlotFor(ctx, "b", start, time.Hour, 0)
			if want := start.Add(c.wantFrom); err != nil || !slot.Start.Equal(want) || slot.Duration() != time.Hour {
				t.Fatalf("NextSlotFor(b) = %v, %v; want an hour from %v", slot, err, want)
			}
			// What NextSlotFor proposes passes the gate; the service-only
			// slot passes only when team conflicts do not block.
			req := relman.Request{Actor: alice, Window: &slot}
			if err := m.Check(ctx, "b", relman.EventPlan, req); err != nil {
				t.Errorf("plan b at NextSlotFor's %v: %v", slot, err)
			}
			req.Window = &byService
			err = m.Check(ctx, "b", relman.EventPlan, req)
			if teamsBlock := c.wantFrom > 0; teamsBlock != errors.Is(err, relman.ErrSchedulingConflict) {
				t.Errorf("plan b at NextSlot's %v: %v", byService, err)
			}
		})
	}

	m, c := newManager(t)
	var ve *relman.ValidationError
	if _, err := m.NextSlotFor(ctx, " ", c.now, time.Hour, 0); !errors.As(err, &ve) || ve.Fields[0].Field != "id" {
		t.Errorf("NextSlotFor blank id: %v", err)
	}
	if _, err := m.NextSlotFor(ctx, "nobody", c.now, time.Hour, 0); !errors.Is(err, relman.ErrNotFound) {
		t.Errorf("NextSlotFor unknown id: %v", err)
	}
	if _, err := m.NextSlotFor(ctx, "nobody", c.now, 0, -time.Hour); !errors.As(err, &ve) || len(ve.Fields) != 2 {
		t.Errorf("NextSlotFor zero duration, negative horizon: %v", err)
	}
}
