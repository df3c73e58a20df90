package relman

import (
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"
)

// CheckText returns a *ValidationError naming every string in v (a
// struct, pointer, slice, map or string; map keys included) that is not
// valid UTF-8 or holds a NUL byte, by its JSON path under prefix, or nil.
// The Manager checks every input with it, and so do the stores on every
// write, so that no backend keeps what another would refuse.
func CheckText(prefix string, v any) error {
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
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkText(v.Elem(), path, fs, depth+1)
		}
	case reflect.Struct:
		if v.Type() == timeType {
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
