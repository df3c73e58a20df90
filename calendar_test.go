package relman

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relman-dev/relman/ical"
)

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

func sundayNight(t testing.TB, services ...string) Window {
	paris := mustLoad(t, "Europe/Paris")
	return Window{ID: "sunday", Name: "Sunday night", Kind: WindowMaintenance, TimeZone: "Europe/Paris",
		Start: time.Date(2026, 3, 1, 22, 0, 0, 0, paris), End: time.Date(2026, 3, 2, 2, 0, 0, 0, paris),
		RRule: "FREQ=WEEKLY;BYDAY=SU", Services: services}
}

func yearEnd(t testing.TB, services ...string) Window {
	paris := mustLoad(t, "Europe/Paris")
	return Window{ID: "year-end", Name: "Year-end freeze", Kind: WindowFreeze, Reason: "closing the books",
		TimeZone: "Europe/Paris", Start: time.Date(2026, 12, 18, 0, 0, 0, 0, paris), End: time.Date(2027, 1, 4, 0, 0, 0, 0, paris),
		RRule: "FREQ=YEARLY", Services: services}
}

func TestCalendarAllowedAcrossDST(t *testing.T) {
	paris := mustLoad(t, "Europe/Paris")
	cal, err := NewCalendar(sundayNight(t))
	if err != nil {
		t.Fatal(err)
	}
	// Before and after the change of 29 March 2026, the window opens at 22:00 local.
	for _, day := range []int{22, 29} {
		start := time.Date(2026, 3, day, 22, 0, 0, 0, paris)
		if err := cal.Allowed(Span{start, start.Add(4 * time.Hour)}, []string{"billing"}); err != nil {
			t.Errorf("22:00–02:00 on %d March: %v", day, err)
		}
		early := start.Add(-time.Hour)
		err := cal.Allowed(Span{early, start.Add(time.Hour)}, []string{"billing"})
		var om *OutsideMaintenanceError
		if !errors.Is(err, ErrOutsideMaintenance) || !errors.As(err, &om) {
			t.Fatalf("21:00 on %d March: %v", day, err)
		}
		if !om.Next.Equal(start) {
			t.Errorf("next opening %v, want %v", om.Next, start)
		}
	}
	// The window is 4 hours of elapsed time: 22:00 + 4h in UTC terms.
	occ := cal.Occurrences(Span{time.Date(2026, 3, 29, 0, 0, 0, 0, paris), time.Date(2026, 3, 31, 0, 0, 0, 0, paris)}, nil)
	if len(occ) != 1 || occ[0].Span.Start.UTC().Hour() != 20 {
		t.Fatalf("occurrences %+v", occ)
	}
}

// TestCalendarOverrides checks that moved, cancelled and added
// occurrences decide what the calendar allows, and NextSlot finds them.
func TestCalendarOverrides(t *testing.T) {
	paris := mustLoad(t, "Europe/Paris")
	at := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, paris) }
	w := sundayNight(t)
	w.Overrides = []ical.Override{
		{RecurrenceID: at(8, 22), Start: at(10, 20), End: at(10, 23)}, // Sunday 8th moves to Tuesday 10th
		{RecurrenceID: at(15, 22), Cancelled: true},
	}
	w.RDates = []ical.Period{{Start: at(18, 1), End: at(18, 3)}}
	cal, err := NewCalendar(w)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		from, to time.Time
		ok       bool
	}{
		{at(1, 22), at(1, 23), true},
		{at(8, 22), at(8, 23), false}, // moved away
		{at(10, 20), at(10, 23), true},
		{at(15, 22), at(15, 23), false}, // cancelled
		{at(18, 1), at(18, 3), true},    // added
		{at(22, 22), at(23, 2), true},
	} {
		err := cal.Allowed(Span{c.from, c.to}, nil)
		if (err == nil) != c.ok {
			t.Errorf("%v–%v: %v, want allowed %v", c.from, c.to, err, c.ok)
		}
	}
	slot, err := cal.NextSlot(at(8, 0), 2*time.Hour, nil, SlotOptions{})
	if err != nil || !slot.Start.Equal(at(10, 20)) {
		t.Errorf("NextSlot after the 8th: %v, %v; want the moved occurrence on the 10th", slot, err)
	}
	slot, err = cal.NextSlot(at(11, 0), 2*time.Hour, nil, SlotOptions{})
	if err != nil || !slot.Start.Equal(at(18, 1)) {
		t.Errorf("NextSlot after the 11th: %v, %v; want the added occurrence on the 18th", slot, err)
	}
}

