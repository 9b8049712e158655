// Package matfile owns reading MATLAB level-5 MAT-files (MATLAB 5 to 7.2,
// and what scipy.io.savemat writes), the format of ImageNet's devkit
// meta.mat. It reads numeric, logical, char, cell and struct arrays, stored
// plain or zlib-compressed (miCOMPRESSED), in either byte order. Sparse and
// object arrays, and version 7.3 files (which are HDF5), are refused with
// errs.ErrUnsupported; anything malformed is errs.ErrCorrupt.
//
// The reader trusts no size in the file: every length is checked against
// the bytes that are really there before anything is allocated, nesting is
// bounded, and decompressed data is capped (Options.MaxBytes).
package matfile

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"io"
	"math"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/structure-net/structure-net-data/core/errs"
)

// Class is a MATLAB array class (mxCLASS).
type Class uint8

// The array classes of the level-5 format.
const (
	ClassCell   Class = 1
	ClassStruct Class = 2
	ClassObject Class = 3
	ClassChar   Class = 4
	ClassSparse Class = 5
	ClassDouble Class = 6
	ClassSingle Class = 7
	ClassInt8   Class = 8
	ClassUint8  Class = 9
	ClassInt16  Class = 10
	ClassUint16 Class = 11
	ClassInt32  Class = 12
	ClassUint32 Class = 13
	ClassInt64  Class = 14
	ClassUint64 Class = 15
)

// Data element types (miTYPE).
const (
	miINT8       = 1
	miUINT8      = 2
	miINT16      = 3
	miUINT16     = 4
	miINT32      = 5
	miUINT32     = 6
	miSINGLE     = 7
	miDOUBLE     = 9
	miINT64      = 12
	miUINT64     = 13
	miMATRIX     = 14
	miCOMPRESSED = 15
	miUTF8       = 16
	miUTF16      = 17
	miUTF32      = 18
)

const (
	headerSize  = 128
	maxDepth    = 32 // cells and structs nest this deep at most
	flagComplex = 0x08
	flagLogical = 0x02
)

// Value is one array: a variable of the file, a cell of a cell array or a
// field of a struct. Elements are in MATLAB's column-major order.
type Value struct {
	Name    string
	Class   Class
	Dims    []int
	Logical bool

	Real []float64 // numeric and logical arrays
	Imag []float64 // complex numeric arrays only
	Text []rune    // char arrays

	Cells []*Value // cell arrays

	FieldNames []string   // struct arrays
	Elements   [][]*Value // struct arrays: Elements[i][f] is field f of element i (nil without fields)
}

// Len is the number of elements (the product of Dims).
func (v *Value) Len() int {
	n := 1
	for _, d := range v.Dims {
		n *= d
	}
	return n
}

// String returns a char array as text: a row (or column) vector whole, a
// matrix as its rows joined by newlines (trailing blanks trimmed, as MATLAB
// pads rows). Other classes are an error.
func (v *Value) String() (string, error) {
	if v.Class != ClassChar {
		return "", errs.Invalidf("matfile: %s is a %s array, not text", v.label(), v.Class)
	}
	if len(v.Dims) != 2 || v.Dims[0] <= 1 || v.Dims[1] <= 1 {
		return string(v.Text), nil
	}
	rows, cols := v.Dims[0], v.Dims[1]
	var b bytes.Buffer
	for r := range rows {
		line := make([]rune, cols)
		for c := range cols {
			line[c] = v.Text[c*rows+r]
		}
		if r > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strings.TrimRight(string(line), " "))
	}
	return b.String(), nil
}

// Scalar returns the single value of a 1-element numeric or logical array.
func (v *Value) Scalar() (float64, error) {
	if v.Real == nil || len(v.Real) != 1 {
		return 0, errs.Invalidf("matfile: %s is not a numeric scalar (class %s, dims %v)", v.label(), v.Class, v.Dims)
	}
	return v.Real[0], nil
}

// Field returns field name of struct element i.
func (v *Value) Field(i int, name string) (*Value, bool) {
	if v.Class != ClassStruct || i < 0 || i >= len(v.Elements) {
		return nil, false
	}
	for f, n := range v.FieldNames {
		if n == name {
			return v.Elements[i][f], true
		}
	}
	return nil, false
}

func (v *Value) label() string {
	if v.Name != "" {
		return v.Name
	}
	return "an array"
}

func (c Class) String() string {
	names := map[Class]string{
		ClassCell: "cell", ClassStruct: "struct", ClassObject: "object", ClassChar: "char", ClassSparse: "sparse",
		ClassDouble: "double", ClassSingle: "single", ClassInt8: "int8", ClassUint8: "uint8", ClassInt16: "int16",
		ClassUint16: "uint16", ClassInt32: "int32", ClassUint32: "uint32", ClassInt64: "int64", ClassUint64: "uint64",
	}
	if n, ok := names[c]; ok {
		return n
	}
	return "unknown"
}

