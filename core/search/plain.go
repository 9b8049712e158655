package search

import (
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/structure-net/structure-net-data/core/errs"
)

// The embedders, the metadata and the filter grammar read experiments in the
// JSON data model: map[string]any, []any, string, bool, nil, int64 and
// float64 (ints and floats kept apart, as core/jsonvalue decodes them). A Go
// caller may pass ordinary Go values instead ([]int layer widths, int epochs,
// map[string]float64 metrics); plain converts them at the API's edge.

// plain converts v to the JSON data model. Values already in it are returned
// as they are, without a copy; other ints, floats, slices, arrays, maps with
// string keys, pointers and json.Number are converted; anything else is an
// ErrInvalid error naming where it was found.
func plain(v any) (any, error) {
	out, _, err := plainValue(v)
	if err != nil {
		return nil, err.invalid("")
	}
	return out, nil
}

// plainMap is plain for an object; nil stays nil.
func plainMap(m map[string]any, what string) (map[string]any, error) {
	if m == nil {
		return nil, nil
	}
	out, _, err := plainValue(m)
	if err != nil {
		return nil, err.invalid(what)
	}
	return out.(map[string]any), nil
}

// unusable is a value plain cannot convert, with the keys and indexes that
// lead to it, innermost first: the path is only built when there is an error.
type unusable struct {
	value any
	path  []string
}

func (u *unusable) at(step string) *unusable {
	u.path = append(u.path, step)
	return u
}

func (u *unusable) invalid(root string) error {
	var b strings.Builder
	b.WriteString(root)
	for _, step := range slices.Backward(u.path) {
		if b.Len() > 0 && !strings.HasPrefix(step, "[") {
			b.WriteByte('.')
		}
		b.WriteString(step)
	}
	where := b.String()
	if where == "" {
		where = "value"
	}
	if n, ok := u.value.(json.Number); ok {
		return errs.Invalidf("%s: %q is not a number", where, string(n))
	}
	return errs.Invalidf("%s: a %T cannot be used; use maps, slices, strings, numbers and bools", where, u.value)
}

// plainValue returns the converted value and whether it differs from v.
func plainValue(v any) (any, bool, *unusable) {
	switch t := v.(type) {
	case nil, string, bool, int64, float64:
		return v, false, nil
	case map[string]any:
		var out map[string]any
		for k, e := range t {
			p, changed, err := plainValue(e)
			if err != nil {
				return nil, false, err.at(k)
			}
			if changed && out == nil {
				out = make(map[string]any, len(t))
				for k2, e2 := range t {
					out[k2] = e2
				}
			}
			if out != nil {
				out[k] = p
			}
		}
		if out == nil {
			return t, false, nil
		}
		return out, true, nil
	case []any:
		var out []any
		for i, e := range t {
			p, changed, err := plainValue(e)
			if err != nil {
				return nil, false, err.at(index(i))
			}
			if changed && out == nil {
				out = append(make([]any, 0, len(t)), t[:i]...)
			}
			if out != nil {
				out = append(out, p)
			}
		}
		if out == nil {
			return t, false, nil
		}
		return out, true, nil
	case json.Number:
		if n, err := t.Int64(); err == nil && !strings.ContainsAny(string(t), ".eE") {
			return n, true, nil
		}
		if f, err := t.Float64(); err == nil {
			return f, true, nil
		}
		return nil, false, &unusable{value: t}
	}
	if s, ok := scalar(v); ok {
		return s, true, nil
	}
	return plainReflect(v)
}

// plainReflect converts the Go kinds the type switch does not name.
func plainReflect(v any) (any, bool, *unusable) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return nil, true, nil
		}
		out := make([]any, rv.Len())
		for i := range out {
			p, _, err := plainValue(rv.Index(i).Interface())
			if err != nil {
				return nil, false, err.at(index(i))
			}
			out[i] = p
		}
		return out, true, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		if rv.IsNil() {
			return nil, true, nil
		}
		out := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			k := it.Key().String()
			p, _, err := plainValue(it.Value().Interface())
			if err != nil {
				return nil, false, err.at(k)
			}
			out[k] = p
		}
		return out, true, nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, true, nil
		}
		p, _, err := plainValue(rv.Elem().Interface())
		return p, true, err
	case reflect.String:
		return rv.String(), true, nil
	case reflect.Bool:
		return rv.Bool(), true, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), true, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if u := rv.Uint(); u <= 1<<63-1 {
			return int64(u), true, nil
		}
	case reflect.Float32, reflect.Float64:
		return rv.Float(), true, nil
	}
	return nil, false, &unusable{value: v}
}

func index(i int) string { return "[" + strconv.Itoa(i) + "]" }
