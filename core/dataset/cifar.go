package dataset

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"unicode/utf8"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
	"github.com/structure-net/structure-net-data/core/errs"
)

// CIFAR geometry: every sample is 32x32 RGB stored as three planes, which is
// already CHW.
const (
	cifarC, cifarH, cifarW = 3, 32, 32
	cifarSample            = cifarC * cifarH * cifarW
)

// Class counts, used to reject labels no CIFAR file can contain.
const (
	cifar10Classes     = 10
	cifar100Classes    = 100
	cifar100Superclass = 20
)

// ReadCIFARPickle decodes torchvision's python-format CIFAR batches
// (cifar-10-batches-py/data_batch_N, test_batch; cifar-100-python/train, test)
// and concatenates them in order. For CIFAR-100, fine selects fine_labels (else
// coarse_labels) as Labels, and Coarse always holds coarse_labels.
func ReadCIFARPickle(paths []string, fine bool) (*Split, error) {
	if len(paths) == 0 {
		return nil, errs.Invalidf("cifar: no files given")
	}
	batches := make([]*cifarBatch, 0, len(paths))
	for _, p := range paths {
		b, err := readCIFARPickleFile(p)
		if err != nil {
			return nil, err
		}
		if len(batches) > 0 && (b.coarse == nil) != (batches[0].coarse == nil) {
			return nil, errs.Corruptf("cifar: %s and %s are batches of different datasets (CIFAR-10 and CIFAR-100)", paths[0], p)
		}
		batches = append(batches, b)
	}
	s := &Split{C: cifarC, H: cifarH, W: cifarW}
	for _, b := range batches {
		s.N += b.n
	}
	if len(batches) == 1 {
		// Skip the concatenation copy; a CIFAR-100 train file is 150 MB.
		s.Images = batches[0].images
	} else {
		s.Images = make([]byte, 0, s.N*cifarSample)
	}
	s.Labels = make([]int64, 0, s.N)
	if batches[0].coarse != nil {
		s.Coarse = make([]int64, 0, s.N)
	}
	for _, b := range batches {
		if len(batches) > 1 {
			s.Images = append(s.Images, b.images...)
		}
		switch {
		case b.coarse == nil || fine:
			s.Labels = append(s.Labels, b.labels...)
		default:
			s.Labels = append(s.Labels, b.coarse...)
		}
		if b.coarse != nil {
			s.Coarse = append(s.Coarse, b.coarse...)
		}
	}
	return s, nil
}

// cifarBatch is one decoded file; coarse is nil for CIFAR-10, and labels holds
// the fine labels for CIFAR-100.
type cifarBatch struct {
	images []byte
	labels []int64
	coarse []int64
	n      int
}

func readCIFARPickleFile(path string) (*cifarBatch, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errs.NotFoundf("cifar: %s: file does not exist", path)
		}
		return nil, errs.IOf("cifar: %s: %v", path, err)
	}
	if len(raw) == 0 {
		return nil, errs.Corruptf("cifar: %s: empty file", path)
	}
	if err := checkPickleBounds(raw); err != nil {
		return nil, errs.Corruptf("cifar: %s: not a valid pickle: %v", path, err)
	}
	obj, err := unpickle(raw)
	if err != nil {
		var ug unsupportedGlobal
		if errors.As(err, &ug) {
			return nil, errs.Unsupportedf("cifar: %s: pickle refers to %s.%s, which a CIFAR batch never contains", path, ug.module, ug.name)
		}
		return nil, errs.Corruptf("cifar: %s: not a valid pickle: %v", path, err)
	}
	dict, ok := obj.(*types.Dict)
	if !ok {
		return nil, errs.Corruptf("cifar: %s: pickle holds a %T, want a dict", path, obj)
	}
	fields := map[string]any{}
	for _, e := range *dict {
		// Python 2 wrote str keys; files re-pickled by Python 3 without
		// encoding='latin1' have bytes keys (b'data').
		switch k := e.Key.(type) {
		case string:
			fields[k] = e.Value
		case []byte:
			fields[string(k)] = e.Value
		}
	}

	arr, ok := fields["data"].(*ndarray)
	if !ok {
		return nil, errs.Corruptf("cifar: %s: no numpy array under key 'data' (found %T)", path, fields["data"])
	}
	if err := arr.checkUint8(); err != nil {
		return nil, errs.Unsupportedf("cifar: %s: 'data' %v", path, err)
	}
	if len(arr.shape) != 2 || arr.shape[1] != cifarSample {
		return nil, errs.Corruptf("cifar: %s: 'data' has shape %v, want (N, %d)", path, arr.shape, cifarSample)
	}
	n := arr.shape[0]
	if want, ok := mulBounded(len(arr.data), n, cifarSample); !ok || want != len(arr.data) {
		return nil, errs.Corruptf("cifar: %s: 'data' has shape %v but holds %d bytes", path, arr.shape, len(arr.data))
	}
	b := &cifarBatch{images: arr.data, n: n}

	if _, ok := fields["labels"]; ok {
		if b.labels, err = pickleLabels(fields, "labels", n, cifar10Classes); err != nil {
			return nil, errs.Corruptf("cifar: %s: %v", path, err)
		}
		return b, nil
	}
	if b.labels, err = pickleLabels(fields, "fine_labels", n, cifar100Classes); err != nil {
		return nil, errs.Corruptf("cifar: %s: %v", path, err)
	}
	if b.coarse, err = pickleLabels(fields, "coarse_labels", n, cifar100Superclass); err != nil {
		return nil, errs.Corruptf("cifar: %s: %v", path, err)
	}
	return b, nil
}

