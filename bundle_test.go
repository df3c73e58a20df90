package relman_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/relman-dev/relman"
)

// signedBundle walks a release with a signed Manager and exports it with
// a checkpoint.
func signedBundle(t testing.TB) ([]byte, *relman.Signer) {
	t.Helper()
	sg := testKey(t, "k1", 1)
	m, c := newManager(t, relman.WithSigner(sg))
	walk(t, m, c, "r")
	ctx := context.Background()
	r, _ := m.Get(ctx, "r")
	h, _ := m.History(ctx, "r")
	cp, err := m.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := relman.ExportBundle(&buf, r, h, cp); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), sg
}

func TestBundle(t *testing.T) {
	data, sg := signedBundle(t)
	rep, err := relman.VerifyBundle(bytes.NewReader(data), sg.Keyring())
	if err != nil {
		t.Fatalf("VerifyBundle: %v", err)
	}
	if rep.ReleaseID != "r" || rep.Entries != 17 || rep.Unsigned != 0 || !rep.Checkpoint || len(rep.KeyIDs) != 1 || rep.KeyIDs[0] != "k1" {
		t.Errorf("report %+v", rep)
	}
	for _, tc := range []struct {
		name string
		edit func(s string) string
		want error
	}{
		{"actor", func(s string) string { return strings.Replace(s, `"actor": "alice"`, `"actor": "mallory"`, 1) }, relman.ErrCorruptHistory},
		{"stage", func(s string) string {
			return strings.Replace(s, `"stage": "closed"`, `"stage": "operating"`, 1)
		}, relman.ErrCorruptHistory},
		{"checkpoint", func(s string) string {
			return strings.Replace(s, `"heads": [`, `"heads": [{"release_id":"a","seq":1,"hash":"x"},`, 1)
		}, relman.ErrCheckpoint},
		{"format", func(s string) string { return strings.Replace(s, relman.BundleFormat, "other/1", 1) }, relman.ErrInvalid},
		{"unknown field", func(s string) string { return strings.Replace(s, `"format"`, `"extra": 1, "format"`, 1) }, relman.ErrInvalid},
		{"trailing", func(s string) string { return s + "{}" }, relman.ErrInvalid},
		{"truncated json", func(s string) string { return s[:len(s)/2] }, relman.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			edited := tc.edit(string(data))
			if edited == string(data) {
				t.Fatal("edit changed nothing")
			}
			_, err := relman.VerifyBundle(strings.NewReader(edited), sg.Keyring())
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := relman.VerifyBundle(bytes.NewReader(data), testKey(t, "k2", 2).Keyring()); !errors.Is(err, relman.ErrCorruptHistory) {
		t.Errorf("wrong keyring: %v", err)
	}
	big := bytes.Repeat([]byte(" "), relman.MaxBundleSize+1)
	if _, err := relman.VerifyBundle(bytes.NewReader(big), sg.Keyring()); !errors.Is(err, relman.ErrInvalid) {
		t.Errorf("oversized bundle: %v", err)
	}
}

// FuzzVerifyBundle feeds arbitrary bytes to VerifyBundle: it never
// panics, and every error is bad input, a corrupt history or a bad
// checkpoint.
func FuzzVerifyBundle(f *testing.F) {
	data, sg := signedBundle(f)
	f.Add(data)
	f.Add(data[:len(data)/3])
	f.Add([]byte(`{"format":"relman-audit-bundle/1","release":{"id":"x","history_head":{"seq":1,"sig":"AAAA"}},"entries":[],"key_ids":[]}`))
	f.Add([]byte(`{"format":"relman-audit-bundle/1","release":{"id":"x"},"entries":[{"seq":1}],"checkpoint":{"heads":[{"release_id":"x","seq":5}]}}`))
	f.Add([]byte(`null`))
	keys := sg.Keyring()
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := relman.VerifyBundle(bytes.NewReader(b), keys)
		switch {
		case err == nil:
			if rep == nil || rep.Entries < 0 || rep.Head.Sig == "" {
				t.Fatalf("verified bundle with report %+v", rep)
			}
		case errors.Is(err, relman.ErrInvalid), errors.Is(err, relman.ErrCorruptHistory), errors.Is(err, relman.ErrCheckpoint):
		default:
			t.Fatalf("unexpected error %T %v", err, err)
		}
	})
}