// Options bound what a read may cost.
type Options struct {
	// MaxBytes caps the bytes decompressed from all miCOMPRESSED elements
	// together (default 256 MiB), so a small file cannot inflate without end.
	MaxBytes int64
}

// File is a parsed MAT-file: its header text and its variables in file order.
type File struct {
	Header    string
	Variables []*Value
}

// Variable returns the variable called name.
func (f *File) Variable(name string) (*Value, bool) {
	for _, v := range f.Variables {
		if v.Name == name {
			return v, true
		}
	}
	return nil, false
}

// Read parses a whole MAT-file held in data.
func Read(data []byte, opt Options) (*File, error) {
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = 256 << 20
	}
	if len(data) < headerSize {
		return nil, errs.Corruptf("matfile: %d bytes is shorter than the 128-byte header", len(data))
	}
	hdr := data[:headerSize]
	var order binary.ByteOrder
	switch string(hdr[126:128]) {
	case "IM":
		order = binary.LittleEndian
	case "MI":
		order = binary.BigEndian
	default:
		if bytes.HasPrefix(hdr, []byte("MATLAB 7.3")) {
			return nil, errs.Unsupportedf("matfile: a version 7.3 MAT-file (HDF5) is not supported; save it with -v7")
		}
		return nil, errs.Corruptf("matfile: not a level-5 MAT-file (no endian indicator in the header)")
	}
	if ver := order.Uint16(hdr[124:126]); ver != 0x0100 {
		if ver == 0x0200 {
			return nil, errs.Unsupportedf("matfile: a version 7.3 MAT-file (HDF5) is not supported; save it with -v7")
		}
		return nil, errs.Corruptf("matfile: unknown MAT-file version 0x%04x", ver)
	}
	p := &parser{order: order, budget: opt.MaxBytes}
	f := &File{Header: string(bytes.TrimRight(hdr[:116], " \x00"))}
	rest := data[headerSize:]
	for len(rest) > 0 {
		if len(rest) < 8 && allZero(rest) {
			break // padding after the last element
		}
		typ, body, next, err := p.element(rest)
		if err != nil {
			return nil, err
		}
		rest = next
		v, err := p.variable(typ, body, 0)
		if err != nil {
			return nil, err
		}
		if v != nil {
			f.Variables = append(f.Variables, v)
		}
	}
	return f, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

type parser struct {
	order  binary.ByteOrder
	budget int64 // decompressed bytes still allowed
}

// element splits the data element at the start of b into its type, its
// body and what follows it (8-byte aligned, except after miCOMPRESSED).
func (p *parser) element(b []byte) (typ uint32, body, rest []byte, err error) {
	if len(b) < 8 {
		return 0, nil, nil, errs.Corruptf("matfile: truncated data element tag (%d bytes left)", len(b))
	}
	first := p.order.Uint32(b)
	if small := first >> 16; small != 0 {
		// Small data element: type and size share the first word, up to 4
		// bytes of data sit in the second.
		if small > 4 {
			return 0, nil, nil, errs.Corruptf("matfile: small data element claims %d bytes (at most 4)", small)
		}
		return first & 0xffff, b[4 : 4+small], b[8:], nil
	}
	n := uint64(p.order.Uint32(b[4:]))
	if n > uint64(len(b)-8) {
		return 0, nil, nil, errs.Corruptf("matfile: data element of type %d claims %d bytes, %d remain (truncated file?)", first, n, len(b)-8)
	}
	body = b[8 : 8+n]
	end := 8 + n
	if first != miCOMPRESSED {
		end = min((end+7)&^7, uint64(len(b)))
	}
	return first, body, b[end:], nil
}

// variable decodes a top-level element: a matrix, or a compressed matrix.
func (p *parser) variable(typ uint32, body []byte, depth int) (*Value, error) {
	switch typ {
	case miMATRIX:
		return p.matrix(body, depth)
	case miCOMPRESSED:
		inner, err := p.inflate(body)
		if err != nil {
			return nil, err
		}
		t, b, _, err := p.element(inner)
		if err != nil {
			return nil, err
		}
		if t == miCOMPRESSED {
			return nil, errs.Corruptf("matfile: compressed element inside a compressed element")
		}
		return p.variable(t, b, depth)
	}
	return nil, errs.Corruptf("matfile: unexpected data element of type %d where a variable belongs", typ)
}