// pickleLabels converts a pickled list of ints, checking its length against the
// sample count and each value against the class count.
func pickleLabels(fields map[string]any, key string, n, classes int) ([]int64, error) {
	var items []any
	switch v := fields[key].(type) {
	case nil:
		return nil, fmt.Errorf("no '%s' key (want 'labels' for CIFAR-10 or 'fine_labels' and 'coarse_labels' for CIFAR-100)", key)
	case *types.List:
		items = *v
	case *types.Tuple:
		items = *v
	default:
		return nil, fmt.Errorf("'%s' is a %T, want a list of ints", key, v)
	}
	if len(items) != n {
		return nil, fmt.Errorf("'%s' has %d entries for %d images", key, len(items), n)
	}
	out := make([]int64, n)
	for i, it := range items {
		l, ok := it.(int)
		if !ok || l < 0 || l >= classes {
			return nil, fmt.Errorf("'%s'[%d] = %v is not a class index in [0, %d)", key, i, it, classes)
		}
		out[i] = int64(l)
	}
	return out, nil
}

// unpickle runs gopickle with only the numpy globals a CIFAR batch needs.
// gopickle indexes its stacks without checking on some malformed inputs, so a
// panic is turned into an error rather than taking the process down.
func unpickle(raw []byte) (obj any, err error) {
	defer func() {
		if r := recover(); r != nil {
			obj, err = nil, fmt.Errorf("malformed pickle: %v", r)
		}
	}()
	u := pickle.NewUnpickler(bytes.NewReader(raw))
	u.FindClass = findNumpyGlobal
	return u.Load()
}

type unsupportedGlobal struct{ module, name string }

func (e unsupportedGlobal) Error() string {
	return fmt.Sprintf("unsupported global %s.%s", e.module, e.name)
}

// findNumpyGlobal resolves the globals numpy arrays pickle through. Anything
// else is refused: loading arbitrary classes is how pickles attack, and a CIFAR
// batch needs nothing more.
func findNumpyGlobal(module, name string) (any, error) {
	switch module + "." + name {
	case "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct":
		return pyFunc(reconstructArray), nil
	case "numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer":
		return pyFunc(frombufferArray), nil
	case "numpy.ndarray":
		return ndarrayClass{}, nil
	case "numpy.dtype":
		return pyFunc(newDtype), nil
	case "_codecs.encode":
		// Python 3 pickles bytes at protocol 2 as encode(str, 'latin1').
		return pyFunc(codecsEncode), nil
	case "__builtin__.bytes", "builtins.bytes":
		// ... and empty bytes as bytes().
		return pyFunc(func(args ...any) (any, error) {
			if len(args) != 0 {
				return nil, fmt.Errorf("bytes() with arguments")
			}
			return []byte{}, nil
		}), nil
	}
	return nil, unsupportedGlobal{module, name}
}

