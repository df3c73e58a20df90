package main

import (
	"bytes"
	"encoding"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Durations in releasectl's JSON are Go duration strings ("4h0m0s"), not
// the nanosecond counts encoding/json writes for a time.Duration inside
// relman's types (task durations, rollout plans, metrics). withDurations
// rewrites a value into one that encodes the same but for that: maps,
// slices and ordered objects (struct fields in their order, with their
// json tags honoured), with each time.Duration a string.
func withDurations(v any) any { return convert(reflect.ValueOf(v)) }

var (
	durationType  = reflect.TypeFor[time.Duration]()
	marshalerType = reflect.TypeFor[json.Marshaler]()
	textType      = reflect.TypeFor[encoding.TextMarshaler]()
)

// object is a JSON object whose keys keep their order.
type object []field

type field struct {
	key string
	val any
}

// MarshalJSON writes the fields in order.
func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.key)
		b.Write(k)
		b.WriteByte(':')
		v, err := marshalNoEscape(f.val)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func convert(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	t := v.Type()
	if t == durationType {
		return time.Duration(v.Int()).String()
	}
	if t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface &&
		(t.Implements(marshalerType) || t.Implements(textType) || reflect.PointerTo(t).Implements(marshalerType)) {
		return v.Interface()
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		if t.Kind() == reflect.Pointer && (t.Implements(marshalerType) || t.Implements(textType)) {
			return v.Interface()
		}
		return convert(v.Elem())
	case reflect.Struct:
		var o object
		for _, sf := range reflect.VisibleFields(t) {
			if !sf.IsExported() || (sf.Anonymous && sf.Type.Kind() == reflect.Struct && sf.Tag.Get("json") == "") {
				continue
			}
			name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "-" && opts == "" {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			fv, err := v.FieldByIndexErr(sf.Index)
			if err != nil { // through a nil embedded pointer
				continue
			}
			if omitted(fv, opts) {
				continue
			}
			o = append(o, field{name, convert(fv)})
		}
		if o == nil {
			o = object{}
		}
		return o
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		m := make(map[string]any, v.Len())
		for it := v.MapRange(); it.Next(); {
			k, _ := json.Marshal(it.Key().Interface())
			key := string(k)
			if s, ok := strings.CutPrefix(key, `"`); ok {
				key = strings.TrimSuffix(s, `"`)
			}
			m[key] = convert(it.Value())
		}
		return m
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && v.IsNil() {
			return nil
		}
		if t.Elem().Kind() == reflect.Uint8 {
			return v.Interface()
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = convert(v.Index(i))
		}
		return out
	}
	return v.Interface()
}

// omitted applies omitempty and omitzero.
func omitted(v reflect.Value, opts string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		switch o {
		case "omitzero":
			if z, ok := v.Interface().(interface{ IsZero() bool }); ok {
				if z.IsZero() {
					return true
				}
			} else if v.IsZero() {
				return true
			}
		case "omitempty":
			switch v.Kind() {
			case reflect.Slice, reflect.Map, reflect.String, reflect.Array:
				if v.Len() == 0 {
					return true
				}
			case reflect.Bool:
				if !v.Bool() {
					return true
				}
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				if v.Int() == 0 {
					return true
				}
			case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
				if v.Uint() == 0 {
					return true
				}
			case reflect.Float32, reflect.Float64:
				if v.Float() == 0 {
					return true
				}
			case reflect.Pointer, reflect.Interface:
				if v.IsNil() {
					return true
				}
			}
		}
	}
	return false
}

// readDurations is withDurations' inverse for input: in data, a JSON
// document for a value of type t, each duration given as a string
// ("90m") becomes the nanosecond count encoding/json reads, so that
// what releasectl writes it also reads. Numbers stay accepted. data comes
// back unchanged when it holds no duration string (or does not parse:
// the strict decoder then reports where).
func readDurations(data []byte, t reflect.Type) []byte {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if dec.Decode(&doc) != nil {
		return data
	}
	changed := false
	doc = nanos(doc, t, &changed)
	if !changed {
		return data
	}
	out, err := marshalNoEscape(doc)
	if err != nil {
		return data
	}
	return out
}

func nanos(doc any, t reflect.Type, changed *bool) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType {
		if s, ok := doc.(string); ok {
			if d, err := time.ParseDuration(s); err == nil {
				*changed = true
				return json.Number(strconvItoa(int64(d)))
			}
		}
		return doc
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return doc
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := doc.(map[string]any)
		if !ok {
			return doc
		}
		for _, sf := range reflect.VisibleFields(t) {
			if !sf.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			for k, v := range m {
				if strings.EqualFold(k, name) {
					m[k] = nanos(v, sf.Type, changed)
				}
			}
		}
	case reflect.Slice, reflect.Array:
		if s, ok := doc.([]any); ok {
			for i := range s {
				s[i] = nanos(s[i], t.Elem(), changed)
			}
		}
	case reflect.Map:
		if m, ok := doc.(map[string]any); ok {
			for k, v := range m {
				m[k] = nanos(v, t.Elem(), changed)
			}
		}
	}
	return doc
}

func strconvItoa(n int64) string { return strconv.FormatInt(n, 10) }
