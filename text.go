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
	if rv := reflect.ValueOf(v); rv.IsValid() {
		w.walk(planFor(rv.Type()), rv, 0)
	}
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
	segs   [maxDepth + 2]seg // the path down to the value being checked
	n      int               // segs in use
	fs     []FieldError
}

// maxDepth is how deep CheckInput looks.
const maxDepth = 16

func (w *walker) push(s seg) { w.segs[w.n] = s; w.n++ }
func (w *walker) pop()       { w.n-- }

// seg is one step of a path: a field or map key name, or a slice index.
type seg struct {
	name string
	idx  int // -1 for a name
}

func (w *walker) path() string {
	var b strings.Builder
	b.WriteString(w.prefix)
	for _, s := range w.segs[:w.n] {
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

// A plan says how to check values of one type. Plans are compiled once
// per type (plans), so that a check visits only the fields that can hold
// text, floats or times, without looking anything up.
type plan struct {
	kind   planKind
	fields []planField // planStruct
	elem   *plan       // planPointer, planSeq, planMap
	keys   bool        // planMap: string keys, checked too
}

type planKind uint8

const (
	planNone planKind = iota // nothing to check
	planString
	planFloat
	planTime
	planPointer
	planInterface
	planStruct
	planSeq
	planMap
)

type planField struct {
	index int
	name  string
	p     *plan
}

var plans sync.Map // reflect.Type → *plan

// planFor returns the plan of type t, compiling it (and the plans of the
// types it holds) the first time.
func planFor(t reflect.Type) *plan {
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	building := map[reflect.Type]*plan{}
	p := compilePlan(t, building)
	for t, bp := range building {
		plans.LoadOrStore(t, bp)
	}
	return p
}

func compilePlan(t reflect.Type, building map[reflect.Type]*plan) *plan {
	if p, ok := building[t]; ok {
		return p // a recursive type: filled in below
	}
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	p := &plan{}
	building[t] = p
	if !checked(t, map[reflect.Type]bool{}) {
		return p
	}
	switch t.Kind() {
	case reflect.String:
		p.kind = planString
	case reflect.Float32, reflect.Float64:
		p.kind = planFloat
	case reflect.Interface:
		p.kind = planInterface
	case reflect.Pointer:
		p.kind, p.elem = planPointer, compilePlan(t.Elem(), building)
	case reflect.Slice, reflect.Array:
		p.kind, p.elem = planSeq, compilePlan(t.Elem(), building)
	case reflect.Map:
		p.kind, p.elem, p.keys = planMap, compilePlan(t.Elem(), building), t.Key().Kind() == reflect.String
	case reflect.Struct:
		if t == timeType {
			p.kind = planTime
			break
		}
		p.kind = planStruct
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || !checked(f.Type, map[reflect.Type]bool{}) {
				continue
			}
			if name := jsonFieldName(f); name != "" {
				p.fields = append(p.fields, planField{i, name, compilePlan(f.Type, building)})
			}
		}
	}
	return p
}

// checked reports whether a value of type t can hold something
// CheckInput checks (text, a float, a time), so that plans skip the
// fields that cannot (numbers, booleans).
func checked(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false // a recursive type: its other paths decide
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.String, reflect.Float32, reflect.Float64, reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return checked(t.Elem(), seen)
	case reflect.Map:
		return t.Key().Kind() == reflect.String || checked(t.Elem(), seen)
	case reflect.Struct:
		if t == timeType {
			return true
		}
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && checked(f.Type, seen) {
				return true
			}
		}
	}
	return false
}

var timeType = reflect.TypeFor[time.Time]()

// walk checks v with p, unless it is too deep or enough is reported.
func (w *walker) walk(p *plan, v reflect.Value, depth int) {
	if depth > maxDepth || len(w.fs) >= 32 {
		return
	}
	switch p.kind {
	case planString:
		if rule := textRule(v.String()); rule != "" {
			w.fail(rule, "")
		}
	case planFloat:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			w.fail("finite", "")
		}
	case planTime:
		t, _ := reflect.TypeAssert[time.Time](v)
		if !t.IsZero() && (t.UTC().Year() < 1 || t.UTC().Year() > 9999) {
			w.fail("year", "1..9999")
		}
	case planPointer:
		if !v.IsNil() && p.elem.kind != planNone {
			w.walk(p.elem, v.Elem(), depth+1)
		}
	case planInterface:
		if !v.IsNil() {
			e := v.Elem()
			w.walk(planFor(e.Type()), e, depth+1)
		}
	case planStruct:
		for i := range p.fields {
			f := &p.fields[i]
			if f.p.kind == planNone {
				continue
			}
			w.push(seg{name: f.name, idx: -1})
			w.walk(f.p, v.Field(f.index), depth+1)
			w.pop()
		}
	case planSeq:
		if p.elem.kind == planNone {
			return
		}
		for i := range v.Len() {
			w.push(seg{idx: i})
			w.walk(p.elem, v.Index(i), depth+1)
			w.pop()
		}
	case planMap:
		if v.Len() == 0 {
			return
		}
		iter := v.MapRange()
		for iter.Next() {
			name := "<key>"
			if p.keys {
				name = iter.Key().String()
				if rule := textRule(name); rule != "" {
					w.push(seg{name: "<key>", idx: -1})
					w.fail(rule, "")
					w.pop()
					continue
				}
			}
			if p.elem.kind == planNone {
				continue
			}
			w.push(seg{name: name, idx: -1})
			w.walk(p.elem, iter.Value(), depth+1)
			w.pop()
		}
	}
}
