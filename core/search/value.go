package search

import (
	"bytes"
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/structure-net/structure-net-data/core/errs"
)

// Metadata maps keys to values of exactly these types: string, int64, float64
// and bool. NormalizeMetadata converts other Go numeric types and rejects the rest.
type Metadata map[string]any

// DecodeJSON decodes one JSON value keeping integers and floats apart: a number
// written without '.', 'e' or 'E' that fits int64 becomes int64, any other
// number float64. Objects become map[string]any, arrays []any.
func DecodeJSON(data []byte) (any, error) {
	return parseDocument(data)
}

// scalar normalizes a Go value to one of the metadata types; ok is false for
// anything else (nil, maps, slices, structs).
func scalar(v any) (any, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case bool:
		return t, true
	case int64:
		return t, true
	case int:
		return int64(t), true
	case int32:
		return int64(t), true
	case int16:
		return int64(t), true
	case int8:
		return int64(t), true
	case uint8:
		return int64(t), true
	case uint16:
		return int64(t), true
	case uint32:
		return int64(t), true
	case uint64:
		if t > math.MaxInt64 {
			return nil, false
		}
		return int64(t), true
	case float64:
		return t, true
	case float32:
		return float64(t), true
	}
	return nil, false
}

// NormalizeMetadata checks keys and values and returns a copy holding only
// string, int64, float64 and bool values. nil values are dropped (Chroma treats
// a null value as "no such key"); NaN and ±Inf are rejected, never stored.
func NormalizeMetadata(m map[string]any) (Metadata, error) {
	if len(m) == 0 {
		return nil, nil
	}
	if canonical(m) {
		return Metadata(m), nil
	}
	out := make(Metadata, len(m))
	for k, v := range m {
		if err := checkMetadataKey(k); err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		s, ok := scalar(v)
		if !ok {
			return nil, errs.Invalidf("metadata %q: a %T cannot be stored; values must be strings, ints, floats or bools (flatten dicts, JSON-encode lists)", k, v)
		}
		if f, isF := s.(float64); isF && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return nil, errs.Invalidf("metadata %q is %v; NaN and infinity cannot be stored (use None to leave the key out)", k, f)
		}
		if str, isS := s.(string); isS && !utf8.ValidString(str) {
			return nil, errs.Invalidf("metadata %q is not valid UTF-8", k)
		}
		out[k] = s
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// canonical reports whether m already holds only valid keys and finite
// string/int64/float64/bool values, so it can be used without a copy.
func canonical(m map[string]any) bool {
	for k, v := range m {
		if checkMetadataKey(k) != nil {
			return false
		}
		switch t := v.(type) {
		case string:
			if !utf8.ValidString(t) {
				return false
			}
		case int64, bool:
		case float64:
			if math.IsNaN(t) || math.IsInf(t, 0) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func checkMetadataKey(k string) error {
	switch {
	case k == "":
		return errs.Invalidf("metadata keys must not be empty")
	case strings.HasPrefix(k, "#") || strings.HasPrefix(k, "chroma:"):
		return errs.Invalidf("metadata key %q is reserved by Chroma (keys must not start with '#' or 'chroma:')", k)
	case strings.HasPrefix(k, "$"):
		return errs.Invalidf("metadata key %q must not start with '$' (operators do)", k)
	case !utf8.ValidString(k):
		return errs.Invalidf("metadata key %q is not valid UTF-8", k)
	}
	return nil
}

// Flatten adds v under key to dst the way experiment metadata is stored:
// scalars as themselves, nested objects as dotted keys ("config.lr"), lists as
// their JSON text, nulls left out.
func Flatten(dst Metadata, key string, v any) {
	switch t := v.(type) {
	case nil:
	case map[string]any:
		for k, e := range t {
			if key == "" {
				Flatten(dst, k, e)
			} else {
				Flatten(dst, key+"."+k, e)
			}
		}
	case []any:
		dst[key] = PyJSON(t)
	default:
		if s, ok := scalar(t); ok {
			if f, isF := s.(float64); isF && (math.IsNaN(f) || math.IsInf(f, 0)) {
				return
			}
			dst[key] = s
		}
	}
}

// PyJSON renders v as JSON with Python's json.dumps spacing (", " and ": "),
// so a list architecture reads "[784, 256, 10]" exactly as the original stored it.
func PyJSON(v any) string {
	var b strings.Builder
	writePyJSON(&b, v)
	return b.String()
}

func writePyJSON(b *strings.Builder, v any) {
	switch t := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(t))
	case string:
		q, _ := json.Marshal(t)
		b.Write(q)
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			writePyJSON(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			q, _ := json.Marshal(k)
			b.Write(q)
			b.WriteString(": ")
			writePyJSON(b, t[k])
		}
		b.WriteByte('}')
	default:
		if s, ok := scalar(t); ok {
			switch n := s.(type) {
			case int64:
				b.WriteString(strconv.FormatInt(n, 10))
			case float64:
				b.Write(appendFloat(nil, n))
			default:
				writePyJSON(b, n)
			}
			return
		}
		q, _ := json.Marshal(t)
		b.Write(q)
	}
}

// appendFloat writes f so that a JSON reader sees a float, not an int: 2.0
// becomes "2.0", not "2". NaN/Inf never reach here (NormalizeMetadata).
func appendFloat(dst []byte, f float64) []byte {
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'g', -1, 64)
	if !bytes.ContainsAny(dst[start:], ".eEnN") {
		dst = append(dst, '.', '0')
	}
	return dst
}

// MarshalJSON writes keys sorted and floats with a decimal point, so Python
// reads back a float where a float was stored.
func (m Metadata) MarshalJSON() ([]byte, error) {
	if m == nil {
		return []byte("null"), nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	buf := make([]byte, 0, 32*len(m)+2)
	buf = append(buf, '{')
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		kb, _ := json.Marshal(k)
		buf = append(buf, kb...)
		buf = append(buf, ':')
		var err error
		buf, err = appendValueJSON(buf, m[k])
		if err != nil {
			return nil, err
		}
	}
	return append(buf, '}'), nil
}

func appendValueJSON(buf []byte, v any) ([]byte, error) {
	switch t := v.(type) {
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return nil, errs.Invalidf("cannot encode %v as JSON", t)
		}
		return appendFloat(buf, t), nil
	case int64:
		return strconv.AppendInt(buf, t, 10), nil
	case bool:
		return strconv.AppendBool(buf, t), nil
	case string:
		b, _ := json.Marshal(t)
		return append(buf, b...), nil
	case nil:
		return append(buf, "null"...), nil
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return nil, errs.Invalidf("cannot encode %T as JSON: %v", t, err)
		}
		return append(buf, b...), nil
	}
}

// typeName names a value's metadata type for error messages.
func typeName(v any) string {
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