type pyFunc func(args ...any) (any, error)

func (f pyFunc) Call(args ...any) (any, error) { return f(args...) }

type ndarrayClass struct{}

// dtype keeps the type string numpy.dtype was called with, e.g. "u1".
type dtype struct {
	str string
}

// PySetState accepts numpy's dtype state (version, byteorder, ...): for single
// bytes the byte order is irrelevant and nothing else matters to uint8.
func (d *dtype) PySetState(any) error { return nil }

func newDtype(args ...any) (any, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("numpy.dtype() without arguments")
	}
	s, ok := pyBytes(args[0])
	if !ok {
		return nil, fmt.Errorf("numpy.dtype(%T)", args[0])
	}
	return &dtype{str: string(s)}, nil
}

// ndarray is a numpy array as far as needed here: C-order raw bytes.
type ndarray struct {
	shape   []int
	dtype   *dtype
	fortran bool
	data    []byte
	filled  bool
}

func (a *ndarray) checkUint8() error {
	if !a.filled {
		return fmt.Errorf("array state was never set")
	}
	if a.dtype == nil || (a.dtype.str != "u1" && a.dtype.str != "uint8" && a.dtype.str != "|u1") {
		got := "unknown"
		if a.dtype != nil {
			got = a.dtype.str
		}
		return fmt.Errorf("has dtype %q; only uint8 ('u1') is supported", got)
	}
	if a.fortran && len(a.shape) > 1 {
		return fmt.Errorf("is Fortran-ordered; only C order is supported")
	}
	return nil
}

// reconstructArray is numpy.core.multiarray._reconstruct(ndarray, (0,), b'b'):
// it makes an empty array that BUILD then fills through PySetState.
func reconstructArray(args ...any) (any, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("_reconstruct() without arguments")
	}
	if _, ok := args[0].(ndarrayClass); !ok {
		return nil, fmt.Errorf("_reconstruct of %T, want numpy.ndarray", args[0])
	}
	return &ndarray{}, nil
}

// PySetState takes ndarray.__reduce__'s state: (version, shape, dtype,
// is_fortran, rawdata), or the version-less 4-tuple of very old numpy.
func (a *ndarray) PySetState(state any) error {
	t, ok := state.(*types.Tuple)
	if !ok {
		return fmt.Errorf("ndarray state is a %T, want a tuple", state)
	}
	st := []any(*t)
	if len(st) == 5 {
		st = st[1:]
	}
	if len(st) != 4 {
		return fmt.Errorf("ndarray state has %d fields", len(*t))
	}
	shape, err := pyShape(st[0])
	if err != nil {
		return err
	}
	dt, ok := st[1].(*dtype)
	if !ok {
		return fmt.Errorf("ndarray dtype is a %T", st[1])
	}
	data, ok := pyBytes(st[3])
	if !ok {
		return fmt.Errorf("ndarray data is a %T, want bytes (object arrays are not supported)", st[3])
	}
	a.shape, a.dtype, a.fortran, a.data, a.filled = shape, dt, pyTruth(st[2]), data, true
	return nil
}

// frombufferArray is numpy.core.numeric._frombuffer(buf, dtype, shape, order),
// which protocol 5 uses instead of _reconstruct.
func frombufferArray(args ...any) (any, error) {
	if len(args) != 4 {
		return nil, fmt.Errorf("_frombuffer() with %d arguments, want 4", len(args))
	}
	data, ok := pyBytes(args[0])
	if !ok {
		return nil, fmt.Errorf("_frombuffer buffer is a %T", args[0])
	}
	dt, ok := args[1].(*dtype)
	if !ok {
		return nil, fmt.Errorf("_frombuffer dtype is a %T", args[1])
	}
	shape, err := pyShape(args[2])
	if err != nil {
		return nil, err
	}
	order, _ := pyBytes(args[3])
	return &ndarray{shape: shape, dtype: dt, fortran: string(order) == "F", data: data, filled: true}, nil
}

