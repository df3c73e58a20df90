package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/relman-dev/relman"
)

// planned returns a release at stage in services whose window is
// [base+start h, base+end h).
func planned(id string, stage relman.Stage, start, end int, services ...string) *relman.Release {
	r := Minimal(id)
	r.Stage = stage
	r.Services = services
	r.Window = &relman.Span{Start: base.Add(time.Duration(start) * time.Hour), End: base.Add(time.Duration(end) * time.Hour)}
	return r
}

// overlapping returns the ids Overlapping passes to fn, in order, for
// the releases of services (all with none).
func overlapping(t *testing.T, pi relman.PlanIndex, from, to time.Time, services ...string) []string {
	t.Helper()
	return matching(t, pi, from, to, relman.PlanMatch{Services: services})
}

// matching returns the ids Overlapping passes to fn, in order.
func matching(t *testing.T, pi relman.PlanIndex, from, to time.Time, match relman.PlanMatch) []string {
	t.Helper()
	var got []string
	err := pi.Overlapping(context.Background(), from, to, match, func(r *relman.Release) error {
		got = append(got, r.ID)
		return nil
	})
	if err != nil {
		t.Fatalf("Overlapping(%v, %v, %+v): %v", from, to, match, err)
	}
	return got
}

// hour returns base plus h hours.
func hour(h int) time.Time { return base.Add(time.Duration(h) * time.Hour) }

// update saves r with one edit entry, and fails the test on error.
func update(t *testing.T, s relman.Store, r *relman.Release) {
	t.Helper()
	e := r.Record(relman.AuditEntry{At: r.UpdatedAt, Actor: "u", Action: relman.ActionEdit})
	if err := s.Update(context.Background(), r, e); err != nil {
		t.Fatalf("Update %q: %v", r.ID, err)
	}
}

