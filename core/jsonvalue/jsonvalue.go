// Package jsonvalue reads and writes JSON as plain Go values with integers
// and floats kept apart. Decode turns a number written without '.', 'e' or
// 'E' that fits int64 into an int64 and any other number into a float64;
// Marshal writes every float64 with a decimal point ("2.0"). So a value
// written and read back keeps its type, which experiment search needs: its
// metadata and filters compare ints and floats exactly, as Chroma does, and
// Python reads back a float where a float was stored.
//
// Objects are map[string]any and arrays []any; strings, bools and nil are
// themselves. The package knows nothing of what the values mean.
package jsonvalue

import (
	"bytes"
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"

	"github.com/structure-net/structure-net-data/core/errs"
)

// Decode decodes one JSON value (see the package comment for the types).
// Invalid JSON, trailing data and numbers out of float64's range are
// ErrInvalid errors naming the offset.
func Decode(b []byte) (any, error) {
	return parseDocument(b)
}

// Marshal encodes v compactly, object keys sorted and float64 values with a
// decimal point. Values other than the Decode types are encoded by
// encoding/json (their MarshalJSON methods included). NaN and infinities are
// ErrInvalid errors.
func Marshal(v any) ([]byte, error) {
	return appendValue(nil, v)
}

func appendValue(buf []byte, v any) ([]byte, error) {
	switch t := v.(type) {
	case nil:
		return append(buf, "null"...), nil
	case string:
		return appendString(buf, t), nil
	case bool:
		return strconv.AppendBool(buf, t), nil
	case int64:
		return strconv.AppendInt(buf, t, 10), nil
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return nil, errs.Invalidf("cannot encode %v as JSON", t)
		}
		return AppendFloat(buf, t), nil
	case map[string]any:
		buf = append(buf, '{')
		for i, k := range slices.Sorted(maps.Keys(t)) {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendString(buf, k)
			buf = append(buf, ':')
			var err error
			if buf, err = appendValue(buf, t[k]); err != nil {
				return nil, err
			}
		}
		return append(buf, '}'), nil
	case []any:
		buf = append(buf, '[')
		for i, e := range t {
			if i > 0 {
				buf = append(buf, ',')
			}
			var err error
			if buf, err = appendValue(buf, e); err != nil {
				return nil, err
			}
		}
		return append(buf, ']'), nil
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return nil, errs.Invalidf("cannot encode %T as JSON: %w", t, err)
		}
		return append(buf, b...), nil
	}
}

// appendString writes s as a JSON string, escaped as encoding/json does.
func appendString(buf []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always encodes
	return append(buf, b...)
}

// AppendFloat writes f so that a JSON reader sees a float, not an int: 2.0
// becomes "2.0", not "2". f must be finite.
func AppendFloat(dst []byte, f float64) []byte {
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'g', -1, 64)
	if !bytes.ContainsAny(dst[start:], ".eEnN") {
		dst = append(dst, '.', '0')
	}
	return dst
}

// TypeName names a decoded value's type the way Python users know it, for
// error messages: string, int, float, bool, null, list, object.
func TypeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "int"
	case float64:
		return "float"
	case bool:
		return "bool"
	case nil:
		return "null"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	return "unknown"
}
