package matfile_test

import (
	"errors"
	"testing"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/matfile"
)

// FuzzRead: every input gives a file or a typed error, never a panic, a
// hang or an allocation sized by an unchecked field. Seeds: testdata/fuzz
// (meta.mat-shaped files written by scipy, plain and compressed).
func FuzzRead(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := matfile.Read(data, matfile.Options{MaxBytes: 8 << 20})
		if err != nil {
			if !errors.Is(err, errs.ErrCorrupt) && !errors.Is(err, errs.ErrUnsupported) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, v := range file.Variables {
			check(t, v)
		}
	})
}

// check asserts what a successful read promises: element counts agree with
// the dimensions.
func check(t *testing.T, v *matfile.Value) {
	switch v.Class {
	case matfile.ClassCell:
		if len(v.Cells) != v.Len() {
			t.Fatalf("cell array of %d cells, dims %v", len(v.Cells), v.Dims)
		}
		for _, c := range v.Cells {
			check(t, c)
		}
	case matfile.ClassStruct:
		if len(v.FieldNames) > 0 && len(v.Elements) != v.Len() {
			t.Fatalf("struct array of %d elements, dims %v", len(v.Elements), v.Dims)
		}
		for _, e := range v.Elements {
			for _, c := range e {
				check(t, c)
			}
		}
	case matfile.ClassChar:
		if len(v.Text) != v.Len() {
			t.Fatalf("char array of %d chars, dims %v", len(v.Text), v.Dims)
		}
		_, _ = v.String()
	default:
		if len(v.Real) != v.Len() || (v.Imag != nil && len(v.Imag) != v.Len()) {
			t.Fatalf("numeric array of %d values, dims %v", len(v.Real), v.Dims)
		}
	}
}
