// Package config decodes configuration files strictly. JSON and YAML are both
// accepted (YAML is a superset of JSON); unknown fields, wrong types and
// malformed values are errors that name the path of the offending field, e.g.
// "modbusSlaves[0].slaveId: want a whole number, got string \"one\"". Every
// problem is reported at once, not just the first.
//
// The lifecycle every GridEdge config follows is: [Decode] (strict) → defaults
// → Validate (fast, reports every problem) → start.
package config

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gridedge/gridedge/shared/model"
)

// FieldError is one problem at one field path.
type FieldError struct {
	// Path is the dotted path of the field, with [i] for array elements;
	// empty for the document itself.
	Path string
	// Msg says what is wrong.
	Msg string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Errors collects FieldErrors; it is what Decode and validators return.
type Errors []*FieldError

// Add records a problem at path.
func (es *Errors) Add(path, format string, args ...any) {
	*es = append(*es, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Err returns es as an error, or nil when es is empty.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Join returns the path of a child field.
func Join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// Index returns the path of an array element.
func Index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// ReadFile reads and decodes the file name into v; errors are prefixed with the file name.
func ReadFile(name string, v any) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	if err := Decode(data, v); err != nil {
		return fmt.Errorf("config %s: %w", name, err)
	}
	return nil
}

// Decode parses data, JSON or YAML, into v (a pointer to a struct) strictly.
func Decode(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errors.New("config: decode target must be a non-nil pointer")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("config is empty")
	}
	var tree any
	if err := yaml.Unmarshal(data, &tree); err != nil {
		return fmt.Errorf("config is neither valid JSON nor valid YAML: %w", err)
	}
	tree = normalize(tree)
	var es Errors
	check(&es, "", tree, rv.Type().Elem())
	if len(es) > 0 {
		return es
	}
	raw, err := json.Marshal(tree)
	if err != nil {
		return fmt.Errorf("config: re-encode: %w", err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// DecodeValue converts an already parsed generic value (maps, slices,
// numbers, strings) into v strictly, with paths prefixed by path.
func DecodeValue(path string, tree any, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errors.New("config: decode target must be a non-nil pointer")
	}
	tree = normalize(tree)
	var es Errors
	check(&es, path, tree, rv.Type().Elem())
	if len(es) > 0 {
		return es
	}
	raw, err := json.Marshal(tree)
	if err != nil {
		return fmt.Errorf("config: re-encode: %w", err)
	}
	return json.Unmarshal(raw, v)
}

// normalize turns YAML's map[any]any into map[string]any, recursively.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalize(e)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []any:
		for i, e := range t {
			t[i] = normalize(e)
		}
		return t
	default:
		return v
	}
}

var (
	jsonUnmarshaler = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
	textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

func describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("string %q", t)
	case bool:
		return fmt.Sprintf("boolean %v", t)
	case int, int64, uint64, float64:
		return fmt.Sprintf("number %v", t)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// check compares the generic value v with the Go type t and records problems.
func check(es *Errors, path string, v any, t reflect.Type) {
	if v == nil {
		return // null leaves the zero value, as encoding/json does
	}
	if t.Kind() == reflect.Pointer {
		// a pointer decodes like what it points to
		check(es, path, v, t.Elem())
		return
	}
	pt := reflect.PointerTo(t)
	if t.Implements(jsonUnmarshaler) || pt.Implements(jsonUnmarshaler) {
		raw, err := json.Marshal(v)
		if err == nil {
			err = reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(raw)
		}
		if err != nil {
			es.Add(path, "%v", err)
		}
		return
	}
	if t.Implements(textUnmarshaler) || pt.Implements(textUnmarshaler) {
		s, ok := v.(string)
		if !ok {
			es.Add(path, "want a string, got %s", describe(v))
			return
		}
		if err := reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			es.Add(path, "%v", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Interface:
		// any value is fine
	case reflect.String:
		if _, ok := v.(string); !ok {
			es.Add(path, "want a string, got %s", describe(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			es.Add(path, "want true or false, got %s", describe(v))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		f, ok := model.Float(v)
		if !ok || f != math.Trunc(f) {
			es.Add(path, "want a whole number, got %s", describe(v))
			return
		}
		if isUint(t.Kind()) {
			if f < 0 || (t.Bits() < 64 && f > float64(uint64(1)<<t.Bits()-1)) {
				es.Add(path, "%v is out of range 0..%d", v, uint64(1)<<t.Bits()-1)
			}
		} else if t.Bits() < 64 {
			lim := float64(int64(1) << (t.Bits() - 1))
			if f < -lim || f > lim-1 {
				es.Add(path, "%v is out of range %d..%d", v, -int64(lim), int64(lim)-1)
			}
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := model.Float(v); !ok {
			es.Add(path, "want a number, got %s", describe(v))
		}
	case reflect.Slice, reflect.Array:
		arr, ok := v.([]any)
		if !ok {
			es.Add(path, "want an array, got %s", describe(v))
			return
		}
		if t.Kind() == reflect.Array && len(arr) != t.Len() {
			es.Add(path, "want an array of %d elements, got %d", t.Len(), len(arr))
			return
		}
		for i, e := range arr {
			check(es, Index(path, i), e, t.Elem())
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			es.Add(path, "want an object, got %s", describe(v))
			return
		}
		keys := slices.Sorted(maps.Keys(m))
		for _, k := range keys {
			check(es, Join(path, k), m[k], t.Elem())
		}
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			es.Add(path, "want an object, got %s", describe(v))
			return
		}
		fields := structFields(t)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			f, ok := fields[k]
			if !ok {
				es.Add(Join(path, k), "unknown field (known fields: %s)", knownList(fields))
				continue
			}
			check(es, Join(path, k), m[k], f.Type)
		}
	default:
		es.Add(path, "cannot decode into %s", t)
	}
}

func isUint(k reflect.Kind) bool {
	return k >= reflect.Uint && k <= reflect.Uint64
}

// structFields maps JSON names to fields, following embedded structs as encoding/json does.
func structFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, sf := range structFields(ft) {
					if _, dup := out[k]; !dup {
						out[k] = sf
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f
	}
	return out
}

func knownList(fields map[string]reflect.StructField) string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
