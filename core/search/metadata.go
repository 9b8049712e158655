package search

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/jsonvalue"
)

// Metadata maps keys to values of exactly these types: string, int64, float64
// and bool. NormalizeMetadata converts other Go numeric types and rejects the rest.
type Metadata map[string]any

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

// flatten adds v under key to dst the way experiment metadata is stored:
// scalars as themselves, nested objects as dotted keys ("config.lr"), lists as
// their JSON text, nulls left out.
func flatten(dst Metadata, key string, v any) {
	switch t := v.(type) {
	case nil:
	case map[string]any:
		for k, e := range t {
			if key == "" {
				flatten(dst, k, e)
			} else {
				flatten(dst, key+"."+k, e)
			}
		}
	case []any:
		dst[key] = pyJSON(t)
	default:
		if s, ok := scalar(t); ok {
			if f, isF := s.(float64); isF && (math.IsNaN(f) || math.IsInf(f, 0)) {
				return
			}
			dst[key] = s
		}
	}
}

// pyJSON renders v as JSON with Python's json.dumps spacing (", " and ": "),
// so a list architecture reads "[784, 256, 10]" exactly as the original stored it.
func pyJSON(v any) string {
	var b strings.Builder
	writePyJSON(&b, v)
	return b.String()
}

func writePyJSON(b *strings.Builder, v any) {
	switch t := v.(type) {
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
		b.WriteByte('{')
		for i, k := range slices.Sorted(maps.Keys(t)) {
			if i > 0 {
				b.WriteString(", ")
			}
			writePyJSON(b, k)
			b.WriteString(": ")
			writePyJSON(b, t[k])
		}
		b.WriteByte('}')
	default:
		if s, ok := scalar(t); ok {
			t = s
		}
		text, err := jsonvalue.Marshal(t)
		if err != nil {
			text = []byte(fmt.Sprint(t)) // NaN and the like, in error messages only
		}
		b.Write(text)
	}
}

// MarshalJSON writes keys sorted and floats with a decimal point, so Python
// reads back a float where a float was stored.
func (m Metadata) MarshalJSON() ([]byte, error) {
	if m == nil {
		return []byte("null"), nil
	}
	return jsonvalue.Marshal(map[string]any(m))
}

// typeName names a value's metadata type for error messages.
func typeName(v any) string { return jsonvalue.TypeName(v) }