// codecsEncode is _codecs.encode(text, 'latin1'): each code point is one byte.
func codecsEncode(args ...any) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("_codecs.encode() with %d arguments", len(args))
	}
	text, ok1 := args[0].(string)
	enc, ok2 := args[1].(string)
	if !ok1 || !ok2 || (enc != "latin1" && enc != "latin-1" && enc != "iso-8859-1") {
		return nil, fmt.Errorf("_codecs.encode(%T, %v) is not a latin-1 bytes literal", args[0], args[1])
	}
	out := make([]byte, 0, utf8.RuneCountInString(text))
	for _, r := range text {
		if r > 0xff {
			return nil, fmt.Errorf("_codecs.encode: code point U+%04X is not latin-1", r)
		}
		out = append(out, byte(r))
	}
	return out, nil
}

// pyBytes accepts every way a byte string reaches us: a Python 2 str (Go
// string), bytes, or an in-band protocol-5 bytearray.
func pyBytes(v any) ([]byte, bool) {
	switch b := v.(type) {
	case string:
		return []byte(b), true
	case []byte:
		return b, true
	case *types.ByteArray:
		return *b, true
	}
	return nil, false
}

func pyShape(v any) ([]int, error) {
	t, ok := v.(*types.Tuple)
	if !ok {
		return nil, fmt.Errorf("array shape is a %T, want a tuple", v)
	}
	shape := make([]int, len(*t))
	for i, d := range *t {
		n, ok := d.(int)
		if !ok || n < 0 {
			return nil, fmt.Errorf("array shape %v has a bad dimension", *t)
		}
		shape[i] = n
	}
	return shape, nil
}

func pyTruth(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case int:
		return b != 0
	case *big.Int:
		return b.Sign() != 0
	}
	return v != nil
}

// checkPickleBounds walks the opcode stream and rejects any length field that
// points past the end of the data. gopickle allocates a length-prefixed
// argument before reading it, so without this a corrupt 8-byte length would
// ask for terabytes.
func checkPickleBounds(b []byte) error {
	_, err := pickleEnd(b)
	return err
}

// pickleEnd is checkPickleBounds for the pickle at the start of b; it
// returns the offset just past its STOP opcode (more may follow).
func pickleEnd(b []byte) (int, error) {
	i := 0
	need := func(n uint64) error {
		if n > uint64(len(b)-i) {
			return fmt.Errorf("opcode at offset %d needs %d bytes but only %d remain (truncated?)", i, n, len(b)-i)
		}
		return nil
	}
	for i < len(b) {
		op := b[i]
		at := i
		i++
		var width int // bytes of the length prefix, for counted arguments
		switch op {
		case '.': // STOP
			return i, nil
		case '(', '0', '1', '2', 'N', 'Q', 'R', 'a', 'b', 'd', '}', 'e', 'l', ']', 'o', 's', 't', ')', 'u',
			0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x97, 0x98:
			continue
		case 'F', 'I', 'L', 'P', 'S', 'V', 'g', 'p', 'c', 'i':
			lines := 1
			if op == 'c' || op == 'i' {
				lines = 2
			}
			for range lines {
				nl := bytes.IndexByte(b[i:], '\n')
				if nl < 0 {
					return 0, fmt.Errorf("opcode %q at offset %d has no line end (truncated?)", op, at)
				}
				i += nl + 1
			}
			continue
		case 'K', 'h', 'q', 0x80, 0x82:
			if err := need(1); err != nil {
				return 0, err
			}
			i++
			continue
		case 'M', 0x83:
			if err := need(2); err != nil {
				return 0, err
			}
			i += 2
			continue
		case 'J', 'j', 'r', 0x84:
			if err := need(4); err != nil {
				return 0, err
			}
			i += 4
			continue
		case 'G':
			if err := need(8); err != nil {
				return 0, err
			}
			i += 8
			continue
		case 0x95: // FRAME: its contents are ordinary opcodes, so only the size is skipped
			if err := need(8); err != nil {
				return 0, err
			}
			size := binary.LittleEndian.Uint64(b[i:])
			i += 8
			if err := need(size); err != nil {
				return 0, err
			}
			continue
		case 'U', 'C', 0x8c, 0x8a:
			width = 1
		case 'T', 'X', 'B', 0x8b:
			width = 4
		case 0x8d, 0x8e, 0x96:
			width = 8
		default:
			return 0, fmt.Errorf("unknown opcode 0x%02x at offset %d", op, at)
		}
		if err := need(uint64(width)); err != nil {
			return 0, err
		}
		var n uint64
		switch width {
		case 1:
			n = uint64(b[i])
		case 4:
			n = uint64(binary.LittleEndian.Uint32(b[i:]))
		case 8:
			n = binary.LittleEndian.Uint64(b[i:])
		}
		i += width
		if err := need(n); err != nil {
			return 0, err
		}
		i += int(n)
	}
	return 0, fmt.Errorf("no STOP opcode (truncated?)")
}

