package relman_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/relman-dev/relman"
)

// fill sets every settable field reachable from v to a non-zero value:
// pointers are allocated, slices and maps get one element, and so on
// recursively. A field added to Release later is filled too, so the
// clone test below catches a Clone that forgets it.
func fill(v reflect.Value, depth int) {
	if depth > 8 {
		return
	}
	if v.Type() == reflect.TypeFor[time.Time]() {
		v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(3)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(3)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), depth+1)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k := reflect.New(v.Type().Key()).Elem()
		e := reflect.New(v.Type().Elem()).Elem()
		fill(k, depth+1)
		fill(e, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i), depth+1)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	case reflect.Interface, reflect.Func, reflect.Chan:
		// Release has none; if one appears, the zero check below fails
		// and this function needs extending.
	}
}

// shared returns the paths at which a and b share memory: the same
// non-nil pointer, map, or slice backing array.
func shared(a, b reflect.Value, path string) []string {
	var out []string
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return nil
		}
		if a.Pointer() == b.Pointer() {
			out = append(out, path)
		}
		out = append(out, shared(a.Elem(), b.Elem(), path)...)
	case reflect.Slice:
		if a.Len() > 0 && b.Len() > 0 && a.Pointer() == b.Pointer() {
			out = append(out, path)
		}
		for i := range min(a.Len(), b.Len()) {
			out = append(out, shared(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
	case reflect.Map:
		if !a.IsNil() && !b.IsNil() && a.Pointer() == b.Pointer() {
			out = append(out, path)
		}
		for _, k := range a.MapKeys() {
			if bv := b.MapIndex(k); bv.IsValid() {
				out = append(out, shared(a.MapIndex(k), bv, fmt.Sprintf("%s[%v]", path, k))...)
			}
		}
	case reflect.Array:
		for i := range a.Len() {
			out = append(out, shared(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
	case reflect.Struct:
		if a.Type() == reflect.TypeFor[time.Time]() {
			return nil // a value; its *Location is immutable and meant to be shared
		}
		for i := range a.NumField() {
			if a.Type().Field(i).IsExported() {
				out = append(out, shared(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name)...)
			}
		}
	case reflect.Interface, reflect.Func, reflect.Chan:
		if !a.IsNil() {
			out = append(out, path+" (cannot be deep-copied: extend this test)")
		}
	}
	return out
}

// zeros lists the exported fields left at their zero value, to prove that
// fill reached every field.
func zeros(v reflect.Value, path string) []string {
	if v.IsZero() {
		return []string{path}
	}
	var out []string
	switch v.Kind() {
	case reflect.Pointer:
		out = zeros(v.Elem(), path)
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			out = append(out, zeros(v.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			return nil
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				out = append(out, zeros(v.Field(i), path+"."+v.Type().Field(i).Name)...)
			}
		}
	}
	return out
}

func TestCloneSharesNothing(t *testing.T) {
	var r relman.Release
	fill(reflect.ValueOf(&r).Elem(), 0)
	if z := zeros(reflect.ValueOf(r), "Release"); len(z) > 0 {
		t.Fatalf("fill left fields zero (extend fill): %v", z)
	}
	c := r.Clone()
	if !reflect.DeepEqual(&r, c) {
		t.Fatalf("Clone differs from the original:\n%+v\n%+v", r, *c)
	}
	if s := shared(reflect.ValueOf(&r), reflect.ValueOf(c), "Release"); len(s) > 0 {
		t.Errorf("Clone shares memory with the original at %v", s)
	}
	if (*relman.Release)(nil).Clone() != nil {
		t.Error("nil.Clone() != nil")
	}
}

// TestSharedDetectsAliasing proves the checker itself works: a shallow
// copy must be reported.
func TestSharedDetectsAliasing(t *testing.T) {
	var r relman.Release
	fill(reflect.ValueOf(&r).Elem(), 0)
	shallow := r
	s := shared(reflect.ValueOf(&r).Elem(), reflect.ValueOf(&shallow).Elem(), "Release")
	for _, want := range []string{"Release.Teams", "Release.Window", "Release.Labels", "Release.Incidents", "Release.Feedback", "Release.Tasks[0].DependsOn"} {
		found := false
		for _, p := range s {
			found = found || p == want
		}
		if !found {
			t.Errorf("shallow copy: %s not reported as shared (got %v)", want, s)
		}
	}
	deep := r.Clone()
	deep.Incidents[0].ResolvedAt = r.Incidents[0].ResolvedAt // break it on purpose
	s = shared(reflect.ValueOf(&r).Elem(), reflect.ValueOf(deep).Elem(), "Release")
	if len(s) != 1 || s[0] != "Release.Incidents[0].ResolvedAt" {
		t.Errorf("aliased ResolvedAt: got %v", s)
	}
}

// TestReleaseJSONRoundTrip: every field, the operation data included,
// survives encoding/json (what the SQL stores keep).
func TestReleaseJSONRoundTrip(t *testing.T) {
	var r relman.Release
	fill(reflect.ValueOf(&r).Elem(), 0)
	b, err := json.Marshal(&r)
	if err != nil {
		t.Fatal(err)
	}
	var back relman.Release
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r, back) {
		t.Errorf("JSON round trip differs:\n%+v\n%+v", r, back)
	}
	for _, key := range []string{`"feedback":[{"rating":3`, `"incidents":[{"id":"x"`, `"resolved_at":"2026-01-02T03:04:05Z"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
}
