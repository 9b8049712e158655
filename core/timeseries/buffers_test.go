package timeseries_test

import (
	"errors"
	"math"
	"slices"
	"testing"
	"unsafe"

	"github.com/structure-net/structure-net-data/core/errs"
	ts "github.com/structure-net/structure-net-data/core/timeseries"
)

func bytesOf[T any](v []T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*int(unsafe.Sizeof(v[0])))
}

func text(s string) *string { return &s }

// Numeric buffers are used in place unless the table would change them;
// masks, odd bool bytes and missing strings come out as the core expects.
func TestTableFromBuffers(t *testing.T) {
	f := []float64{1, 2, 3}
	fm := []float64{1, 2, 3}
	i := []int64{7, -8, 9}
	b := []byte{0, 1, 1}
	odd := []byte{0, 2, 255}
	tb, err := ts.TableFromBuffers(3, []ts.ColumnBuffers{
		{Name: "f", Kind: ts.KindFloat64, Values: bytesOf(f)},
		{Name: "fm", Kind: ts.KindFloat64, Values: bytesOf(fm), Valid: []byte{1, 0, 7}},
		{Name: "i", Kind: ts.KindInt64, Values: bytesOf(i), Valid: []byte{1, 1, 0}},
		{Name: "b", Kind: ts.KindBool, Values: b},
		{Name: "odd", Kind: ts.KindBool, Values: odd},
		{Name: "s", Kind: ts.KindString, Strings: []*string{text("a"), nil, text("c")}},
		{Name: "j", Kind: ts.KindJSON, Strings: []*string{text(`{"x":1}`), text("[]"), text("null")}},
		{Name: "n", Kind: ts.KindNull},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := tb.Columns
	if &c[0].F[0] != &f[0] || &c[2].I[0] != &i[0] || unsafe.Pointer(&c[3].B[0]) != unsafe.Pointer(&b[0]) {
		t.Error("unmasked numeric columns should be views of the caller's buffers")
	}
	if &c[1].F[0] == &fm[0] {
		t.Error("a masked float column must be copied: its missing rows become NaN")
	}
	if err := tb.Validate(); err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(c[1].F[1]) || c[1].F[2] != 3 || fm[1] != 2 {
		t.Errorf("masked float column %v (caller's %v)", c[1].F, fm)
	}
	if !slices.Equal(c[2].Valid, []bool{true, true, false}) {
		t.Errorf("int64 mask %v", c[2].Valid)
	}
	if !slices.Equal(c[4].B, []bool{false, true, true}) || !slices.Equal(odd, []byte{0, 2, 255}) {
		t.Errorf("bool bytes other than 0/1 should be normalized in a copy: %v (caller's %v)", c[4].B, odd)
	}
	if !slices.Equal(c[5].S, []string{"a", "", "c"}) || !slices.Equal(c[5].Valid, []bool{true, false, true}) {
		t.Errorf("string column %q valid %v", c[5].S, c[5].Valid)
	}
	if c[6].Valid != nil || c[6].S[2] != "null" {
		t.Errorf("JSON text null is a value, not a missing row: %q %v", c[6].S, c[6].Valid)
	}
	if !slices.Equal(c[7].Valid, []bool{false, false, false}) {
		t.Errorf("null column valid %v", c[7].Valid)
	}
}

func TestTableFromBuffersRejectsBadBuffers(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		col  ts.ColumnBuffers
	}{
		{"no values", 2, ts.ColumnBuffers{Name: "x", Kind: ts.KindFloat64}},
		{"short values", 2, ts.ColumnBuffers{Name: "x", Kind: ts.KindInt64, Values: make([]byte, 15)}},
		{"short mask", 2, ts.ColumnBuffers{Name: "x", Kind: ts.KindBool, Values: []byte{1, 0}, Valid: []byte{1}}},
		{"no strings", 1, ts.ColumnBuffers{Name: "x", Kind: ts.KindString}},
		{"too few strings", 2, ts.ColumnBuffers{Name: "x", Kind: ts.KindJSON, Strings: []*string{text("1")}}},
		{"negative rows", -1, ts.ColumnBuffers{Name: "x", Kind: ts.KindNull}},
	} {
		if _, err := ts.TableFromBuffers(tc.n, []ts.ColumnBuffers{tc.col}); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tc.name, err)
		}
	}
}
