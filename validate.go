package relman

import (
	"errors"
	"reflect"
	"strings"
	"sync"

	"github.com/go-playground/validator/v10"
)

// validate is the one validator shared by the package. Field names in its
// errors are JSON names.
var validate = sync.OnceValue(func() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(jsonFieldName)
	// id: letters, digits, '.', '_', '-', starting with a letter or digit.
	_ = v.RegisterValidation("id", func(fl validator.FieldLevel) bool {
		return validID(fl.Field().String())
	})
	// notblank: not only white space.
	_ = v.RegisterValidation("notblank", func(fl validator.FieldLevel) bool {
		return !blank(fl.Field().String())
	})
	return v
})

// jsonFieldName returns the JSON name of a struct field.
func jsonFieldName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	switch name {
	case "-":
		return ""
	case "":
		return f.Name
	}
	return name
}

func validID(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// validateStruct runs the shared validator on s and converts its errors to
// a *ValidationError.
func validateStruct(s any) error {
	if err := CheckInput("", s); err != nil {
		return err
	}
	err := validate().Struct(s)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return &ValidationError{Fields: []FieldError{{Field: "input", Rule: err.Error()}}}
	}
	ve := &ValidationError{Fields: make([]FieldError, 0, len(verrs))}
	for _, fe := range verrs {
		ns := fe.Namespace()
		if _, rest, ok := strings.Cut(ns, "."); ok {
			ns = rest // drop the top-level type name
		}
		ve.Fields = append(ve.Fields, FieldError{Field: ns, Rule: fe.Tag(), Param: fe.Param()})
	}
	return ve
}
