package search

import (
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/structure-net/structure-net-data/core/errs"
)

// Op is a where operator.
type Op string

// The operators of Chroma's where grammar.
const (
	OpEq  Op = "$eq"
	OpNe  Op = "$ne"
	OpGt  Op = "$gt"
	OpGte Op = "$gte"
	OpLt  Op = "$lt"
	OpLte Op = "$lte"
	OpIn  Op = "$in"
	OpNin Op = "$nin"
	OpAnd Op = "$and"
	OpOr  Op = "$or"
)

// Filter is a parsed where clause. A leaf compares Key with Values (one value,
// or the list of $in/$nin); $and/$or hold Subs.
//
// Semantics (Chroma's, with exact numeric comparison): ints and floats compare
// as numbers, strings only with strings and bools only with bools; $gt/$gte/
// $lt/$lte match only numeric values; $ne and $nin are the negations of $eq and
// $in, so they also match records that lack the key.
type Filter struct {
	Op     Op
	Key    string
	Values []any
	Subs   []*Filter
}

// ParseWhere parses a where clause given as maps and lists, e.g.
//
//	ParseWhere(map[string]any{"dataset": "cifar10", "accuracy": map[string]any{"$gte": 0.9}})
//
// (Go values are converted as the package comment describes; an int operand
// is an int, a float a float). It accepts Chroma's grammar plus two
// unambiguous shorthands Chroma itself rejects: a dict with several keys, or a
// field with several operators, is an implicit $and; $and/$or with a single
// clause is that clause. nil or {} means no filter and returns nil.
func ParseWhere(raw any) (*Filter, error) {
	raw, err := plain(raw)
	if err != nil {
		return nil, errs.Invalidf("where: %w", err)
	}
	if raw == nil {
		return nil, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, errs.Invalidf("where: expected an object, got %s", typeName(raw))
	}
	if len(m) == 0 {
		return nil, nil
	}
	return parseWhereObject(m)
}

func parseWhereObject(m map[string]any) (*Filter, error) {
	if len(m) == 0 {
		return nil, errs.Invalidf("where: empty object inside a clause")
	}
	keys := slices.Sorted(maps.Keys(m))
	var subs []*Filter
	for _, k := range keys {
		v := m[k]
		var f *Filter
		var err error
		switch {
		case k == string(OpAnd) || k == string(OpOr):
			f, err = parseLogical(Op(k), v)
		case strings.HasPrefix(k, "$"):
			return nil, errs.Invalidf("where: unknown top-level operator %q (expected $and, $or or a metadata key)", k)
		default:
			f, err = parseField(k, v)
		}
		if err != nil {
			return nil, err
		}
		subs = append(subs, f)
	}
	return andOf(subs), nil
}

func andOf(subs []*Filter) *Filter {
	if len(subs) == 1 {
		return subs[0]
	}
	return &Filter{Op: OpAnd, Subs: subs}
}

func parseLogical(op Op, v any) (*Filter, error) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, errs.Invalidf("where: %s expects a non-empty list of clauses, got %s", op, typeName(v))
	}
	subs := make([]*Filter, 0, len(list))
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, errs.Invalidf("where: %s clause %d must be an object, got %s", op, i, typeName(e))
		}
		f, err := parseWhereObject(m)
		if err != nil {
			return nil, err
		}
		subs = append(subs, f)
	}
	if len(subs) == 1 {
		return subs[0], nil
	}
	return &Filter{Op: op, Subs: subs}, nil
}

func parseField(key string, v any) (*Filter, error) {
	ops, ok := v.(map[string]any)
	if !ok {
		return parseOperand(key, OpEq, v)
	}
	if len(ops) == 0 {
		return nil, errs.Invalidf("where: field %q has an empty operator object", key)
	}
	var subs []*Filter
	for _, o := range slices.Sorted(maps.Keys(ops)) {
		f, err := parseOperand(key, Op(o), ops[o])
		if err != nil {
			return nil, err
		}
		subs = append(subs, f)
	}
	return andOf(subs), nil
}

func parseOperand(key string, op Op, v any) (*Filter, error) {
	switch op {
	case OpEq, OpNe:
		s, err := whereScalar(key, op, v)
		if err != nil {
			return nil, err
		}
		return &Filter{Op: op, Key: key, Values: []any{s}}, nil
	case OpGt, OpGte, OpLt, OpLte:
		s, err := whereScalar(key, op, v)
		if err != nil {
			return nil, err
		}
		if !isNumber(s) {
			return nil, errs.Invalidf("where: %s on %q needs an int or float operand, got %s %s", op, key, typeName(s), pyJSON(s))
		}
		return &Filter{Op: op, Key: key, Values: []any{s}}, nil
	case OpIn, OpNin:
		list, ok := v.([]any)
		if !ok || len(list) == 0 {
			return nil, errs.Invalidf("where: %s on %q needs a non-empty list, got %s", op, key, typeName(v))
		}
		vals := make([]any, 0, len(list))
		for _, e := range list {
			s, err := whereScalar(key, op, e)
			if err != nil {
				return nil, err
			}
			vals = append(vals, s)
		}
		return &Filter{Op: op, Key: key, Values: vals}, nil
	case OpAnd, OpOr:
		return nil, errs.Invalidf("where: %s cannot be used inside field %q; put it at the top level", op, key)
	default:
		return nil, errs.Invalidf("where: unknown operator %q on %q (expected one of $eq $ne $gt $gte $lt $lte $in $nin)", string(op), key)
	}
}