func (p *parser) inflate(body []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, errs.Corruptf("matfile: compressed element: %v", err)
	}
	defer zr.Close()
	var out bytes.Buffer
	n, err := io.Copy(&out, io.LimitReader(zr, p.budget+1))
	if err != nil {
		return nil, errs.Corruptf("matfile: compressed element: %v", err)
	}
	if n > p.budget {
		return nil, errs.Corruptf("matfile: compressed data inflates past the %d-byte limit", p.budget)
	}
	p.budget -= n
	return out.Bytes(), nil
}

// matrix decodes the body of an miMATRIX element.
func (p *parser) matrix(b []byte, depth int) (*Value, error) {
	if depth > maxDepth {
		return nil, errs.Corruptf("matfile: arrays nested more than %d deep", maxDepth)
	}
	if len(b) == 0 {
		// MATLAB writes an empty [] as an miMATRIX with no body.
		return &Value{Class: ClassDouble, Dims: []int{0, 0}, Real: []float64{}}, nil
	}
	// Array flags.
	typ, flags, b, err := p.element(b)
	if err != nil {
		return nil, err
	}
	if typ != miUINT32 || len(flags) != 8 {
		return nil, errs.Corruptf("matfile: array flags: want 8 bytes of miUINT32, got %d bytes of type %d", len(flags), typ)
	}
	word := p.order.Uint32(flags)
	v := &Value{Class: Class(word & 0xff), Logical: (word>>8)&flagLogical != 0}
	complexData := (word>>8)&flagComplex != 0
	switch v.Class {
	case ClassSparse:
		return nil, errs.Unsupportedf("matfile: sparse arrays are not supported")
	case ClassObject:
		return nil, errs.Unsupportedf("matfile: MATLAB objects are not supported")
	}
	if v.Class < ClassCell || v.Class > ClassUint64 {
		return nil, errs.Corruptf("matfile: unknown array class %d", v.Class)
	}
	// Dimensions.
	typ, dims, b, err := p.element(b)
	if err != nil {
		return nil, err
	}
	if typ != miINT32 || len(dims)%4 != 0 || len(dims) < 8 {
		return nil, errs.Corruptf("matfile: dimensions: want at least 2 miINT32 values, got %d bytes of type %d", len(dims), typ)
	}
	count := 1
	for i := 0; i < len(dims); i += 4 {
		d := int32(p.order.Uint32(dims[i:]))
		if d < 0 {
			return nil, errs.Corruptf("matfile: negative dimension %d", d)
		}
		v.Dims = append(v.Dims, int(d))
		if d != 0 && count > math.MaxInt32/int(d) {
			return nil, errs.Corruptf("matfile: dimensions %v hold too many elements", v.Dims)
		}
		count *= int(d)
	}
	// Name.
	typ, name, b, err := p.element(b)
	if err != nil {
		return nil, err
	}
	if typ != miINT8 && typ != miUINT8 {
		return nil, errs.Corruptf("matfile: array name has type %d, not miINT8", typ)
	}
	v.Name = string(name)

	switch v.Class {
	case ClassChar:
		typ, data, _, err := p.element(b)
		if err != nil {
			if len(b) == 0 && count == 0 {
				return v, nil
			}
			return nil, err
		}
		if v.Text, err = p.text(typ, data); err != nil {
			return nil, err
		}
		if len(v.Text) != count {
			return nil, errs.Corruptf("matfile: char array %q has %d characters, its dimensions %v say %d", v.Name, len(v.Text), v.Dims, count)
		}
	case ClassCell:
		for i := 0; i < count; i++ {
			c, rest, err := p.child(b, depth)
			if err != nil {
				return nil, err
			}
			b = rest
			v.Cells = append(v.Cells, c)
		}
	case ClassStruct:
		if err := p.structure(v, b, count, depth); err != nil {
			return nil, err
		}
	default:
		typ, data, rest, err := p.element(b)
		if err != nil {
			if len(b) == 0 && count == 0 {
				v.Real = []float64{}
				return v, nil
			}
			return nil, err
		}
		if v.Real, err = p.numbers(typ, data, count); err != nil {
			return nil, errs.Corruptf("matfile: %q: %v", v.Name, err)
		}
		if complexData {
			typ, data, _, err := p.element(rest)
			if err != nil {
				return nil, err
			}
			if v.Imag, err = p.numbers(typ, data, count); err != nil {
				return nil, errs.Corruptf("matfile: %q imaginary part: %v", v.Name, err)
			}
		}
	}
	return v, nil
}

// child decodes one nested miMATRIX (a cell or a struct field).
func (p *parser) child(b []byte, depth int) (*Value, []byte, error) {
	typ, body, rest, err := p.element(b)
	if err != nil {
		return nil, nil, err
	}
	if typ != miMATRIX {
		return nil, nil, errs.Corruptf("matfile: nested element has type %d, not miMATRIX", typ)
	}
	v, err := p.matrix(body, depth+1)
	return v, rest, err
}

