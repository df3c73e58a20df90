package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/relman-dev/relman"
)

// UpgradePlanFeedback checks the upgrade of a database written before
// its store had a plan index (relman.PlanIndex) and feedback records
// (relman.FeedbackStore). old is a handle on an empty database at such a
// version; it must be a relman.WindowStore. UpgradePlanFeedback fills it
// as that version would have: planned releases with windows (pl1, with
// teams web and ops; pl2, with a task of team dba; and pl0, which has no
// window), a proposed one with a window (dr1,
// approved through a Manager), one in operation with three pieces of
// feedback in its document and no summary (op1), and calendar window
// "sunday". upgrade moves the database to the current version and
// returns a handle on it, which must be a relman.PlanIndex and a
// relman.FeedbackStore. Then Overlapping must find the planned releases
// with windows, by period, service and team, every chain must verify, the window must be there, and
// after one AddFeedback through a Manager op1's feedback must be records:
// Manager.Feedback lists the three old pieces and the new one, the
// document holds none, and its summary counts all four.
func UpgradePlanFeedback(t *testing.T, old relman.Store, upgrade func(t *testing.T) relman.Store) {
	ctx := context.Background()
	window := func(r *relman.Release, from, to time.Duration) {
		r.Window = &relman.Span{Start: base.Add(from), End: base.Add(to)}
	}
	pl1 := Full("pl1")
	pl1.Stage, pl1.Services, pl1.Feedback = relman.StagePlanned, []string{"billing"}, nil
	window(pl1, 48*time.Hour, 50*time.Hour)
	pl2 := Minimal("pl2")
	pl2.Stage, pl2.Services = relman.StageBuilding, []string{"api"}
	pl2.Tasks = []relman.Task{{Name: "migrate", Team: "dba", Duration: time.Hour}}
	window(pl2, 49*time.Hour, 51*time.Hour)
	pl0 := Minimal("pl0")
	pl0.Stage = relman.StagePlanned
	dr1 := Full("dr1")
	dr1.Stage, dr1.Feedback = relman.StageProposed, nil
	op1 := Minimal("op1")
	op1.Stage = relman.StageOperating
	op1.Feedback = []relman.Feedback{
		{Rating: 4, Comment: "faster ✓", Source: "survey", At: base.Add(80 * time.Hour), By: "uma"},
		{Rating: 2, At: base.Add(81 * time.Hour), By: "ivo"},
		{Rating: 4, At: base.Add(82 * time.Hour), By: "eve"},
	}
	for _, r := range []*relman.Release{pl1, pl2, pl0, dr1, op1} {
		Put(t, old, r)
	}
	ws, ok := old.(relman.WindowStore)
	if !ok {
		t.Fatalf("%T is not a relman.WindowStore", old)
	}
	if err := ws.PutWindow(ctx, Window("sunday")); err != nil {
		t.Fatal(err)
	}
	m, err := relman.NewManager(old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Fire(ctx, "dr1", relman.EventApprove, relman.Request{Actor: relman.Actor{ID: "carl"}}); err != nil {
		t.Fatal(err)
	}

	s := upgrade(t)
	pi, ok := s.(relman.PlanIndex)
	if !ok {
		t.Fatalf("%T is not a relman.PlanIndex", s)
	}
	if _, ok := s.(relman.FeedbackStore); !ok {
		t.Fatalf("%T is not a relman.FeedbackStore", s)
	}
	for _, c := range []struct {
		from, to time.Time
		match    relman.PlanMatch
		want     []string
	}{
		{time.Time{}, time.Time{}, relman.PlanMatch{}, []string{"pl1", "pl2"}},
		{base.Add(50 * time.Hour), time.Time{}, relman.PlanMatch{}, []string{"pl2"}},
		{base.Add(49 * time.Hour), base.Add(50 * time.Hour), relman.PlanMatch{Services: []string{"api"}}, []string{"pl2"}},
		{time.Time{}, base.Add(49 * time.Hour), relman.PlanMatch{Services: []string{"billing", "api"}}, []string{"pl1"}},
		{time.Time{}, time.Time{}, relman.PlanMatch{Teams: []string{"ops"}}, []string{"pl1"}},
		{time.Time{}, time.Time{}, relman.PlanMatch{Teams: []string{"dba"}}, []string{"pl2"}},
		{base.Add(50 * time.Hour), time.Time{}, relman.PlanMatch{Teams: []string{"web", "dba"}}, []string{"pl2"}},
		{time.Time{}, time.Time{}, relman.PlanMatch{Services: []string{"billing"}, Teams: []string{"dba"}}, []string{"pl1", "pl2"}},
		{time.Time{}, time.Time{}, relman.PlanMatch{Teams: []string{"nobody"}}, nil},
	} {
		var got []string
		if err := pi.Overlapping(ctx, c.from, c.to, c.match, func(r *relman.Release) error {
			got = append(got, r.ID)
			return nil
		}); err != nil {
			t.Fatalf("Overlapping after upgrade: %v", err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("Overlapping(%v, %v, %+v) after upgrade = %v, want %v", c.from, c.to, c.match, got, c.want)
		}
	}
	if w, err := s.(relman.WindowStore).GetWindow(ctx, "sunday"); err != nil || w.ID != "sunday" {
		t.Errorf("GetWindow after upgrade: %v, %v", w.ID, err)
	}
	m, err = relman.NewManager(s)
	if err != nil {
		t.Fatal(err)
	}
	planned, err := m.Planned(ctx)
	if err != nil || len(planned) != 2 {
		t.Errorf("Manager.Planned after upgrade: %d releases, %v; want pl1 and pl2", len(planned), err)
	}

	// Legacy feedback: readable before any write, records after one.
	fs, err := m.Feedback(ctx, "op1", 0, 10)
	if err != nil || len(fs) != 3 {
		t.Fatalf("Manager.Feedback before a write: %d, %v; want the 3 in the document", len(fs), err)
	}
	r, err := m.AddFeedback(ctx, "op1", relman.Actor{ID: "olga"}, relman.Feedback{Rating: 5, Comment: "new", At: base.Add(90 * time.Hour)})
	if err != nil {
		t.Fatalf("AddFeedback after upgrade: %v", err)
	}
	fs, err = m.Feedback(ctx, "op1", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	var comments []string
	for _, f := range fs {
		seqs, comments = append(seqs, f.Seq), append(comments, f.Comment)
	}
	if !slices.Equal(seqs, []int64{1, 2, 3, 4}) || comments[0] != "faster ✓" || comments[3] != "new" {
		t.Errorf("Manager.Feedback after AddFeedback: seqs %v, comments %q; want 1..4, the old ones then the new", seqs, comments)
	}
	recs, err := s.(relman.FeedbackStore).Feedback(ctx, "op1", 0, 10)
	if err != nil || len(recs) != 4 {
		t.Errorf("store Feedback after AddFeedback: %d records, %v; want 4", len(recs), err)
	}
	stored, err := s.Get(ctx, "op1")
	if err != nil {
		t.Fatal(err)
	}
	if sum := stored.FeedbackSummary; len(stored.Feedback) != 0 || sum == nil || sum.Count != 4 || sum.Counts != [5]int64{0, 1, 0, 2, 1} {
		t.Errorf("op1 after AddFeedback: %d pieces in the document, summary %+v; want none and 4 counted", len(stored.Feedback), sum)
	}
	if r.FeedbackSummary == nil || r.FeedbackSummary.Count != 4 {
		t.Errorf("AddFeedback returned summary %+v, want 4 counted", r.FeedbackSummary)
	}
	ratings, err := s.(relman.FeedbackStore).FeedbackRatings(ctx, base, base.Add(100*time.Hour))
	if err != nil || ratings["op1"] != [5]int{0, 1, 0, 2, 1} {
		t.Errorf("FeedbackRatings after AddFeedback = %v, %v", ratings, err)
	}
	for _, id := range []string{"pl1", "pl2", "pl0", "dr1", "op1"} {
		if err := m.Verify(ctx, id); err != nil {
			t.Errorf("Verify %s after upgrade: %v", id, err)
		}
	}
}
