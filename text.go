package relman

import (
	"fmt"
	"math"
	"reflect"
	"strings"
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
	var fs []FieldError
	walkText(reflect.ValueOf(v), prefix, &fs, 0)
	if len(fs) > 0 {
		return &ValidationError{Fields: fs}
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

var timeType = reflect.TypeFor[time.Time]()

func walkText(v reflect.Value, path string, fs *[]FieldError, depth int) {
	if depth > 16 || len(*fs) >= 32 {
		return
	}
	join := func(name string) string {
		if path == "" {
			return name
		}
		return path + "." + name
	}
	switch v.Kind() {
	case reflect.String:
		if rule := textRule(v.String()); rule != "" {
			*fs = append(*fs, FieldError{Field: path, Rule: rule})
		}
	case reflect.Float32, reflect.Float64:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			*fs = append(*fs, FieldError{Field: path, Rule: "finite"})
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkText(v.Elem(), path, fs, depth+1)
		}
	case reflect.Struct:
		if v.Type() == timeType {
			if t := v.Interface().(time.Time); !t.IsZero() && (t.UTC().Year() < 1 || t.UTC().Year() > 9999) {
				*fs = append(*fs, FieldError{Field: path, Rule: "year", Param: "1..9999"})
			}
			return
		}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := jsonFieldName(f)
			if name == "" {
				continue
			}
			walkText(v.Field(i), join(name), fs, depth+1)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walkText(v.Index(i), fmt.Sprintf("%s[%d]", path, i), fs, depth+1)
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			k := iter.Key()
			if k.Kind() == reflect.String {
				if rule := textRule(k.String()); rule != "" {
					*fs = append(*fs, FieldError{Field: join("<key>"), Rule: rule})
					continue
				}
				walkText(iter.Value(), join(k.String()), fs, depth+1)
			}
		}
	}
}
