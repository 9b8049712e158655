package wire

import (
	"math"
	"slices"
	"strings"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/jsonvalue"
	"github.com/structure-net/structure-net-data/core/search"
)

// request is a decoded JSON request object; what names the call in errors.
type request struct {
	what   string
	fields map[string]any
}

// parseRequest decodes a JSON object ("" or "null" is an empty request) and
// rejects keys outside allowed, so a misspelled option is an error.
func parseRequest(what string, b []byte, allowed ...string) (request, error) {
	r := request{what: what, fields: map[string]any{}}
	s := strings.TrimSpace(string(b))
	if s == "" || s == "null" {
		return r, nil
	}
	v, err := jsonvalue.Decode([]byte(s))
	if err != nil {
		return r, errs.Invalidf("%s: %w", what, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return r, errs.Invalidf("%s: expected a JSON object, got %s", what, jsonvalue.TypeName(v))
	}
	for k := range m {
		if !slices.Contains(allowed, k) {
			return r, errs.Invalidf("%s: unknown field %q (expected one of %s)", what, k, strings.Join(slices.Sorted(slices.Values(allowed)), ", "))
		}
	}
	r.fields = m
	return r, nil
}

// has reports whether a field is present and not null.
func (r request) has(key string) bool { return r.fields[key] != nil }

// object reads an object field; absent or null gives an empty object.
func (r request) object(key string) (map[string]any, error) {
	switch t := r.fields[key].(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return t, nil
	default:
		return nil, errs.Invalidf("%s: %s must be a dict, got %s", r.what, key, jsonvalue.TypeName(t))
	}
}

// where parses the "where" field.
func (r request) where() (*search.Filter, error) { return search.ParseWhere(r.fields["where"]) }

// whereDocument parses the "where_document" field.
func (r request) whereDocument() (*search.DocFilter, error) {
	return search.ParseWhereDocument(r.fields["where_document"])
}

// integer reads an integer field; absent or null gives def.
func (r request) integer(key string, def int) (int, error) {
	switch t := r.fields[key].(type) {
	case nil:
		return def, nil
	case int64:
		return int(t), nil
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return int(t), nil
		}
	}
	text, _ := jsonvalue.Marshal(r.fields[key])
	return 0, errs.Invalidf("%s: %s must be an integer, got %s %s", r.what, key, jsonvalue.TypeName(r.fields[key]), text)
}

// number reads a number field; ok is false when absent or null.
func (r request) number(key string) (f float64, ok bool, err error) {
	switch t := r.fields[key].(type) {
	case nil:
		return 0, false, nil
	case int64:
		return float64(t), true, nil
	case float64:
		return t, true, nil
	}
	return 0, false, errs.Invalidf("%s: %s must be a number, got %s", r.what, key, jsonvalue.TypeName(r.fields[key]))
}

// str reads a string field; ok is false when absent or null.
func (r request) str(key string) (s string, ok bool, err error) {
	switch t := r.fields[key].(type) {
	case nil:
		return "", false, nil
	case string:
		return t, true, nil
	}
	return "", false, errs.Invalidf("%s: %s must be a string, got %s", r.what, key, jsonvalue.TypeName(r.fields[key]))
}

// strings reads a list of strings; ok is false when absent or null.
func (r request) strings(key string) (list []string, ok bool, err error) {
	v := r.fields[key]
	if v == nil {
		return nil, false, nil
	}
	arr, isArr := v.([]any)
	if !isArr {
		return nil, false, errs.Invalidf("%s: %s must be a list of strings, got %s", r.what, key, jsonvalue.TypeName(v))
	}
	list = make([]string, len(arr))
	for i, e := range arr {
		s, isS := e.(string)
		if !isS {
			return nil, false, errs.Invalidf("%s: %s[%d] must be a string, got %s", r.what, key, i, jsonvalue.TypeName(e))
		}
		list[i] = s
	}
	return list, true, nil
}

var includeNames = map[string]search.Include{
	"metadatas":  search.IncludeMetadatas,
	"documents":  search.IncludeDocuments,
	"embeddings": search.IncludeEmbeddings,
	"distances":  0, // always returned by query, never by get
}

// include reads the "include" list; absent or null gives def.
func (r request) include(def search.Include) (search.Include, error) {
	list, ok, err := r.strings("include")
	if err != nil || !ok {
		return def, err
	}
	var inc search.Include
	for _, s := range list {
		flag, known := includeNames[s]
		if !known {
			return 0, errs.Invalidf("%s: unknown include %q (expected metadatas, documents, embeddings, distances)", r.what, s)
		}
		inc |= flag
	}
	return inc, nil
}