func TestCalendarAllowedListsEveryReason(t *testing.T) {
	paris := mustLoad(t, "Europe/Paris")
	billing := sundayNight(t, "billing")
	search := sundayNight(t, "search")
	search.ID, search.Name = "search-sat", "Saturday search"
	search.RRule = "FREQ=WEEKLY;BYDAY=SA"
	search.Start, search.End = search.Start.AddDate(0, 0, -1), search.End.AddDate(0, 0, -1)
	oneOff := Window{ID: "audit", Name: "Audit freeze", Kind: WindowFreeze, TimeZone: "Europe/Paris",
		Start: time.Date(2026, 12, 20, 0, 0, 0, 0, paris), End: time.Date(2026, 12, 21, 0, 0, 0, 0, paris), Services: []string{"billing"}}
	cal, err := NewCalendar(billing, search, yearEnd(t), oneOff)
	if err != nil {
		t.Fatal(err)
	}
	span := Span{time.Date(2026, 12, 20, 22, 0, 0, 0, paris), time.Date(2026, 12, 21, 1, 0, 0, 0, paris)}
	err = cal.Allowed(span, []string{"billing", "search", "mail"})
	var ce *CalendarError
	if !errors.As(err, &ce) {
		t.Fatalf("Allowed = %v", err)
	}
	var names []string
	for _, r := range ce.Reasons {
		switch r := r.(type) {
		case *FreezeError:
			names = append(names, "freeze:"+r.Name)
		case *OutsideMaintenanceError:
			names = append(names, "outside:"+strings.Join(r.Services, ","))
		}
	}
	want := []string{"freeze:Year-end freeze", "freeze:Audit freeze", "outside:search"}
	if !slices.Equal(names, want) {
		t.Errorf("reasons %v, want %v (%v)", names, want, err)
	}
	if !errors.Is(err, ErrFreeze) || !errors.Is(err, ErrOutsideMaintenance) {
		t.Errorf("errors.Is fails on %v", err)
	}
	// "mail" has no maintenance window: it is not restricted by maintenance.
	if err := cal.Allowed(Span{time.Date(2026, 6, 3, 12, 0, 0, 0, paris), time.Date(2026, 6, 3, 13, 0, 0, 0, paris)}, []string{"mail"}); err != nil {
		t.Errorf("mail on a Wednesday: %v", err)
	}
	// Adjacent maintenance occurrences chain.
	chain, _ := NewCalendar(Window{ID: "d", Name: "daily", Kind: WindowMaintenance, TimeZone: "UTC",
		Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), RRule: "FREQ=DAILY;COUNT=3"})
	if err := chain.Allowed(Span{time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC), time.Date(2026, 1, 3, 12, 0, 0, 0, time.UTC)}, nil); err != nil {
		t.Errorf("chained days: %v", err)
	}
	if err := chain.Allowed(Span{time.Date(2026, 1, 3, 12, 0, 0, 0, time.UTC), time.Date(2026, 1, 4, 12, 0, 0, 0, time.UTC)}, nil); err == nil {
		t.Errorf("past COUNT: allowed")
	}
}

func TestWindowValidate(t *testing.T) {
	w := sundayNight(t)
	w.RRule = "FREQ=WEEKLY;BYDAY=XX"
	err := w.Validate()
	var re *ical.RuleError
	if !errors.As(err, &re) || re.Part != "BYDAY" || !errors.Is(err, ErrInvalid) {
		t.Errorf("bad rule: %v", err)
	}
	w = sundayNight(t)
	w.TimeZone = "Mars/Olympus"
	var ve *ValidationError
	if err := w.Validate(); !errors.As(err, &ve) || ve.Fields[0].Field != "time_zone" {
		t.Errorf("bad zone: %v", err)
	}
	w = sundayNight(t)
	w.End = w.Start
	if err := w.Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty window: %v", err)
	}
	if _, err := NewCalendar(sundayNight(t), sundayNight(t)); !errors.Is(err, ErrInvalid) {
		t.Errorf("duplicate ids: %v", err)
	}
}

func planned(id string, start time.Time, d time.Duration, services ...string) *Release {
	return &Release{ID: id, Services: services, Window: &Span{start, start.Add(d)}, Stage: StagePlanned}
}

