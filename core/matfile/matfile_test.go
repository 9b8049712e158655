package matfile_test

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/matfile"
)

// scipyScript writes the same variables with and without compression, as
// scipy.io.savemat (the tool users and tests make MAT-files with) does.
const scipyScript = `
import sys
import numpy as np
import scipy.io as sio

synsets = np.zeros((3, 1), dtype=[("ILSVRC2012_ID", "O"), ("WNID", "O"), ("words", "O"), ("children", "O")])
rows = [(2, "n02119789", "kit fox, Vulpes macrotis", np.zeros((0, 0))),
        (1, "n01440764", "tench, Tinca tinca", np.zeros((0, 0))),
        (1001, "n00001740", "entity", np.array([[2.0, 1.0]]))]
for i, r in enumerate(rows):
    synsets[i, 0] = r
variables = {
    "synsets": synsets,
    "grid": np.array([[1.5, 2.0, -3.0], [4.0, 5.0, 6.25]]),
    "small": np.array([[7, -8]], dtype=np.int16),
    "flags": np.array([[True, False, True]]),
    "z": np.array([[1 + 2j, -3.5j]]),
    "text": "héllo wörld",
    "lines": np.array(["ab", "cd"]),
    "cells": np.array([[np.array([[1.0]]), "x"]], dtype=object),
    "nothing": np.zeros((0, 3)),
}
sio.savemat(sys.argv[1], variables, do_compression=False)
sio.savemat(sys.argv[2], variables, do_compression=True)
`

func writeWithScipy(t *testing.T) (plain, compressed []byte) {
	t.Helper()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "plain.mat"), filepath.Join(dir, "compressed.mat")
	if out, err := exec.Command("python3", "-c", scipyScript, a, b).CombinedOutput(); err != nil {
		t.Fatalf("python3 scipy.io.savemat: %v\n%s", err, out)
	}
	pa, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return pa, pb
}

func variable(t *testing.T, f *matfile.File, name string) *matfile.Value {
	t.Helper()
	v, ok := f.Variable(name)
	if !ok {
		t.Fatalf("no variable %q", name)
	}
	return v
}

