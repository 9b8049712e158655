package search

import (
	"math"
)

// The where clauses as a Chroma server reads them. They are sent as JSON
// written by core/jsonvalue, floats with a decimal point so that the server
// parses them as floats.

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