func TestNextSlot(t *testing.T) {
	paris := mustLoad(t, "Europe/Paris")
	cal, err := NewCalendar(sundayNight(t, "billing"), yearEnd(t))
	if err != nil {
		t.Fatal(err)
	}
	after := time.Date(2026, 12, 10, 9, 0, 0, 0, paris) // a Thursday
	// The next Sunday night is 13 December.
	got, err := cal.NextSlot(after, 2*time.Hour, []string{"billing"}, SlotOptions{})
	if err != nil || !got.Start.Equal(time.Date(2026, 12, 13, 22, 0, 0, 0, paris)) {
		t.Fatalf("NextSlot = %v, %v", got, err)
	}
	// A planned release on billing takes 22:00–23:30: the slot follows it.
	busy := planned("other", time.Date(2026, 12, 13, 22, 0, 0, 0, paris), 90*time.Minute, "billing")
	got, err = cal.NextSlot(after, 2*time.Hour, []string{"billing"}, SlotOptions{Planned: []*Release{busy}})
	if err != nil || !got.Start.Equal(busy.Window.End) {
		t.Fatalf("NextSlot after a planned release = %v, %v", got, err)
	}
	// Too long for what remains: the freeze (18 Dec – 4 Jan) skips to 10 January.
	got, err = cal.NextSlot(after, 3*time.Hour, []string{"billing"}, SlotOptions{Planned: []*Release{busy}})
	if err != nil || !got.Start.Equal(time.Date(2027, 1, 10, 22, 0, 0, 0, paris)) {
		t.Fatalf("NextSlot over the freeze = %v, %v", got, err)
	}
	// Capacity: two other services' deployments fill a capacity of 2.
	a := planned("a", time.Date(2026, 12, 13, 22, 0, 0, 0, paris), time.Hour, "x")
	b := planned("b", time.Date(2026, 12, 13, 22, 30, 0, 0, paris), time.Hour, "y")
	got, err = cal.NextSlot(after, time.Hour, []string{"billing"}, SlotOptions{Planned: []*Release{a, b}, Capacity: 2})
	if err != nil || !got.Start.Equal(a.Window.End) {
		t.Fatalf("NextSlot with capacity = %v, %v", got, err)
	}
	// No slot within the horizon.
	_, err = cal.NextSlot(after, 5*time.Hour, []string{"billing"}, SlotOptions{Horizon: 60 * 24 * time.Hour})
	var ns *NoSlotError
	if !errors.Is(err, ErrNoSlot) || !errors.As(err, &ns) || ns.Last == nil {
		t.Fatalf("impossible slot: %v", err)
	}
	if _, err := cal.NextSlot(after, 0, nil, SlotOptions{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("zero duration: %v", err)
	}
}

func TestFindConflicts(t *testing.T) {
	base := time.Date(2026, 5, 4, 20, 0, 0, 0, time.UTC)
	a := planned("a", base, 2*time.Hour, "billing")
	b := planned("b", base.Add(time.Hour), 2*time.Hour, "billing")
	c := planned("c", base.Add(90*time.Minute), time.Hour, "invoices") // invoices depends on billing
	d := planned("d", base.Add(10*time.Hour), time.Hour, "mail")
	d.Teams = []string{"ops"}
	e := planned("e", base.Add(10*time.Hour+30*time.Minute), time.Hour, "search")
	e.Tasks = []Task{{Name: "deploy", Team: "ops", Duration: 20 * time.Minute}}
	graph := NewDependencyGraph(map[string][]string{"invoices": {"billing"}})
	freeze := Window{ID: "f", Name: "F", Kind: WindowFreeze, TimeZone: "UTC", Start: base.Add(10 * time.Hour), End: base.Add(11 * time.Hour), Services: []string{"mail"}}
	cal, _ := NewCalendar(freeze)
	got := FindConflicts([]*Release{a, b, c, d, e}, ConflictOptions{Capacity: 2, Graph: graph, Calendar: cal})
	var lines []string
	for _, x := range got {
		lines = append(lines, fmt.Sprintf("%s %s %s-%s", x.Kind, strings.Join(x.Releases, ","),
			x.Span.Start.Format("15:04"), x.Span.End.Format("15:04")))
	}
	want := []string{
		"same-service a,b 21:00-22:00",
		"capacity a,b,c 21:30-22:00",
		"dependent-service a,c 21:30-22:00",
		"dependent-service b,c 21:30-22:30",
		"freeze d 06:00-07:00",
		"team d,e 06:30-06:50",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("conflicts:\n got %q\nwant %q", lines, want)
	}
}

// TestFindConflictsMatchesAllPairs checks the sweep against the obvious
// quadratic algorithm on random schedules.
func TestFindConflictsMatchesAllPairs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var rs []*Release
	for i := range 300 {
		start := base.Add(time.Duration(rng.IntN(30*24)) * time.Hour)
		var svcs []string
		for range 1 + rng.IntN(2) {
			svcs = append(svcs, fmt.Sprintf("s%d", rng.IntN(20)))
		}
		r := planned(fmt.Sprintf("r%03d", i), start, time.Duration(1+rng.IntN(6))*time.Hour, svcs...)
		r.Teams = []string{fmt.Sprintf("t%d", rng.IntN(10))}
		rs = append(rs, r)
	}
	count := map[ConflictKind]int{}
	for _, c := range FindConflicts(rs, ConflictOptions{}) {
		count[c.Kind]++
	}
	wantSvc, wantTeam := 0, 0
	for i := range rs {
		for j := i + 1; j < len(rs); j++ {
			if !rs[i].Window.Overlaps(*rs[j].Window) {
				continue
			}
			for _, s := range uniq(rs[i].Services) {
				if slices.Contains(rs[j].Services, s) {
					wantSvc++
				}
			}
			if rs[i].Teams[0] == rs[j].Teams[0] {
				wantTeam++
			}
		}
	}
	if count[ConflictService] != wantSvc || count[ConflictTeam] != wantTeam {
		t.Errorf("sweep found %d service / %d team conflicts; all pairs %d / %d", count[ConflictService], count[ConflictTeam], wantSvc, wantTeam)
	}
}