func (p *parser) structure(v *Value, b []byte, count, depth int) error {
	typ, lenData, b, err := p.element(b)
	if err != nil {
		return err
	}
	if typ != miINT32 || len(lenData) != 4 {
		return errs.Corruptf("matfile: struct %q: field name length is not one miINT32", v.Name)
	}
	nameLen := int(int32(p.order.Uint32(lenData)))
	typ, names, b, err := p.element(b)
	if err != nil {
		return err
	}
	if typ != miINT8 && typ != miUINT8 {
		return errs.Corruptf("matfile: struct %q: field names have type %d, not miINT8", v.Name, typ)
	}
	if nameLen <= 0 && len(names) > 0 || nameLen > 0 && len(names)%nameLen != 0 {
		return errs.Corruptf("matfile: struct %q: %d bytes of field names are not a multiple of %d", v.Name, len(names), nameLen)
	}
	for i := 0; nameLen > 0 && i < len(names); i += nameLen {
		n := names[i : i+nameLen]
		if z := bytes.IndexByte(n, 0); z >= 0 {
			n = n[:z]
		}
		v.FieldNames = append(v.FieldNames, string(n))
	}
	if len(v.FieldNames) == 0 {
		// Elements without fields take no bytes: nothing bounds their
		// number, and there is nothing in them to keep.
		return nil
	}
	for range count {
		fields := make([]*Value, 0, len(v.FieldNames))
		for range v.FieldNames {
			c, rest, err := p.child(b, depth)
			if err != nil {
				return err
			}
			b = rest
			fields = append(fields, c)
		}
		v.Elements = append(v.Elements, fields)
	}
	return nil
}

// numbers converts a numeric data element to float64s; count is what the
// array's dimensions promise.
func (p *parser) numbers(typ uint32, data []byte, count int) ([]float64, error) {
	size := map[uint32]int{miINT8: 1, miUINT8: 1, miINT16: 2, miUINT16: 2, miINT32: 4, miUINT32: 4,
		miSINGLE: 4, miDOUBLE: 8, miINT64: 8, miUINT64: 8}[typ]
	if size == 0 {
		return nil, errs.Corruptf("data of type %d is not numeric", typ)
	}
	if len(data) != count*size {
		return nil, errs.Corruptf("%d bytes of type %d hold %d values, the dimensions say %d", len(data), typ, len(data)/size, count)
	}
	out := make([]float64, count)
	o := p.order
	for i := range out {
		d := data[i*size:]
		switch typ {
		case miINT8:
			out[i] = float64(int8(d[0]))
		case miUINT8:
			out[i] = float64(d[0])
		case miINT16:
			out[i] = float64(int16(o.Uint16(d)))
		case miUINT16:
			out[i] = float64(o.Uint16(d))
		case miINT32:
			out[i] = float64(int32(o.Uint32(d)))
		case miUINT32:
			out[i] = float64(o.Uint32(d))
		case miSINGLE:
			out[i] = float64(math.Float32frombits(o.Uint32(d)))
		case miDOUBLE:
			out[i] = math.Float64frombits(o.Uint64(d))
		case miINT64:
			out[i] = float64(int64(o.Uint64(d)))
		case miUINT64:
			out[i] = float64(o.Uint64(d))
		}
	}
	return out, nil
}

// text decodes the characters of a char array.
func (p *parser) text(typ uint32, data []byte) ([]rune, error) {
	switch typ {
	case miUINT8, miINT8:
		out := make([]rune, len(data))
		for i, c := range data {
			out[i] = rune(c)
		}
		return out, nil
	case miUTF8:
		if !utf8.Valid(data) {
			return nil, errs.Corruptf("matfile: char data is not valid UTF-8")
		}
		return []rune(string(data)), nil
	case miUINT16, miUTF16:
		if len(data)%2 != 0 {
			return nil, errs.Corruptf("matfile: odd number of bytes in 16-bit char data")
		}
		units := make([]uint16, len(data)/2)
		for i := range units {
			units[i] = p.order.Uint16(data[2*i:])
		}
		if typ == miUINT16 {
			// MATLAB's char is one UTF-16 code unit per element.
			out := make([]rune, len(units))
			for i, u := range units {
				out[i] = rune(u)
			}
			return out, nil
		}
		return utf16.Decode(units), nil
	case miUTF32:
		if len(data)%4 != 0 {
			return nil, errs.Corruptf("matfile: UTF-32 char data is not a multiple of 4 bytes")
		}
		out := make([]rune, len(data)/4)
		for i := range out {
			out[i] = rune(p.order.Uint32(data[4*i:]))
		}
		return out, nil
	}
	return nil, errs.Corruptf("matfile: char data has type %d", typ)
}
