package relman

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// CheckInput returns a *ValidationError naming, by its JSON path under
// prefix, every value in v (a struct, pointer, slice, map or string; map
// keys included) that relman refuses to keep, or nil: a string that is
// not valid UTF-8 (rule "utf8") or holds a NUL byte ("nonul"), a float
// that is NaN or infinite ("finite"), a time outside the years 1 to 9999
// ("year"; JSON cannot carry it). The Manager checks every input with it,
// and so does every store on every write, so that no backend keeps what
// another would refuse. It reports at most 32 fields.
func CheckInput(prefix string, v any) error {
	w := walker{prefix: prefix}
	w.walk(reflect.ValueOf(v), 0)
	if len(w.fs) > 0 {
		return &ValidationError{Fields: w.fs}
	}
	return nil
}

// textRule returns the rule s breaks, or "".
func textRule(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "utf8"
	case strings.IndexByte(s, 0) >= 0:
		return "nonul"
	}
	return ""
}

// walker walks a value for CheckInput. It keeps the path as a stack of
// segments and spells it out only for a value it refuses, so that valid
// input (the common case, on every write) costs no allocation.
type walker struct {
	prefix string
	segs   []seg
	fs     []FieldError
}

// seg is one step of a path: a field or map key name, or a slice index.
type seg struct {
	name string
	idx  int // -1 for a name
}

func (w *walker) path() string {
	var b strings.Builder
	b.WriteString(w.prefix)
	for _, s := range w.segs {
		if s.idx >= 0 {
			fmt.Fprintf(&b, "[%d]", s.idx)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.name)
	}
	return b.String()
}

func (w *walker) fail(rule, param string) {
	w.fs = append(w.fs, FieldError{Field: w.path(), Rule: rule, Param: param})
}

// fieldNames caches, per struct type, the exported fields and their JSON
// names.
var fieldNames sync.Map // reflect.Type → []namedField

type namedField struct {
	index int
	name  string
}

func namedFields(t reflect.Type) []namedField {
	if v, ok := fieldNames.Load(t); ok {
		return v.([]namedField)
	}
	var out []namedField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if name := jsonFieldName(f); name != "" {
			out = append(out, namedField{i, name})
		}
	}
	fieldNames.Store(t, out)
	return out
}

func (w *walker) walk(v reflect.Value, depth int) {
	if depth > 16 || len(w.fs) >= 32 {
		return
	}
	switch v.Kind() {
	case reflect.String:
		if rule := textRule(v.String()); rule != "" {
			w.fail(rule, "")
		}
	case reflect.Float32, reflect.Float64:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			w.fail("finite", "")
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			w.walk(v.Elem(), depth+1)
		}
	case reflect.Struct:
		if t, ok := reflect.TypeAssert[time.Time](v); ok {
			if !t.IsZero() && (t.UTC().Year() < 1 || t.UTC().Year() > 9999) {
				w.fail("year", "1..9999")
			}
			return
		}
		for _, f := range namedFields(v.Type()) {
			w.segs = append(w.segs, seg{name: f.name, idx: -1})
			w.walk(v.Field(f.index), depth+1)
			w.segs = w.segs[:len(w.segs)-1]
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			w.segs = append(w.segs, seg{idx: i})
			w.walk(v.Index(i), depth+1)
			w.segs = w.segs[:len(w.segs)-1]
		}
	case reflect.Map:
		if v.Len() == 0 || v.Type().Key().Kind() != reflect.String {
			return
		}
		iter := v.MapRange()
		for iter.Next() {
			k := iter.Key().String()
			if rule := textRule(k); rule != "" {
				w.segs = append(w.segs, seg{name: "<key>", idx: -1})
				w.fail(rule, "")
				w.segs = w.segs[:len(w.segs)-1]
				continue
			}
			w.segs = append(w.segs, seg{name: k, idx: -1})
			w.walk(iter.Value(), depth+1)
			w.segs = w.segs[:len(w.segs)-1]
		}
	}
}