func TestPlanTasks(t *testing.T) {
	start := time.Date(2026, 5, 4, 20, 0, 0, 0, time.UTC)
	tasks := []Task{
		{Name: "backup", Team: "dba", Duration: 30 * time.Minute},
		{Name: "migrate", Team: "dba", Duration: time.Hour, DependsOn: []string{"backup"}},
		{Name: "deploy", Team: "ops", Duration: 20 * time.Minute, DependsOn: []string{"backup"}},
		{Name: "smoke", Team: "qa", Duration: 15 * time.Minute, DependsOn: []string{"migrate", "deploy"}},
	}
	plan, err := PlanTasks(start, tasks)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(plan.CriticalPath, []string{"backup", "migrate", "smoke"}) {
		t.Errorf("critical path %v", plan.CriticalPath)
	}
	if want := start.Add(105 * time.Minute); !plan.Finish.Equal(want) {
		t.Errorf("finish %v, want %v", plan.Finish, want)
	}
	dep := plan.Tasks[2]
	if !dep.Start.Equal(start.Add(30*time.Minute)) || dep.Slack != 40*time.Minute || dep.Critical {
		t.Errorf("deploy scheduled %+v", dep)
	}
	if plan.Load["dba"] != 90*time.Minute || plan.Load["ops"] != 20*time.Minute {
		t.Errorf("load %v", plan.Load)
	}
	// Moving the release moves its tasks.
	r := &Release{Window: &Span{start, start.Add(3 * time.Hour)}, Tasks: tasks}
	p1, _ := r.TaskPlan()
	r.Window = &Span{start.Add(24 * time.Hour), start.Add(27 * time.Hour)}
	p2, _ := r.TaskPlan()
	for i := range p1.Tasks {
		if p2.Tasks[i].Start.Sub(p1.Tasks[i].Start) != 24*time.Hour {
			t.Errorf("task %s did not move with the release", p1.Tasks[i].Name)
		}
	}
	// Cycles and unknown dependencies name the tasks.
	cyc := append(slices.Clone(tasks), Task{Name: "a", DependsOn: []string{"c"}}, Task{Name: "b", DependsOn: []string{"a"}}, Task{Name: "c", DependsOn: []string{"b"}})
	_, err = PlanTasks(start, cyc)
	var pe *TaskPlanError
	if !errors.Is(err, ErrTaskCycle) || !errors.As(err, &pe) || len(pe.Cycle) != 3 {
		t.Fatalf("cycle: %v", err)
	}
	if !strings.Contains(err.Error(), "a -> b -> c") && !strings.Contains(err.Error(), "b -> c -> a") && !strings.Contains(err.Error(), "c -> a -> b") {
		t.Errorf("cycle message %q", err)
	}
	_, err = PlanTasks(start, []Task{{Name: "x", DependsOn: []string{"ghost"}}, {Name: "x"}})
	if !errors.Is(err, ErrUnknownTask) || !strings.Contains(err.Error(), "x -> ghost") {
		t.Errorf("unknown: %v", err)
	}
}
