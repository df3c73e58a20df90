package relman_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/relman-dev/relman"
)

// FuzzReleaseJSON feeds arbitrary JSON to the release decoder and the
// validator: they never panic, and a rejection is always a
// *ValidationError.
func FuzzReleaseJSON(f *testing.F) {
	good, _ := json.Marshal(newRelease("seed-1"))
	f.Add(good)
	f.Add([]byte(`{"id":"x","version":"1.0.0-rc.1+b5","kind":"patch","change_model":"emergency","labels":{"":"x"}}`))
	f.Add([]byte(`{"id":"../etc","tasks":[{"name":""}],"window":{"start":"2026-01-01T00:00:00Z","end":"2025-01-01T00:00:00Z"}}`))
	f.Add([]byte(`{"business_case":{"cost":-1,"feasibility":"yes"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r relman.Release
		if err := json.Unmarshal(data, &r); err != nil {
			return
		}
		err := r.Validate()
		var ve *relman.ValidationError
		if err != nil && (!errors.As(err, &ve) || len(ve.Fields) == 0 || !errors.Is(err, relman.ErrInvalid)) {
			t.Fatalf("Validate returned %T %v", err, err)
		}
		c := r.Clone()
		if c.Validate() == nil != (err == nil) {
			t.Fatalf("a clone validates differently")
		}
	})
}