func whereScalar(key string, op Op, v any) (any, error) {
	s, ok := scalar(v)
	if !ok {
		return nil, errs.Invalidf("where: %s on %q needs a string, int, float or bool operand, got %s", op, key, typeName(v))
	}
	if f, isF := s.(float64); isF && (math.IsNaN(f) || math.IsInf(f, 0)) {
		return nil, errs.Invalidf("where: %s on %q: NaN and infinity are not valid operands", op, key)
	}
	return s, nil
}

func isNumber(v any) bool {
	switch v.(type) {
	case int64, float64:
		return true
	}
	return false
}

// Match reports whether metadata m satisfies f (nil matches everything).
func (f *Filter) Match(m Metadata) bool {
	if f == nil {
		return true
	}
	switch f.Op {
	case OpAnd:
		for _, s := range f.Subs {
			if !s.Match(m) {
				return false
			}
		}
		return true
	case OpOr:
		for _, s := range f.Subs {
			if s.Match(m) {
				return true
			}
		}
		return false
	}
	v, present := m[f.Key]
	switch f.Op {
	case OpEq:
		return present && valuesEqual(v, f.Values[0])
	case OpNe:
		return !present || !valuesEqual(v, f.Values[0])
	case OpIn, OpNin:
		in := false
		if present {
			for _, w := range f.Values {
				if valuesEqual(v, w) {
					in = true
					break
				}
			}
		}
		return in == (f.Op == OpIn)
	default:
		if !present || !isNumber(v) {
			return false
		}
		return compareOK(f.Op, compareNumbers(v, f.Values[0]))
	}
}

func compareOK(op Op, c int) bool {
	switch op {
	case OpGt:
		return c > 0
	case OpGte:
		return c >= 0
	case OpLt:
		return c < 0
	case OpLte:
		return c <= 0
	}
	return false
}

// valuesEqual is $eq: numbers by value across int/float, otherwise same type and value.
func valuesEqual(a, b any) bool {
	if isNumber(a) && isNumber(b) {
		return compareNumbers(a, b) == 0
	}
	return a == b
}

// compareNumbers compares two int64/float64 values exactly (no rounding of
// large ints through float64).
func compareNumbers(a, b any) int {
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return cmp3(x, y)
		case float64:
			return cmpIntFloat(x, y)
		}
	case float64:
		switch y := b.(type) {
		case int64:
			return -cmpIntFloat(y, x)
		case float64:
			return cmp3(x, y)
		}
	}
	return 0
}

func cmp3[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpIntFloat compares an int64 with a finite float64 exactly.
func cmpIntFloat(i int64, f float64) int {
	if f >= 9.223372036854775807e18 {
		return -1
	}
	if f < -9.223372036854775808e18 {
		return 1
	}
	fl := math.Floor(f)
	fi := int64(fl)
	if i != fi {
		return cmp3(i, fi)
	}
	if f > fl {
		return -1
	}
	return 0
}

// DocFilter is a parsed where_document clause: $contains / $not_contains a
// substring (case-sensitive, as in Chroma), or $and / $or of clauses.
type DocFilter struct {
	Op   string
	Text string
	Subs []*DocFilter
}

// ParseWhereDocument parses a where_document clause given as maps and
// lists, e.g. map[string]any{"$contains": "resnet"}; nil or {} is no filter.
func ParseWhereDocument(raw any) (*DocFilter, error) {
	raw, err := plain(raw)
	if err != nil {
		return nil, errs.Invalidf("where_document: %w", err)
	}
	if raw == nil {
		return nil, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, errs.Invalidf("where_document: expected an object, got %s", typeName(raw))
	}
	if len(m) == 0 {
		return nil, nil
	}
	return parseDocObject(m)
}

func parseDocObject(m map[string]any) (*DocFilter, error) {
	var subs []*DocFilter
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		switch k {
		case "$contains", "$not_contains":
			s, ok := v.(string)
			if !ok || s == "" {
				return nil, errs.Invalidf("where_document: %s needs a non-empty string, got %s", k, typeName(v))
			}
			subs = append(subs, &DocFilter{Op: k, Text: s})
		case "$and", "$or":
			list, ok := v.([]any)
			if !ok || len(list) == 0 {
				return nil, errs.Invalidf("where_document: %s expects a non-empty list of clauses", k)
			}
			var inner []*DocFilter
			for i, e := range list {
				em, ok := e.(map[string]any)
				if !ok || len(em) == 0 {
					return nil, errs.Invalidf("where_document: %s clause %d must be a non-empty object", k, i)
				}
				d, err := parseDocObject(em)
				if err != nil {
					return nil, err
				}
				inner = append(inner, d)
			}
			if len(inner) == 1 {
				subs = append(subs, inner[0])
			} else {
				subs = append(subs, &DocFilter{Op: k, Subs: inner})
			}
		default:
			return nil, errs.Invalidf("where_document: unknown operator %q (expected $contains, $not_contains, $and or $or)", k)
		}
	}
	if len(subs) == 1 {
		return subs[0], nil
	}
	return &DocFilter{Op: "$and", Subs: subs}, nil
}

// Match reports whether document doc satisfies d (nil matches everything).
func (d *DocFilter) Match(doc string) bool {
	if d == nil {
		return true
	}
	switch d.Op {
	case "$contains":
		return strings.Contains(doc, d.Text)
	case "$not_contains":
		return !strings.Contains(doc, d.Text)
	case "$and":
		for _, s := range d.Subs {
			if !s.Match(doc) {
				return false
			}
		}
		return true
	case "$or":
		for _, s := range d.Subs {
			if s.Match(doc) {
				return true
			}
		}
		return false
	}
	return false
}
