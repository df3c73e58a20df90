package relman

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"
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
	switch rv := reflect.ValueOf(v); {
	case !rv.IsValid():
	case rv.Kind() == reflect.Pointer:
		if !rv.IsNil() {
			w.walk(planFor(rv.Type().Elem()), rv.UnsafePointer(), nil, 1)
		}
	default:
		w.walk(planFor(rv.Type()), addressOf(rv), nil, 0)
	}
	if len(w.fs) > 0 {
		return &ValidationError{Fields: w.fs}
	}
	return nil
}

// CheckChanged is CheckInput for *v, skipping what *v shares with *old
// (the same string bytes, slice arrays, maps and pointers): old must have
// passed CheckInput and not changed since. A store that keeps immutable
// values (store/memory) checks a new version of a release at the cost of
// what changed. A nil old checks all of *v.
func CheckChanged[T any](prefix string, v, old *T) error {
	if v == nil {
		return nil
	}
	w := walker{prefix: prefix}
	w.walk(planFor(reflect.TypeFor[T]()), unsafe.Pointer(v), unsafe.Pointer(old), 1)
	if len(w.fs) > 0 {
		return &ValidationError{Fields: w.fs}
	}
	return nil
}

// sameString reports whether the strings at a and b are the same bytes
// in memory.
func sameString(a, b unsafe.Pointer) bool {
	sa, sb := (*string)(a), (*string)(b)
	return len(*sa) == len(*sb) && unsafe.StringData(*sa) == unsafe.StringData(*sb)
}

// textRule returns the rule s breaks, or "".
func textRule(s string) string {
	// One pass over ASCII text, the common case; anything else takes the
	// full check, which also decides which rule a string breaks first.
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0 || c >= utf8.RuneSelf {
			return fullTextRule(s)
		}
	}
	return ""
}