// runPlanIndex checks the relman.PlanIndex ability, if the store has it.
func runPlanIndex(t *testing.T, newStore func(t *testing.T) relman.Store) {
	ctx := context.Background()
	open := func(t *testing.T) (relman.Store, relman.PlanIndex) {
		s := newStore(t)
		pi, ok := s.(relman.PlanIndex)
		if !ok {
			t.Skip("the store is no relman.PlanIndex")
		}
		return s, pi
	}
	// seed stores windows (in hours from base):
	//
	//	a  planned     10–12  billing        team web
	//	b  building    12–14  api            a task of team ops
	//	c  authorized  10–11  billing, api   teams web, ops (same start as a: a before c)
	//	d  deploying    0–100 search        (long)
	//	e  proposed    10–12  billing        team web (not a planned stage)
	//	f  operating   10–12  billing       (not a planned stage)
	//	g  planned     no window
	//	h  closed      11–13  api            team ops (not a planned stage)
	seed := func(t *testing.T, s relman.Store) {
		teams := map[string][]string{"a": {"web"}, "c": {"web", "ops"}, "e": {"web"}, "h": {"ops"}}
		for _, r := range []*relman.Release{
			planned("a", relman.StagePlanned, 10, 12, "billing"),
			planned("b", relman.StageBuilding, 12, 14, "api"),
			planned("c", relman.StageAuthorized, 10, 11, "billing", "api"),
			planned("d", relman.StageDeploying, 0, 100, "search"),
			planned("e", relman.StageProposed, 10, 12, "billing"),
			planned("f", relman.StageOperating, 10, 12, "billing"),
			planned("h", relman.StageClosed, 11, 13, "api"),
		} {
			r.Teams = teams[r.ID]
			if r.ID == "b" {
				r.Tasks = []relman.Task{{Name: "deploy", Team: "ops", Duration: time.Hour}}
			}
			create(t, s, r)
		}
		g := Minimal("g")
		g.Stage = relman.StagePlanned
		create(t, s, g)
	}

	t.Run("PlanIndex/Overlapping", func(t *testing.T) {
		s, pi := open(t)
		seed(t, s)
		var zero time.Time
		for _, c := range []struct {
			name     string
			from, to time.Time
			services []string
			teams    []string
			want     []string
		}{
			{"everything", zero, zero, nil, nil, []string{"d", "a", "c", "b"}},
			{"one hour inside a", hour(11), hour(12), nil, nil, []string{"d", "a"}},
			{"touching the end of a and c", hour(12), hour(13), nil, nil, []string{"d", "b"}},
			{"touching the start of a, b and c", hour(9), hour(10), nil, nil, []string{"d"}},
			{"touching the end of d", hour(100), hour(200), nil, nil, nil},
			{"a nanosecond into a", hour(12).Add(-1), hour(12), nil, nil, []string{"d", "a"}},
			{"zero from", zero, hour(11), nil, nil, []string{"d", "a", "c"}},
			{"zero to", hour(13), zero, nil, nil, []string{"d", "b"}},
			{"service", zero, zero, []string{"billing"}, nil, []string{"a", "c"}},
			{"services", zero, zero, []string{"api", "search"}, nil, []string{"d", "c", "b"}},
			{"service and time", hour(11), hour(13), []string{"api"}, nil, []string{"b"}},
			{"unknown service", zero, zero, []string{"nothing"}, nil, nil},
			{"an unknown service among others", zero, zero, []string{"nothing", "search"}, nil, []string{"d"}},
			{"before everything", hour(-50), hour(-1), nil, nil, nil},
			{"team", zero, zero, nil, []string{"web"}, []string{"a", "c"}},
			{"team of a task", zero, zero, nil, []string{"ops"}, []string{"c", "b"}},
			{"teams", zero, zero, nil, []string{"ops", "web"}, []string{"a", "c", "b"}},
			{"a service or a team", zero, zero, []string{"search"}, []string{"ops"}, []string{"d", "c", "b"}},
			{"a service and a team of one release", zero, zero, []string{"billing"}, []string{"web"}, []string{"a", "c"}},
			{"team and time", hour(11), hour(13), nil, []string{"web"}, []string{"a"}},
			{"unknown team", zero, zero, nil, []string{"nobody"}, nil},
			{"a team is not a service", zero, zero, []string{"web"}, nil, nil},
			{"a service is not a team", zero, zero, nil, []string{"billing"}, nil},
		} {
			t.Run(c.name, func(t *testing.T) {
				got := matching(t, pi, c.from, c.to, relman.PlanMatch{Services: c.services, Teams: c.teams})
				if d := cmp.Diff(c.want, got); d != "" {
					t.Errorf("Overlapping(%v, %v, %v, %v) (-want +got):\n%s", c.from, c.to, c.services, c.teams, d)
				}
			})
		}
	})

	t.Run("PlanIndex/Precision", func(t *testing.T) {
		s, pi := open(t)
		// p starts half a second past base and ends 1 ns before base+30m,
		// written in another zone; a, b and l hold whole hours.
		paris := time.FixedZone("CET", 3600)
		pStart, pEnd := base.Add(500*time.Millisecond), base.Add(30*time.Minute-time.Nanosecond)
		p := planned("p", relman.StageVerified, 0, 0, "d")
		p.Window = &relman.Span{Start: pStart.In(paris), End: pEnd.In(paris)}
		for _, r := range []*relman.Release{
			planned("a", relman.StagePlanned, 0, 1, "a"),
			planned("b", relman.StageTesting, 0, 1, "x"),
			planned("l", relman.StageDeploying, -1, 3, "a", "c"),
			p,
		} {
			create(t, s, r)
		}
		mid := base.Add(15 * time.Minute)
		for _, c := range []struct {
			name     string
			from, to time.Time
			want     []string
		}{
			{"the hour", hour(0), hour(1), []string{"l", "a", "b", "p"}},
			{"from the nanosecond p ends", pEnd, hour(1), []string{"l", "a", "b"}},
			{"from 1 ns before p ends", pEnd.Add(-time.Nanosecond), hour(1), []string{"l", "a", "b", "p"}},
			{"to the nanosecond p starts", hour(0), pStart, []string{"l", "a", "b"}},
			{"to 1 ns after p starts", hour(0), pStart.Add(time.Nanosecond), []string{"l", "a", "b", "p"}},
			{"one nanosecond", mid, mid.Add(time.Nanosecond), []string{"l", "a", "b", "p"}},
			{"in another zone", hour(0).In(paris), hour(1).In(paris), []string{"l", "a", "b", "p"}},
			{"empty period", mid, mid, nil},
			{"from after to", hour(1), hour(0), nil},
		} {
			t.Run(c.name, func(t *testing.T) {
				if d := cmp.Diff(c.want, overlapping(t, pi, c.from, c.to)); d != "" {
					t.Errorf("Overlapping(%v, %v) (-want +got):\n%s", c.from, c.to, d)
				}
			})
		}
	})

	t.Run("PlanIndex/OrderByStartThenID", func(t *testing.T) {
		s, pi := open(t)
		for _, r := range []*relman.Release{
			planned("z", relman.StagePlanned, 5, 6),
			planned("y", relman.StageTesting, 5, 9),
			planned("x", relman.StageVerified, 7, 8),
			planned("w", relman.StagePlanned, 1, 30),
			planned("v", relman.StageBuilding, 5, 7),
		} {
			create(t, s, r)
		}
		if got, want := overlapping(t, pi, time.Time{}, time.Time{}), []string{"w", "v", "y", "z", "x"}; !cmp.Equal(got, want) {
			t.Errorf("Overlapping = %v, want %v (by start, then id)", got, want)
		}
	})

	t.Run("PlanIndex/FollowsUpdates", func(t *testing.T) {
		s, pi := open(t)
		seed(t, s)
		// An edit that leaves the plan alone keeps b where it was.
		b, _ := s.Get(ctx, "b")
		b.Title = "renamed"
		update(t, s, b)
		if got, want := overlapping(t, pi, hour(12), hour(13), "api"), []string{"b"}; !cmp.Equal(got, want) {
			t.Errorf("after renaming b, Overlapping(12–13, api) = %v, want %v", got, want)
		}
		// Replanned later: a moves after b.
		a, _ := s.Get(ctx, "a")
		a.Window = &relman.Span{Start: hour(20), End: hour(22)}
		update(t, s, a)
		if got, want := overlapping(t, pi, hour(10), hour(12)), []string{"d", "c"}; !cmp.Equal(got, want) {
			t.Errorf("after replanning a, Overlapping(10–12) = %v, want %v", got, want)
		}
		if got, want := overlapping(t, pi, time.Time{}, time.Time{}), []string{"d", "c", "b", "a"}; !cmp.Equal(got, want) {
			t.Errorf("after replanning a, Overlapping = %v, want %v", got, want)
		}
		if got, want := overlapping(t, pi, hour(21), hour(23), "billing"), []string{"a"}; !cmp.Equal(got, want) {
			t.Errorf("after replanning a, Overlapping(21–23, billing) = %v, want %v", got, want)
		}
		// Replanned far back, further than any window was long.
		a.Window = &relman.Span{Start: hour(-1000), End: hour(-999)}
		update(t, s, a)
		if got, want := overlapping(t, pi, hour(-1000), hour(-999)), []string{"a"}; !cmp.Equal(got, want) {
			t.Errorf("after replanning a far back, Overlapping = %v, want %v", got, want)
		}
		// A longer window than any before.
		b, _ = s.Get(ctx, "b")
		b.Window = &relman.Span{Start: hour(-5000), End: hour(5000)}
		update(t, s, b)
		if got, want := overlapping(t, pi, hour(4000), hour(4001)), []string{"b"}; !cmp.Equal(got, want) {
			t.Errorf("after lengthening b, Overlapping(4000–4001) = %v, want %v", got, want)
		}
		// Services change: c leaves billing and joins payments.
		c, _ := s.Get(ctx, "c")
		c.Services = []string{"api", "payments"}
		update(t, s, c)
		if got, want := overlapping(t, pi, time.Time{}, time.Time{}, "billing"), []string{"a"}; !cmp.Equal(got, want) {
			t.Errorf("after c left billing, Overlapping(billing) = %v, want %v", got, want)
		}
		if got, want := overlapping(t, pi, time.Time{}, time.Time{}, "payments"), []string{"c"}; !cmp.Equal(got, want) {
			t.Errorf("after c joined payments, Overlapping(payments) = %v, want %v", got, want)
		}
		// Teams change: a moves from web to mobile; b's task moves to
		// team web, and b gains team ops in Teams (still involved).
		a, _ = s.Get(ctx, "a")
		a.Teams = []string{"mobile"}
		update(t, s, a)
		b, _ = s.Get(ctx, "b")
		b.Tasks[0].Team = "web"
		b.Teams = []string{"ops"}
		update(t, s, b)
		for _, c := range []struct {
			team string
			want []string
		}{{"web", []string{"b", "c"}}, {"mobile", []string{"a"}}, {"ops", []string{"b", "c"}}} {
			if got := matching(t, pi, time.Time{}, time.Time{}, relman.PlanMatch{Teams: []string{c.team}}); !cmp.Equal(got, c.want) {
				t.Errorf("after the teams changed, Overlapping(team %s) = %v, want %v", c.team, got, c.want)
			}
		}
		// A task team dropped: b's task leaves web.
		b, _ = s.Get(ctx, "b")
		b.Tasks = nil
		update(t, s, b)
		if got, want := matching(t, pi, time.Time{}, time.Time{}, relman.PlanMatch{Teams: []string{"web"}}), []string{"c"}; !cmp.Equal(got, want) {
			t.Errorf("after b dropped its task, Overlapping(team web) = %v, want %v", got, want)
		}
		// Leaving the planned stages drops out; entering them comes in.
		d, _ := s.Get(ctx, "d")
		d.Stage = relman.StageOperating
		update(t, s, d)
		e, _ := s.Get(ctx, "e")
		e.Stage = relman.StagePlanned
		update(t, s, e)
		if got, want := overlapping(t, pi, hour(0), hour(50)), []string{"b", "c", "e"}; !cmp.Equal(got, want) {
			t.Errorf("after d deployed and e planned, Overlapping(0–50) = %v, want %v", got, want)
		}
		// Dropping the window drops out.
		e.Window = nil
		update(t, s, e)
		if got, want := overlapping(t, pi, hour(0), hour(50)), []string{"b", "c"}; !cmp.Equal(got, want) {
			t.Errorf("after e lost its window, Overlapping(0–50) = %v, want %v", got, want)
		}
		// A stale update changes nothing.
		stale := c.Clone()
		stale.Revision--
		stale.Window = &relman.Span{Start: hour(300), End: hour(301)}
		if err := s.Update(ctx, stale); !errors.Is(err, relman.ErrConflict) {
			t.Fatalf("stale Update = %v, want ErrConflict", err)
		}
		if got := overlapping(t, pi, hour(300), hour(301)); !cmp.Equal(got, []string{"b"}) {
			t.Errorf("a stale update moved c: Overlapping(300–301) = %v, want [b]", got)
		}
	})

	t.Run("PlanIndex/ListedTwice", func(t *testing.T) {
		// A service or a team listed twice finds the release once, and
		// moving it leaves nothing behind at the old place.
		s, pi := open(t)
		r := planned("twice", relman.StagePlanned, 10, 12, "billing", "billing")
		r.Teams = []string{"web", "web"}
		r.Tasks = []relman.Task{{Name: "deploy", Team: "web", Duration: time.Hour}}
		create(t, s, r)
		both := relman.PlanMatch{Services: []string{"billing"}, Teams: []string{"web"}}
		for _, m := range []relman.PlanMatch{{Services: []string{"billing"}}, {Teams: []string{"web"}}, both} {
			if got := matching(t, pi, hour(0), hour(20), m); !cmp.Equal(got, []string{"twice"}) {
				t.Errorf("Overlapping(%+v) = %v, want [twice]", m, got)
			}
		}
		r, _ = s.Get(ctx, "twice")
		r.Window = &relman.Span{Start: hour(30), End: hour(31)}
		update(t, s, r)
		if got := matching(t, pi, hour(0), hour(20), both); len(got) != 0 {
			t.Errorf("after replanning, Overlapping(0–20) = %v, want none", got)
		}
		if got := matching(t, pi, hour(29), hour(32), both); !cmp.Equal(got, []string{"twice"}) {
			t.Errorf("after replanning, Overlapping(29–32) = %v, want [twice]", got)
		}
	})

	t.Run("PlanIndex/FnErrorStops", func(t *testing.T) {
		s, pi := open(t)
		seed(t, s)
		stop := errors.New("stop")
		n := 0
		err := pi.Overlapping(ctx, time.Time{}, time.Time{}, relman.PlanMatch{}, func(*relman.Release) error { n++; return stop })
		if !errors.Is(err, stop) || n != 1 {
			t.Errorf("Overlapping with a failing fn: err = %v after %d calls, want stop after 1", err, n)
		}
		// fn may use the store.
		err = pi.Overlapping(ctx, time.Time{}, time.Time{}, relman.PlanMatch{}, func(r *relman.Release) error {
			_, err := s.Get(ctx, r.ID)
			return err
		})
		if err != nil {
			t.Errorf("Overlapping with fn reading the store: %v", err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := pi.Overlapping(cctx, time.Time{}, time.Time{}, relman.PlanMatch{}, func(*relman.Release) error { return nil }); !errors.Is(err, context.Canceled) {
			t.Errorf("Overlapping with a cancelled context: %v, want context.Canceled", err)
		}
	})
}
