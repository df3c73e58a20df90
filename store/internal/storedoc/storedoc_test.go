package storedoc_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/store/internal/storedoc"
)

func TestDecode(t *testing.T) {
	var v struct{ A int }
	if newer, err := storedoc.Decode([]byte(`{"A": 1}`), &v); newer || err != nil || v.A != 1 {
		t.Errorf("Decode of a known document: %v, %v, %+v", newer, err, v)
	}
	if newer, err := storedoc.Decode([]byte(`{"A": 1, "B": 2}`), &v); !newer || err == nil {
		t.Errorf("Decode of a document with an unknown field: %v, %v; want newer and an error", newer, err)
	}
	if newer, err := storedoc.Decode([]byte(`{"A": "x"}`), &v); newer || err == nil {
		t.Errorf("Decode of a damaged document: %v, %v; want an error, not newer", newer, err)
	}
}

func TestScanBatches(t *testing.T) {
	var ids []string
	for i := range 7 {
		ids = append(ids, fmt.Sprintf("r%d", i))
	}
	read := func(after string) ([]*relman.Release, error) {
		var out []*relman.Release
		for _, id := range ids {
			if id > after && len(out) < 3 {
				out = append(out, &relman.Release{ID: id})
			}
		}
		return out, nil
	}
	var seen []string
	err := storedoc.ScanBatches(3, read, func(r *relman.Release) error {
		seen = append(seen, r.ID)
		return nil
	})
	if err != nil || !slices.Equal(seen, ids) {
		t.Errorf("ScanBatches visited %v, %v; want %v", seen, err, ids)
	}
	stop := errors.New("stop")
	seen = nil
	err = storedoc.ScanBatches(3, read, func(r *relman.Release) error {
		seen = append(seen, r.ID)
		if len(seen) == 4 {
			return stop
		}
		return nil
	})
	if err != stop || len(seen) != 4 {
		t.Errorf("ScanBatches after fn failed: visited %v, err %v", seen, err)
	}
}

func TestCheckWrite(t *testing.T) {
	r := &relman.Release{ID: "r1"}
	for name, c := range map[string]struct {
		r       *relman.Release
		entries []relman.AuditEntry
		field   string
	}{
		"no release":   {nil, nil, "release"},
		"no id":        {&relman.Release{}, nil, "id"},
		"other entry":  {r, []relman.AuditEntry{{ReleaseID: "r1"}, {ReleaseID: "r2"}}, "entries[1].release_id"},
		"valid":        {r, []relman.AuditEntry{{ReleaseID: "r1"}}, ""},
		"valid, empty": {r, nil, ""},
	} {
		err := storedoc.CheckWrite(c.r, c.entries)
		var ve *relman.ValidationError
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case c.field != "" && (!errors.Is(err, relman.ErrInvalid) || !errors.As(err, &ve) || ve.Fields[0].Field != c.field):
			t.Errorf("%s: err = %v, want ErrInvalid on field %s", name, err, c.field)
		}
	}
}

// CheckWriteShared checks what differs from the kept version, and all of
// a release it has no version for; structural faults are CheckWrite's.
func TestCheckWriteShared(t *testing.T) {
	old := &relman.Release{ID: "r1", Title: "fine", Services: []string{"api"}}
	changed := *old
	changed.Title = "bad \xff"
	if err := storedoc.CheckWriteShared(&changed, nil, old); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("a changed bad title: %v", err)
	}
	same := *old
	if err := storedoc.CheckWriteShared(&same, []relman.AuditEntry{{ReleaseID: "r1", Reason: "ok"}}, old); err != nil {
		t.Errorf("an unchanged release: %v", err)
	}
	if err := storedoc.CheckWriteShared(&same, []relman.AuditEntry{{ReleaseID: "r1", Reason: "nul\x00"}}, old); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("a bad entry: %v", err)
	}
	var ve *relman.ValidationError
	if err := storedoc.CheckWriteShared(&same, []relman.AuditEntry{{ReleaseID: "r2"}}, old); !errors.As(err, &ve) || ve.Fields[0].Field != "entries[0].release_id" {
		t.Errorf("another release's entry: %v", err)
	}
	if err := storedoc.CheckWriteShared(&changed, nil, nil); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("no kept version: %v", err)
	}
}

func TestCheckClaim(t *testing.T) {
	for _, c := range []struct {
		owner string
		n     int
		bad   []string
	}{{"a", 1, nil}, {"", 1, []string{"owner"}}, {" \t", 1, []string{"owner"}}, {"a", 0, []string{"n"}}, {"", -1, []string{"owner", "n"}}} {
		err := storedoc.CheckClaim(c.owner, c.n)
		var ve *relman.ValidationError
		if c.bad == nil {
			if err != nil {
				t.Errorf("CheckClaim(%q, %d) = %v", c.owner, c.n, err)
			}
			continue
		}
		if !errors.As(err, &ve) || !errors.Is(err, relman.ErrInvalid) {
			t.Errorf("CheckClaim(%q, %d) = %v, want a *ValidationError", c.owner, c.n, err)
			continue
		}
		var got []string
		for _, f := range ve.Fields {
			got = append(got, f.Field)
		}
		if !slices.Equal(got, c.bad) {
			t.Errorf("CheckClaim(%q, %d) names %v, want %v", c.owner, c.n, got, c.bad)
		}
	}
	if err := storedoc.CheckLimit(0); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("CheckLimit(0) = %v", err)
	}
	if err := storedoc.CheckLimit(1); err != nil {
		t.Errorf("CheckLimit(1) = %v", err)
	}
	if err := storedoc.OutboxOff("x", "ack"); !errors.Is(err, relman.ErrInvalid) || err.Error() != "x: ack: the outbox is not enabled (Options.Outbox): "+relman.ErrInvalid.Error() {
		t.Errorf("OutboxOff = %v", err)
	}
}
