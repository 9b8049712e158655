package search_test

import (
	"errors"
	"testing"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/search"
)

func TestWhereParseErrors(t *testing.T) {
	cases := []struct{ where, msg string }{
		{`{"x": {"$foo": 1}}`, `unknown operator "$foo"`},
		{`{"$xor": [{"x": 1}]}`, `unknown top-level operator "$xor"`},
		{`{"x": {"$gt": "a"}}`, "needs an int or float"},
		{`{"x": {"$gt": true}}`, "needs an int or float"},
		{`{"x": {"$in": []}}`, "non-empty list"},
		{`{"x": {"$in": 3}}`, "non-empty list"},
		{`{"x": {"$in": [[1]]}}`, "operand"},
		{`{"x": {"$eq": null}}`, "operand"},
		{`{"x": {"$eq": {"a": 1}}}`, "operand"},
		{`{"$and": []}`, "non-empty list"},
		{`{"$and": {"x": 1}}`, "non-empty list"},
		{`{"$or": [1, 2]}`, "must be an object"},
		{`{"x": {}}`, "empty operator object"},
		{`{"x": {"$and": [{"y": 1}]}}`, "top level"},
		{`[1]`, "expected an object"},
	}
	for _, c := range cases {
		t.Run(c.where, func(t *testing.T) {
			_, err := search.ParseWhere(decode(t, c.where))
			wantKind(t, err, errs.ErrInvalid, c.msg)
		})
	}
	for _, ok := range []string{`{}`, `null`, `{"a": 1, "b": {"$gte": 2.5}}`, `{"$and": [{"a": 1}]}`, `{"a": {"$gt": 1, "$lt": 5}}`} {
		if _, err := search.ParseWhere(decode(t, ok)); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, c := range []string{`{"$contains": ""}`, `{"$regex": "a"}`, `{"$contains": 1}`} {
		if _, err := search.ParseWhereDocument(decode(t, c)); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("where_document %s: want ErrInvalid, got %v", c, err)
		}
	}
}

func TestWhereMatchSemantics(t *testing.T) {
	meta := search.Metadata{"i": int64(1), "f": 1.5, "s": "a", "b": true, "big": int64(1<<62 + 1)}
	cases := []struct {
		where string
		want  bool
	}{
		{`{"i": 1}`, true},
		{`{"i": 1.0}`, true},
		{`{"i": {"$eq": 1.5}}`, false}, // Chroma's server says true (it truncates 1.5); we compare exactly
		{`{"i": {"$gte": 1.5}}`, false},
		{`{"i": {"$lt": 1.5}}`, true},
		{`{"f": {"$gt": 1}}`, true},
		{`{"f": {"$eq": 1.5}}`, true},
		{`{"i": true}`, false},
		{`{"b": 1}`, false},
		{`{"b": true}`, true},
		{`{"s": {"$gt": 0}}`, false},
		{`{"missing": {"$ne": 1}}`, true},
		{`{"missing": {"$nin": [1]}}`, true},
		{`{"missing": 1}`, false},
		{`{"s": {"$in": ["x", 1, "a"]}}`, true},
		{`{"big": {"$gt": 4611686018427387904}}`, true},
		{`{"big": {"$gt": 4611686018427387904.0}}`, true},
		{`{"s": "a", "i": {"$gte": 2}}`, false},
		{`{"$or": [{"s": "b"}, {"i": {"$lte": 1}}]}`, true},
	}
	for _, c := range cases {
		f, err := search.ParseWhere(decode(t, c.where))
		if err != nil {
			t.Fatalf("%s: %v", c.where, err)
		}
		if got := f.Match(meta); got != c.want {
			t.Errorf("%s: got %v, want %v", c.where, got, c.want)
		}
	}
}
