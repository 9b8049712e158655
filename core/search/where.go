package search

import (
	"encoding/json"
	"math"
	"sort"
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

// ParseWhere parses a decoded where clause (see DecodeJSON). It accepts
// Chroma's grammar plus two unambiguous shorthands Chroma itself rejects: a
// dict with several keys, or a field with several operators, is an implicit
// $and; $and/$or with a single clause is that clause. nil or {} means no
// filter and returns nil.
func ParseWhere(raw any) (*Filter, error) {
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
	keys := sortedKeys(m)
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
	for _, o := range sortedKeys(ops) {
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
			return nil, errs.Invalidf("where: %s on %q needs an int or float operand, got %s %s", op, key, typeName(s), PyJSON(s))
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

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
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

// ParseWhereDocument parses a decoded where_document clause; nil or {} is no filter.
func ParseWhereDocument(raw any) (*DocFilter, error) {
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
	for _, k := range sortedKeys(m) {
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

// chromaJSON renders f for a Chroma server. Chroma compares a fractional float
// operand with int metadata after truncating the operand (1 $eq 1.5 is true
// there), so such comparisons are rewritten into equivalent clauses whose
// results do not depend on that: see the cases below. Lists of mixed types
// are split per type, since Chroma wants $in lists of one type.
func (f *Filter) chromaJSON() any {
	switch f.Op {
	case OpAnd, OpOr:
		subs := make([]any, len(f.Subs))
		for i, s := range f.Subs {
			subs[i] = s.chromaJSON()
		}
		return logical(f.Op, subs)
	case OpIn, OpNin:
		return chromaMembership(f.Op, f.Key, f.Values)
	}
	v := f.Values[0]
	fv, isFloat := v.(float64)
	if !isFloat || fv == math.Trunc(fv) {
		return leaf(f.Key, f.Op, v)
	}
	k := int64(math.Floor(fv)) // floor(v); c = k+1 = ceil(v)
	c := k + 1
	key := f.Key
	switch f.Op {
	case OpEq:
		return exactEqual(key, fv, k)
	case OpNe:
		// NOT exactEqual: any int equals k or c when Chroma's truncation made it equal.
		return logical(OpOr, []any{leaf(key, OpNe, fv), leaf(key, OpEq, k), leaf(key, OpEq, c)})
	case OpGt:
		// floats: x > v; ints: x >= c, whichever way Chroma rounds v.
		return logical(OpOr, []any{leaf(key, OpGt, fv), leaf(key, OpGte, c)})
	case OpGte:
		return logical(OpOr, []any{leaf(key, OpGt, fv), leaf(key, OpGte, c), exactEqual(key, fv, k)})
	case OpLt:
		return logical(OpOr, []any{leaf(key, OpLt, fv), leaf(key, OpLte, k)})
	case OpLte:
		return logical(OpOr, []any{leaf(key, OpLt, fv), leaf(key, OpLte, k), exactEqual(key, fv, k)})
	}
	return leaf(key, f.Op, v)
}

// exactEqual matches floats equal to the fractional v and no int: Chroma's
// $eq v also matches the int v rounds to (k or k+1), which the two $ne exclude.
func exactEqual(key string, v float64, k int64) any {
	return logical(OpAnd, []any{leaf(key, OpEq, v), leaf(key, OpNe, k), leaf(key, OpNe, k+1)})
}

func chromaMembership(op Op, key string, vals []any) any {
	var strs, bools, ints, bigs []any
	var fracs []float64
	for _, v := range vals {
		switch t := v.(type) {
		case string:
			strs = append(strs, t)
		case bool:
			bools = append(bools, t)
		case int64:
			ints = append(ints, t)
		case float64:
			switch {
			case t != math.Trunc(t):
				fracs = append(fracs, t)
			case math.Abs(t) < 1<<53:
				ints = append(ints, int64(t)) // an integral float equals the same int on both types
			default:
				bigs = append(bigs, t) // beyond int precision: a float list of its own
			}
		}
	}
	var parts []any
	for _, group := range [][]any{strs, bools, ints, bigs} {
		if len(group) > 0 {
			parts = append(parts, map[string]any{key: map[string]any{string(op): group}})
		}
	}
	for _, fv := range fracs {
		k := int64(math.Floor(fv))
		if op == OpIn {
			parts = append(parts, exactEqual(key, fv, k))
		} else {
			parts = append(parts, logical(OpOr, []any{leaf(key, OpNe, fv), leaf(key, OpEq, k), leaf(key, OpEq, k+1)}))
		}
	}
	if op == OpIn {
		return logical(OpOr, parts)
	}
	return logical(OpAnd, parts)
}

func leaf(key string, op Op, v any) any {
	return map[string]any{key: map[string]any{string(op): v}}
}

// logical builds $and/$or, unwrapping a single clause (Chroma needs two or more).
func logical(op Op, subs []any) any {
	if len(subs) == 1 {
		return subs[0]
	}
	return map[string]any{string(op): subs}
}

func (d *DocFilter) chromaJSON() any {
	switch d.Op {
	case "$and", "$or":
		subs := make([]any, len(d.Subs))
		for i, s := range d.Subs {
			subs[i] = s.chromaJSON()
		}
		return map[string]any{d.Op: subs}
	}
	return map[string]any{d.Op: d.Text}
}

// whereJSON encodes a chromaJSON tree, floats with a decimal point so that the
// server parses them as floats.
func whereJSON(v any) ([]byte, error) {
	return marshalTyped(v)
}

func marshalTyped(v any) ([]byte, error) {
	switch t := v.(type) {
	case map[string]any:
		buf := []byte{'{'}
		for i, k := range sortedKeys(t) {
			if i > 0 {
				buf = append(buf, ',')
			}
			kb, _ := json.Marshal(k)
			buf = append(buf, kb...)
			buf = append(buf, ':')
			inner, err := marshalTyped(t[k])
			if err != nil {
				return nil, err
			}
			buf = append(buf, inner...)
		}
		return append(buf, '}'), nil
	case []any:
		buf := []byte{'['}
		for i, e := range t {
			if i > 0 {
				buf = append(buf, ',')
			}
			inner, err := marshalTyped(e)
			if err != nil {
				return nil, err
			}
			buf = append(buf, inner...)
		}
		return append(buf, ']'), nil
	default:
		return appendValueJSON(nil, t)
	}
}
