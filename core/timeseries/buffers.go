package timeseries

import (
	"slices"
	"unsafe"

	"github.com/structure-net/structure-net-data/core/errs"
)

// ColumnBuffers is one column as a foreign caller (the C API) lays it out:
// the values of every row in one buffer (ValueBytes per row, native byte
// order; bool bytes are 0 for false, anything else true), an optional
// validity mask of one byte per row (0 = missing), and, for string and JSON
// columns, one string per row with nil for missing.
type ColumnBuffers struct {
	Name    string
	Kind    Kind
	Values  []byte
	Valid   []byte
	Strings []*string
}

// ValueBytes is how many bytes one value of kind k takes in
// ColumnBuffers.Values: 8 for float64 and int64, 1 for bool, and 0 for the
// kinds passed as strings (and null).
func (k Kind) ValueBytes() int {
	switch k {
	case KindFloat64, KindInt64:
		return 8
	case KindBool:
		return 1
	}
	return 0
}

// TableFromBuffers builds a table of n rows over cols. Numeric values are
// used in place, not copied, so the buffers must stay unchanged until the
// table is written. They are copied only where the table would otherwise
// change them: float columns with a mask (masked rows become NaN) and bool
// columns holding bytes other than 0 and 1.
func TableFromBuffers(n int, cols []ColumnBuffers) (*Table, error) {
	if n < 0 {
		return nil, errs.Invalidf("timeseries: negative row count %d", n)
	}
	t := &Table{Rows: n, Columns: make([]Column, len(cols))}
	for i := range cols {
		c, err := cols[i].column(n)
		if err != nil {
			return nil, err
		}
		t.Columns[i] = c
	}
	return t, nil
}

func (b *ColumnBuffers) column(n int) (Column, error) {
	c := Column{Name: b.Name, Kind: b.Kind}
	if b.Valid != nil && n > 0 {
		if len(b.Valid) < n {
			return c, errs.Invalidf("timeseries: column %q: mask has %d entries for %d rows", b.Name, len(b.Valid), n)
		}
		c.Valid = make([]bool, n)
		for j, v := range b.Valid[:n] {
			c.Valid[j] = v != 0
		}
	}
	size := b.Kind.ValueBytes()
	if size > 0 && n > 0 && len(b.Values) < n*size {
		if b.Values == nil {
			return c, errs.Invalidf("timeseries: column %q: values pointer is NULL", b.Name)
		}
		return c, errs.Invalidf("timeseries: column %q: %d bytes of values for %d rows", b.Name, len(b.Values), n)
	}
	if size == 0 && b.Strings == nil && b.Kind != KindNull && n > 0 {
		return c, errs.Invalidf("timeseries: column %q: %s values need \"strings\"", b.Name, b.Kind)
	}
	values := unsafe.Pointer(unsafe.SliceData(b.Values))
	switch b.Kind {
	case KindFloat64:
		c.F = unsafe.Slice((*float64)(values), n)
		if c.Valid != nil {
			c.F = slices.Clone(c.F)
		}
	case KindInt64:
		c.I = unsafe.Slice((*int64)(values), n)
	case KindBool:
		raw := b.Values[:n]
		if slices.ContainsFunc(raw, func(v byte) bool { return v > 1 }) {
			// Go bools must be 0 or 1: normalize a copy.
			c.B = make([]bool, n)
			for j, v := range raw {
				c.B[j] = v != 0
			}
		} else {
			c.B = unsafe.Slice((*bool)(values), n)
		}
	case KindString, KindJSON:
		if len(b.Strings) != n {
			return c, errs.Invalidf("timeseries: column %q has %d strings for %d rows", b.Name, len(b.Strings), n)
		}
		c.S = make([]string, n)
		for j, s := range b.Strings {
			if s != nil {
				c.S[j] = *s
				continue
			}
			if c.Valid == nil {
				c.Valid = make([]bool, n)
				for q := range c.Valid {
					c.Valid[q] = true
				}
			}
			c.Valid[j] = false
		}
	case KindNull:
		c.Valid = make([]bool, n)
	}
	return c, nil
}