// ReadCIFARBinary decodes the binary CIFAR format: fixed records of labelBytes
// label bytes followed by 3072 pixel bytes. labelBytes is 1 for CIFAR-10
// (cifar-10-batches-bin) and 2 for CIFAR-100 (cifar-100-binary, coarse then
// fine); for CIFAR-100 Labels holds the fine labels and Coarse the coarse ones.
func ReadCIFARBinary(paths []string, labelBytes int) (*Split, error) {
	if labelBytes != 1 && labelBytes != 2 {
		return nil, errs.Invalidf("cifar: labelBytes must be 1 (CIFAR-10) or 2 (CIFAR-100), got %d", labelBytes)
	}
	if len(paths) == 0 {
		return nil, errs.Invalidf("cifar: no files given")
	}
	record := labelBytes + cifarSample
	// Size every file first so the images are allocated once, at their final size.
	counts := make([]int, len(paths))
	total := 0
	for i, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, errs.NotFoundf("cifar: %s: file does not exist", p)
			}
			return nil, errs.IOf("cifar: %s: %v", p, err)
		}
		if !st.Mode().IsRegular() {
			return nil, errs.Invalidf("cifar: %s: not a regular file", p)
		}
		if st.Size() == 0 {
			return nil, errs.Corruptf("cifar: %s: empty file", p)
		}
		if st.Size()%int64(record) != 0 {
			return nil, errs.Corruptf("cifar: %s: size %d is not a multiple of the %d-byte record (truncated or not a CIFAR binary batch)", p, st.Size(), record)
		}
		counts[i] = int(st.Size() / int64(record))
		total += counts[i]
	}
	s := &Split{
		Images: make([]byte, total*cifarSample),
		Labels: make([]int64, total),
		N:      total, C: cifarC, H: cifarH, W: cifarW,
	}
	if labelBytes == 2 {
		s.Coarse = make([]int64, total)
	}
	row := 0
	for i, p := range paths {
		if err := readCIFARBinaryFile(p, labelBytes, s, row, counts[i]); err != nil {
			return nil, err
		}
		row += counts[i]
	}
	return s, nil
}

func readCIFARBinaryFile(path string, labelBytes int, s *Split, first, count int) error {
	f, err := os.Open(path)
	if err != nil {
		return errs.IOf("cifar: %s: %v", path, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var lab [2]byte
	for k := range count {
		row := first + k
		if _, err := io.ReadFull(r, lab[:labelBytes]); err != nil {
			return cifarReadErr(path, k, err)
		}
		if _, err := io.ReadFull(r, s.Images[row*cifarSample:(row+1)*cifarSample]); err != nil {
			return cifarReadErr(path, k, err)
		}
		if labelBytes == 1 {
			if lab[0] >= cifar10Classes {
				return errs.Corruptf("cifar: %s: record %d has label %d, want [0, %d)", path, k, lab[0], cifar10Classes)
			}
			s.Labels[row] = int64(lab[0])
			continue
		}
		if lab[0] >= cifar100Superclass || lab[1] >= cifar100Classes {
			return errs.Corruptf("cifar: %s: record %d has coarse label %d and fine label %d, want [0, %d) and [0, %d)", path, k, lab[0], lab[1], cifar100Superclass, cifar100Classes)
		}
		s.Coarse[row] = int64(lab[0])
		s.Labels[row] = int64(lab[1])
	}
	return nil
}

func cifarReadErr(path string, record int, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		// The size was checked, so the file shrank while we read it.
		return errs.Corruptf("cifar: %s: truncated at record %d", path, record)
	}
	return errs.IOf("cifar: %s: record %d: %v", path, record, err)
}