func fullTextRule(s string) string {
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
// per type (plans), with reflection; a check then follows the plan over
// the value's memory, visiting only the fields that can hold text,
// floats or times, without reflection or lookups on the way. CheckInput
// runs on every write, in the Manager and in every store.
type plan struct {
	kind   planKind
	typ    reflect.Type // planInterface, planMap: for the reflective path
	fields []planField  // planStruct
	elem   *plan        // planPointer, planSlice, planArray, planMap
	size   uintptr      // planSlice, planArray: the element size
	n      int          // planArray: the length
	keys   bool         // planMap: string keys, checked too
}

type planKind uint8

const (
	planNone planKind = iota // nothing to check
	planString
	planFloat32
	planFloat64
	planTime
	planPointer
	planInterface
	planStruct
	planSlice
	planArray
	planStringMap // map[string]string, ranged natively
	planMap
)

type planField struct {
	offset uintptr
	name   string
	p      *plan
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

var stringMapType = reflect.TypeFor[map[string]string]()

func compilePlan(t reflect.Type, building map[reflect.Type]*plan) *plan {
	if p, ok := building[t]; ok {
		return p // a recursive type: filled in below
	}
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	p := &plan{typ: t}
	building[t] = p
	if !checked(t, map[reflect.Type]bool{}) {
		return p
	}
	switch t.Kind() {
	case reflect.String:
		p.kind = planString
	case reflect.Float32:
		p.kind = planFloat32
	case reflect.Float64:
		p.kind = planFloat64
	case reflect.Interface:
		p.kind = planInterface
	case reflect.Pointer:
		p.kind, p.elem = planPointer, compilePlan(t.Elem(), building)
	case reflect.Slice:
		p.kind, p.elem, p.size = planSlice, compilePlan(t.Elem(), building), t.Elem().Size()
	case reflect.Array:
		p.kind, p.elem, p.size, p.n = planArray, compilePlan(t.Elem(), building), t.Elem().Size(), t.Len()
	case reflect.Map:
		if t == stringMapType {
			p.kind = planStringMap
			break
		}
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
				p.fields = append(p.fields, planField{f.Offset, name, compilePlan(f.Type, building)})
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

// sliceHeader is the layout of a slice value.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

// addressOf returns the address of a copy of v, for values the walk
// cannot address in place (interface contents, map values).
func addressOf(v reflect.Value) unsafe.Pointer {
	c := reflect.New(v.Type())
	c.Elem().Set(v)
	return c.UnsafePointer()
}

// walk checks the value of p's type at ptr, unless it is too deep or
// enough is reported. old, when not nil, is a value of the same type
// checked before and never changed since: what ptr's value shares with
// it (the same string bytes, slice array, map or pointer) is not checked
// again.
func (w *walker) walk(p *plan, ptr, old unsafe.Pointer, depth int) {
	if depth > maxDepth || len(w.fs) >= 32 {
		return
	}
	switch p.kind {
	case planString:
		if old != nil && sameString(ptr, old) {
			return
		}
		if rule := textRule(*(*string)(ptr)); rule != "" {
			w.fail(rule, "")
		}
	case planFloat32, planFloat64:
		f := float64(0)
		if p.kind == planFloat32 {
			f = float64(*(*float32)(ptr))
		} else {
			f = *(*float64)(ptr)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			w.fail("finite", "")
		}
	case planTime:
		t := (*time.Time)(ptr)
		if !t.IsZero() {
			if y := t.UTC().Year(); y < 1 || y > 9999 {
				w.fail("year", "1..9999")
			}
		}
	case planPointer:
		q := *(*unsafe.Pointer)(ptr)
		if q == nil || p.elem.kind == planNone {
			return
		}
		var oq unsafe.Pointer
		if old != nil {
			if oq = *(*unsafe.Pointer)(old); oq == q {
				return
			}
		}
		w.walk(p.elem, q, oq, depth+1)
	case planInterface:
		if v := reflect.NewAt(p.typ, ptr).Elem(); !v.IsNil() {
			e := v.Elem()
			w.walk(planFor(e.Type()), addressOf(e), nil, depth+1)
		}
	case planStruct:
		for i := range p.fields {
			f := &p.fields[i]
			fp := unsafe.Add(ptr, f.offset)
			var ofp unsafe.Pointer
			if old != nil {
				ofp = unsafe.Add(old, f.offset)
			}
			switch f.p.kind {
			case planNone:
				continue
			case planString: // the common leaf, checked in place
				if ofp != nil && sameString(fp, ofp) {
					continue
				}
				if rule := textRule(*(*string)(fp)); rule != "" {
					w.push(seg{name: f.name, idx: -1})
					w.fail(rule, "")
					w.pop()
				}
				continue
			case planPointer:
				if *(*unsafe.Pointer)(fp) == nil {
					continue
				}
			case planSlice:
				if (*sliceHeader)(fp).len == 0 {
					continue
				}
			}
			w.push(seg{name: f.name, idx: -1})
			w.walk(f.p, fp, ofp, depth+1)
			w.pop()
		}
	case planSlice, planArray:
		if p.elem.kind == planNone {
			return
		}
		data, n := ptr, p.n
		odata, on := old, 0
		if old != nil {
			on = p.n
		}
		if p.kind == planSlice {
			h := (*sliceHeader)(ptr)
			data, n = h.data, h.len
			if old != nil {
				oh := (*sliceHeader)(old)
				if oh.data == h.data && oh.len == h.len {
					return
				}
				odata, on = oh.data, oh.len
			}
		}
		for i := range n {
			var oe unsafe.Pointer
			if i < on {
				oe = unsafe.Add(odata, uintptr(i)*p.size)
			}
			w.push(seg{idx: i})
			w.walk(p.elem, unsafe.Add(data, uintptr(i)*p.size), oe, depth+1)
			w.pop()
		}
	case planStringMap:
		if old != nil && *(*unsafe.Pointer)(old) == *(*unsafe.Pointer)(ptr) {
			return
		}
		for k, v := range *(*map[string]string)(ptr) {
			if rule := textRule(k); rule != "" {
				w.push(seg{name: "<key>", idx: -1})
				w.fail(rule, "")
				w.pop()
				continue
			}
			if rule := textRule(v); rule != "" {
				w.push(seg{name: k, idx: -1})
				w.fail(rule, "")
				w.pop()
			}
		}
	case planMap:
		v := reflect.NewAt(p.typ, ptr).Elem()
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
			w.walk(p.elem, addressOf(iter.Value()), nil, depth+1)
			w.pop()
		}
	}
}
