package timeseries

import (
	"slices"

	"github.com/structure-net/structure-net-data/core/errs"
)

// Selection picks rows of a history with Python's indexing rules. Kind is
// "all", "index" (Index, negative counts from the end), "slice" (Start, Stop,
// Step; nil means the default, as in slice(None)) or "list" (Indices, each
// possibly negative, in the order wanted, repeats allowed).
type Selection struct {
	Kind    string  `json:"kind"`
	Index   int64   `json:"index"`
	Start   *int64  `json:"start"`
	Stop    *int64  `json:"stop"`
	Step    *int64  `json:"step"`
	Indices []int64 `json:"indices"`
}

// All selects every row.
func All() Selection { return Selection{Kind: "all"} }

// Last selects the last n rows (fewer when the history is shorter).
func Last(n int64) Selection {
	start := -n
	return Selection{Kind: "slice", Start: &start}
}

// rowPlan is a resolved selection: either a regular run of Count rows from
// Start every Stride rows (read in one hyperslab; Reverse flips the result),
// or explicit Rows in the wanted order.
type rowPlan struct {
	Start, Count, Stride int64
	Reverse              bool
	Rows                 []int64
	explicit             bool
}

func (p rowPlan) len() int64 {
	if p.explicit {
		return int64(len(p.Rows))
	}
	return p.Count
}

func (s Selection) resolve(n int64) (rowPlan, error) {
	switch s.Kind {
	case "", "all":
		return rowPlan{Start: 0, Count: n, Stride: 1}, nil
	case "index":
		i, err := normIndex(s.Index, n)
		if err != nil {
			return rowPlan{}, err
		}
		return rowPlan{Start: i, Count: 1, Stride: 1}, nil
	case "slice":
		return resolveSlice(s.Start, s.Stop, s.Step, n)
	case "list":
		rows := make([]int64, len(s.Indices))
		for k, i := range s.Indices {
			r, err := normIndex(i, n)
			if err != nil {
				return rowPlan{}, err
			}
			rows[k] = r
		}
		return rowPlan{Rows: rows, explicit: true}, nil
	}
	return rowPlan{}, errs.Invalidf("timeseries: unknown selection kind %q (want all, index, slice or list)", s.Kind)
}

func normIndex(i, n int64) (int64, error) {
	r := i
	if r < 0 {
		r += n
	}
	if r < 0 || r >= n {
		return 0, errs.Invalidf("timeseries: epoch index %d is out of range for a history of %d epochs", i, n)
	}
	return r, nil
}

// resolveSlice follows Python's slice.indices.
func resolveSlice(start, stop, step *int64, n int64) (rowPlan, error) {
	st := int64(1)
	if step != nil {
		st = *step
	}
	if st == 0 {
		return rowPlan{}, errs.Invalidf("timeseries: slice step cannot be zero")
	}
	lower, upper := int64(0), n
	if st < 0 {
		lower, upper = -1, n-1
	}
	clamp := func(p *int64, def int64) int64 {
		if p == nil {
			return def
		}
		v := *p
		if v < 0 {
			v += n
			if v < lower {
				v = lower
			}
		} else if v > upper {
			v = upper
		}
		return v
	}
	var b, e int64
	if st > 0 {
		b, e = clamp(start, lower), clamp(stop, upper)
	} else {
		b, e = clamp(start, upper), clamp(stop, lower)
	}
	var count int64
	if st > 0 && e > b {
		count = (e - b + st - 1) / st
	} else if st < 0 && b > e {
		count = (b - e - st - 1) / -st
	}
	if count == 0 {
		return rowPlan{Start: 0, Count: 0, Stride: 1}, nil
	}
	if st > 0 {
		return rowPlan{Start: b, Count: count, Stride: st}, nil
	}
	// A negative step reads the same rows ascending, then reverses them.
	last := b + (count-1)*st
	return rowPlan{Start: last, Count: count, Stride: -st, Reverse: true}, nil
}

// sortedUnique returns the distinct rows ascending and, for each wanted
// position, its index in that list.
func sortedUnique(rows []int64) (uniq []int64, pos []int) {
	uniq = slices.Clone(rows)
	slices.Sort(uniq)
	uniq = slices.Compact(uniq)
	pos = make([]int, len(rows))
	for k, r := range rows {
		pos[k], _ = slices.BinarySearch(uniq, r)
	}
	return uniq, pos
}

// gather returns the rows of t (read as uniq) in the order pos asks for.
func gather(t *Table, pos []int) *Table {
	out := &Table{Rows: len(pos), Columns: make([]Column, len(t.Columns))}
	for i, c := range t.Columns {
		d := Column{Name: c.Name, Kind: c.Kind}
		switch c.Kind {
		case KindFloat64:
			d.F = pick(c.F, pos)
		case KindInt64:
			d.I = pick(c.I, pos)
		case KindBool:
			d.B = pick(c.B, pos)
		default:
			d.S = pick(c.S, pos)
		}
		if c.Valid != nil {
			d.Valid = pick(c.Valid, pos)
		}
		out.Columns[i] = d
	}
	return out
}

func pick[T any](v []T, pos []int) []T {
	out := make([]T, len(pos))
	for k, p := range pos {
		out[k] = v[p]
	}
	return out
}

// reverse flips t's rows in place.
func reverse(t *Table) {
	for i := range t.Columns {
		c := &t.Columns[i]
		slices.Reverse(c.F)
		slices.Reverse(c.I)
		slices.Reverse(c.B)
		slices.Reverse(c.S)
		slices.Reverse(c.Valid)
	}
}