func text(t *testing.T, v *matfile.Value) string {
	t.Helper()
	s, err := v.String()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestReadWhatScipyWrites(t *testing.T) {
	plain, compressed := writeWithScipy(t)
	if bytes.Equal(plain, compressed) {
		t.Fatal("the compressed file should differ from the plain one")
	}
	for name, data := range map[string][]byte{"plain": plain, "compressed": compressed} {
		t.Run(name, func(t *testing.T) {
			f, err := matfile.Read(data, matfile.Options{})
			if err != nil {
				t.Fatal(err)
			}
			s := variable(t, f, "synsets")
			if s.Class != matfile.ClassStruct || !reflect.DeepEqual(s.Dims, []int{3, 1}) {
				t.Fatalf("synsets: class %s dims %v", s.Class, s.Dims)
			}
			if want := []string{"ILSVRC2012_ID", "WNID", "words", "children"}; !reflect.DeepEqual(s.FieldNames, want) {
				t.Fatalf("fields %v, want %v", s.FieldNames, want)
			}
			wantIDs := []float64{2, 1, 1001}
			wantWnids := []string{"n02119789", "n01440764", "n00001740"}
			for i := range 3 {
				id, _ := s.Field(i, "ILSVRC2012_ID")
				wnid, _ := s.Field(i, "WNID")
				if x, err := id.Scalar(); err != nil || x != wantIDs[i] {
					t.Fatalf("element %d: id %v %v", i, x, err)
				}
				if got := text(t, wnid); got != wantWnids[i] {
					t.Fatalf("element %d: wnid %q", i, got)
				}
			}
			words, _ := s.Field(0, "words")
			if got := text(t, words); got != "kit fox, Vulpes macrotis" {
				t.Fatalf("words %q", got)
			}
			leaf, _ := s.Field(0, "children")
			inner, _ := s.Field(2, "children")
			if leaf.Len() != 0 || !reflect.DeepEqual(inner.Real, []float64{2, 1}) {
				t.Fatalf("children: leaf %v, inner %v", leaf.Real, inner.Real)
			}
			// Column-major: [[1.5 2 -3] [4 5 6.25]] is stored 1.5 4 2 5 -3 6.25.
			grid := variable(t, f, "grid")
			if !reflect.DeepEqual(grid.Dims, []int{2, 3}) || !reflect.DeepEqual(grid.Real, []float64{1.5, 4, 2, 5, -3, 6.25}) {
				t.Fatalf("grid %v %v", grid.Dims, grid.Real)
			}
			if small := variable(t, f, "small"); small.Class != matfile.ClassInt16 || !reflect.DeepEqual(small.Real, []float64{7, -8}) {
				t.Fatalf("small %s %v", small.Class, small.Real)
			}
			if flags := variable(t, f, "flags"); !flags.Logical || !reflect.DeepEqual(flags.Real, []float64{1, 0, 1}) {
				t.Fatalf("flags logical=%v %v", flags.Logical, flags.Real)
			}
			if z := variable(t, f, "z"); !reflect.DeepEqual(z.Real, []float64{1, 0}) || !reflect.DeepEqual(z.Imag, []float64{2, -3.5}) {
				t.Fatalf("complex %v %v", z.Real, z.Imag)
			}
			if got := text(t, variable(t, f, "text")); got != "héllo wörld" {
				t.Fatalf("text %q", got)
			}
			if got := text(t, variable(t, f, "lines")); got != "ab\ncd" {
				t.Fatalf("char matrix %q", got)
			}
			cells := variable(t, f, "cells")
			if cells.Class != matfile.ClassCell || len(cells.Cells) != 2 || cells.Cells[0].Real[0] != 1 || text(t, cells.Cells[1]) != "x" {
				t.Fatalf("cells %+v", cells)
			}
			if nothing := variable(t, f, "nothing"); nothing.Len() != 0 || !reflect.DeepEqual(nothing.Dims, []int{0, 3}) {
				t.Fatalf("empty %v %v", nothing.Dims, nothing.Real)
			}
		})
	}
}

// encoder writes level-5 elements by hand, for what scipy cannot write:
// big-endian files and MATLAB's habit of storing whole doubles as miUINT8.
type encoder struct {
	order binary.ByteOrder
	buf   bytes.Buffer
}

func (e *encoder) header() {
	h := make([]byte, 128)
	copy(h, "MATLAB 5.0 MAT-file, written by hand")
	for i := 36; i < 116; i++ {
		h[i] = ' '
	}
	e.order.PutUint16(h[124:], 0x0100)
	if e.order == binary.BigEndian {
		copy(h[126:], "MI")
	} else {
		copy(h[126:], "IM")
	}
	e.buf.Write(h)
}

func (e *encoder) element(buf *bytes.Buffer, typ uint32, data []byte) {
	var tag [8]byte
	e.order.PutUint32(tag[:], typ)
	e.order.PutUint32(tag[4:], uint32(len(data)))
	buf.Write(tag[:])
	buf.Write(data)
	for buf.Len()%8 != 0 {
		buf.WriteByte(0)
	}
}

func (e *encoder) matrix(class matfile.Class, dims []int32, name string, dataType uint32, data []byte) []byte {
	var body bytes.Buffer
	flags := make([]byte, 8)
	e.order.PutUint32(flags, uint32(class))
	e.element(&body, 6, flags)
	d := make([]byte, 4*len(dims))
	for i, x := range dims {
		e.order.PutUint32(d[4*i:], uint32(x))
	}
	e.element(&body, 5, d)
	e.element(&body, 1, []byte(name))
	e.element(&body, dataType, data)
	var out bytes.Buffer
	e.element(&out, 14, body.Bytes())
	return out.Bytes()
}

func TestReadBigEndianAndNarrowStorage(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.BigEndian, binary.LittleEndian} {
		e := &encoder{order: order}
		e.header()
		// MATLAB stores a double array of small whole numbers as miUINT8.
		e.buf.Write(e.matrix(matfile.ClassDouble, []int32{1, 3}, "ids", 2, []byte{1, 200, 7}))
		d := make([]byte, 16)
		order.PutUint64(d, math.Float64bits(-0.5))
		order.PutUint64(d[8:], math.Float64bits(1e300))
		e.buf.Write(e.matrix(matfile.ClassDouble, []int32{2, 1}, "x", 9, d))
		u := make([]byte, 6)
		for i, c := range "kit" {
			order.PutUint16(u[2*i:], uint16(c))
		}
		e.buf.Write(e.matrix(matfile.ClassChar, []int32{1, 3}, "w", 4, u))
		f, err := matfile.Read(e.buf.Bytes(), matfile.Options{})
		if err != nil {
			t.Fatalf("%v: %v", order, err)
		}
		if ids := variable(t, f, "ids"); !reflect.DeepEqual(ids.Real, []float64{1, 200, 7}) {
			t.Fatalf("%v: ids %v", order, ids.Real)
		}
		if x := variable(t, f, "x"); !reflect.DeepEqual(x.Real, []float64{-0.5, 1e300}) {
			t.Fatalf("%v: x %v", order, x.Real)
		}
		if got := text(t, variable(t, f, "w")); got != "kit" {
			t.Fatalf("%v: w %q", order, got)
		}
	}
}

func TestBadFilesAreTypedErrors(t *testing.T) {
	plain, compressed := writeWithScipy(t)
	kind := func(data []byte) error {
		_, err := matfile.Read(data, matfile.Options{MaxBytes: 1 << 20})
		return err
	}
	v73 := append([]byte("MATLAB 7.3 MAT-file, Platform: GLNXA64"), make([]byte, 128)...)
	binary.LittleEndian.PutUint16(v73[124:], 0x0200)
	copy(v73[126:], "IM")
	cases := map[string]struct {
		data []byte
		want error
	}{
		"empty":           {nil, errs.ErrCorrupt},
		"text file":       {[]byte("n01440764 tench\n" + string(make([]byte, 200))), errs.ErrCorrupt},
		"version 7.3":     {v73, errs.ErrUnsupported},
		"truncated":       {plain[:len(plain)-20], errs.ErrCorrupt},
		"truncated zlib":  {compressed[:len(compressed)-40], errs.ErrCorrupt},
		"header only":     {plain[:128], nil},
		"flipped tag len": {flip(plain, 132, 0x7f), errs.ErrCorrupt},
	}
	for name, c := range cases {
		err := kind(c.data)
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want kind %v", name, err, c.want)
		}
	}
	// A bomb: one compressed element inflating past the limit.
	var z bytes.Buffer
	e := &encoder{order: binary.LittleEndian}
	e.header()
	big := e.matrix(matfile.ClassUint8, []int32{1, 4 << 20}, "big", 2, make([]byte, 4<<20))
	w := zlib.NewWriter(&z)
	w.Write(big)
	w.Close()
	e.element(&e.buf, 15, z.Bytes())
	if err := kind(e.buf.Bytes()); !errors.Is(err, errs.ErrCorrupt) {
		t.Fatalf("inflation bomb: %v", err)
	}
}

func flip(b []byte, at int, v byte) []byte {
	c := bytes.Clone(b)
	c[at+3] = v
	return c
}
