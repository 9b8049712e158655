package wire

import (
	"math"
	"slices"
	"strings"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/jsonvalue"
	"github.com/structure-net/structure-net-data/core/search"
)

// request is a decoded JSON request object. Its readers keep the first
// problem in err and return zero values after it, so a call reads every
// field and checks err once; the error is the first bad field's.
type request struct {
	what   string
	fields map[string]any
	err    error
}

// parseRequest decodes a JSON object ("" or "null" is an empty request) and
// rejects keys outside allowed, so a misspelled option is an error.
func parseRequest(what string, b []byte, allowed ...string) *request {
	r := &request{what: what, fields: map[string]any{}}
	s := strings.TrimSpace(string(b))
	if s == "" || s == "null" {
		return r
	}
	v, err := decodeValue([]byte(s))
	if err != nil {
		r.err = errs.Invalidf("%s: %w", what, err)
		return r
	}
	m, ok := v.(map[string]any)
	if !ok {
		r.err = errs.Invalidf("%s: expected a JSON object, got %s", what, jsonvalue.TypeName(v))
		return r
	}
	for k := range m {
		if !slices.Contains(allowed, k) {
			r.err = errs.Invalidf("%s: unknown field %q (expected one of %s)", what, k, strings.Join(slices.Sorted(slices.Values(allowed)), ", "))
			return r
		}
	}
	r.fields = m
	return r
}

// field returns a field's value, nil when absent, null, or after an error.
func (r *request) field(key string) any {
	if r.err != nil {
		return nil
	}
	return r.fields[key]
}

// wrong records that key has the wrong type.
func (r *request) wrong(key, want string) {
	r.err = errs.Invalidf("%s: %s must be %s, got %s", r.what, key, want, jsonvalue.TypeName(r.fields[key]))
}

// check records err when it is the first problem.
func (r *request) check(err error) {
	if r.err == nil {
		r.err = err
	}
}

// object reads an object field; absent or null gives an empty object.
func (r *request) object(key string) map[string]any {
	switch t := r.field(key).(type) {
	case nil:
		return map[string]any{}
	case map[string]any:
		return t
	}
	r.wrong(key, "a dict")
	return nil
}

// where parses the "where" field.
func (r *request) where() *search.Filter {
	f, err := search.ParseWhere(r.field("where"))
	r.check(err)
	return f
}

// whereDocument parses the "where_document" field.
func (r *request) whereDocument() *search.DocFilter {
	d, err := search.ParseWhereDocument(r.field("where_document"))
	r.check(err)
	return d
}

// integer reads an integer field; absent or null gives def.
func (r *request) integer(key string, def int) int {
	switch t := r.field(key).(type) {
	case nil:
		return def
	case int64:
		return int(t)
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return int(t)
		}
	}
	v := r.fields[key]
	text, _ := jsonvalue.Marshal(v)
	r.err = errs.Invalidf("%s: %s must be an integer, got %s %s", r.what, key, jsonvalue.TypeName(v), text)
	return 0
}

// number reads a number field; ok is false when absent or null.
func (r *request) number(key string) (f float64, ok bool) {
	switch t := r.field(key).(type) {
	case nil:
		return 0, false
	case int64:
		return float64(t), true
	case float64:
		return t, true
	}
	r.wrong(key, "a number")
	return 0, false
}

// str reads a string field; ok is false when absent or null.
func (r *request) str(key string) (s string, ok bool) {
	switch t := r.field(key).(type) {
	case nil:
		return "", false
	case string:
		return t, true
	}
	r.wrong(key, "a string")
	return "", false
}

// strings reads a list of strings; ok is false when absent or null.
func (r *request) strings(key string) (list []string, ok bool) {
	v := r.field(key)
	if v == nil {
		return nil, false
	}
	arr, isArr := v.([]any)
	if !isArr {
		r.wrong(key, "a list of strings")
		return nil, false
	}
	list = make([]string, len(arr))
	for i, e := range arr {
		s, isS := e.(string)
		if !isS {
			r.err = errs.Invalidf("%s: %s[%d] must be a string, got %s", r.what, key, i, jsonvalue.TypeName(e))
			return nil, false
		}
		list[i] = s
	}
	return list, true
}

var includeNames = map[string]search.Include{
	"metadatas":  search.IncludeMetadatas,
	"documents":  search.IncludeDocuments,
	"embeddings": search.IncludeEmbeddings,
	"distances":  0, // always returned by query, never by get
}

// include reads the "include" list; absent or null gives def.
func (r *request) include(def search.Include) search.Include {
	list, ok := r.strings("include")
	if !ok {
		return def
	}
	var inc search.Include
	for _, s := range list {
		flag, known := includeNames[s]
		if !known {
			r.err = errs.Invalidf("%s: unknown include %q (expected metadatas, documents, embeddings, distances)", r.what, s)
			return def
		}
		inc |= flag
	}
	return inc
}
