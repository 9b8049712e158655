package timeseries

/*
#cgo pkg-config: hdf5
#cgo LDFLAGS: -lz
#include <stdlib.h>
#include "h5.h"
*/
import "C"

import (
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/structure-net/structure-net-data/core/errs"
)

// hid is an HDF5 identifier; negative means none.
type hid = C.hid_t

const noID hid = -1

// hdf5Ready initialises libhdf5 on first use and reports, then and on every
// later call, whether that failed. Every path into HDF5 starts by creating or
// opening a file, and those functions return this error.
var hdf5Ready = sync.OnceValue(func() error {
	begin()
	defer end()
	if C.ts_init() < 0 {
		return h5fail(errs.Unavailablef, "timeseries: initialise libhdf5")
	}
	return nil
})

// HDF5Version is the version of the libhdf5 the package is linked against,
// or "" when it failed to initialise.
func HDF5Version() string {
	if hdf5Ready() != nil {
		return ""
	}
	return C.GoString(C.ts_lib_version())
}

// FilterAvailable reports whether a compression filter ("none", "gzip",
// "lzf") can be used; the package registers its own LZF filter when it
// initialises libhdf5.
func FilterAvailable(name string) bool {
	f, err := filterCode(name)
	if err != nil || hdf5Ready() != nil {
		return false
	}
	begin()
	defer end()
	return C.ts_filter_available(f) == 1
}

func filterCode(name string) (C.int, error) {
	switch name {
	case "none", "":
		return C.TS_FILTER_NONE, nil
	case "gzip":
		return C.TS_FILTER_GZIP, nil
	case "lzf":
		return C.TS_FILTER_LZF, nil
	}
	return 0, errs.Invalidf("timeseries: unknown compression %q (want gzip, lzf or none)", name)
}

// begin pins the goroutine to its OS thread for one HDF5 call sequence:
// libhdf5's error stack is per thread, and the message read after a failure
// must come from the thread that failed.
func begin() {
	runtime.LockOSThread()
	C.ts_clear_error()
}

func end() { runtime.UnlockOSThread() }

// stackText drains the calling thread's HDF5 error stack.
func stackText() string {
	p := C.ts_error_text()
	if p == nil {
		return "unknown HDF5 error"
	}
	defer C.free(unsafe.Pointer(p))
	return C.GoString(p)
}

// h5fail builds an error of the given kind from the HDF5 error stack.
func h5fail(kind func(string, ...any) error, what string) error {
	return kind("%s: %s", what, stackText())
}

func cstr(s string) *C.char { return C.CString(s) }

func free(p *C.char) { C.free(unsafe.Pointer(p)) }

func kindCode(k Kind) C.int {
	switch k {
	case KindFloat64:
		return C.TS_F64
	case KindInt64:
		return C.TS_I64
	case KindBool:
		return C.TS_BOOL
	default:
		return C.TS_STR
	}
}

// ---- files -----------------------------------------------------------------

func h5Create(path string, paged bool) (hid, error) {
	if err := hdf5Ready(); err != nil {
		return noID, err
	}
	cs := cstr(path)
	defer free(cs)
	p := C.int(0)
	if paged {
		p = 1
	}
	begin()
	defer end()
	f := C.ts_file_create(cs, p)
	if f < 0 {
		return noID, h5fail(errs.IOf, "create "+path)
	}
	return f, nil
}

func h5OpenWrite(path string) (hid, error) {
	if err := hdf5Ready(); err != nil {
		return noID, err
	}
	cs := cstr(path)
	defer free(cs)
	begin()
	defer end()
	f := C.ts_file_open_write(cs)
	if f < 0 {
		msg := stackText()
		if strings.Contains(msg, "unable to lock") {
			return noID, errs.Conflictf("timeseries: %s is open in another program that holds a lock on it "+
				"(h5py readers should open it with swmr=True): %s", path, msg)
		}
		return noID, errs.Corruptf("open %s for writing: %s", path, msg)
	}
	return f, nil
}

// h5OpenFiles counts the HDF5 files this process has open; tests use it to
// check that closing a store leaves none open.
func h5OpenFiles() int {
	begin()
	defer end()
	return int(C.H5Fget_obj_count(C.H5F_OBJ_ALL, C.H5F_OBJ_FILE))
}

func h5OpenRead(path string) (hid, error) {
	if err := hdf5Ready(); err != nil {
		return noID, err
	}
	cs := cstr(path)
	defer free(cs)
	begin()
	defer end()
	f := C.ts_file_open_read(cs)
	if f < 0 {
		return noID, h5fail(errs.Corruptf, "open "+path)
	}
	return f, nil
}

func h5Flush(f hid) error {
	begin()
	defer end()
	if C.ts_file_flush(f) < 0 {
		return h5fail(errs.IOf, "flush")
	}
	return nil
}

func h5CloseFile(f hid) error {
	if f < 0 {
		return nil
	}
	begin()
	defer end()
	if C.ts_file_close(f) < 0 {
		return h5fail(errs.IOf, "close")
	}
	return nil
}

// ---- groups, datasets --------------------------------------------------------

func h5GroupCreate(loc hid, name string) (hid, error) {
	cs := cstr(name)
	defer free(cs)
	begin()
	defer end()
	g := C.ts_group_create(loc, cs)
	if g < 0 {
		return noID, h5fail(errs.IOf, "create group "+name)
	}
	return g, nil
}

func h5GroupOpen(loc hid, name string) (hid, error) {
	cs := cstr(name)
	defer free(cs)
	begin()
	defer end()
	g := C.ts_group_open(loc, cs)
	if g < 0 {
		return noID, h5fail(errs.Corruptf, "open group "+name)
	}
	return g, nil
}

func h5GroupClose(g hid) {
	if g >= 0 {
		begin()
		C.ts_group_close(g)
		end()
	}
}

func h5DatasetCreate(loc hid, name string, k Kind, chunk int, filter string, level int) (hid, error) {
	fc, err := filterCode(filter)
	if err != nil {
		return noID, err
	}
	cs := cstr(name)
	defer free(cs)
	begin()
	defer end()
	d := C.ts_dset_create(loc, cs, kindCode(k), C.int64_t(chunk), fc, C.int(level))
	if d < 0 {
		return noID, h5fail(errs.IOf, "create dataset "+name)
	}
	return d, nil
}

func h5DatasetOpen(loc hid, name string) (hid, error) { return h5DatasetOpenCached(loc, name, 0) }

// h5DatasetOpenCached opens a dataset with a chunk cache of cacheBytes (0:
// libhdf5's default, 1 MiB).
func h5DatasetOpenCached(loc hid, name string, cacheBytes int64) (hid, error) {
	cs := cstr(name)
	defer free(cs)
	begin()
	defer end()
	d := C.ts_dset_open(loc, cs, C.int64_t(cacheBytes))
	if d < 0 {
		return noID, h5fail(errs.Corruptf, "open dataset "+name)
	}
	return d, nil
}

func h5DatasetClose(d hid) {
	if d >= 0 {
		begin()
		C.ts_dset_close(d)
		end()
	}
}

func h5DatasetLen(d hid) (int64, error) {
	begin()
	defer end()
	n := C.ts_dset_len(d)
	if n < 0 {
		return 0, h5fail(errs.Corruptf, "dataset extent")
	}
	return int64(n), nil
}

// h5Append extends d to start+n rows and writes the rows; buf points to n
// values of the kind's memory type (for strings, n C string pointers).
func h5Append(d hid, k Kind, start, n int64, buf unsafe.Pointer) error {
	begin()
	defer end()
	if C.ts_dset_append(d, kindCode(k), C.int64_t(start), C.int64_t(n), buf) < 0 {
		return h5fail(errs.IOf, "append")
	}
	return nil
}

func h5Read(d hid, k Kind, start, count, stride int64, out unsafe.Pointer) error {
	begin()
	defer end()
	if C.ts_dset_read(d, kindCode(k), C.int64_t(start), C.int64_t(count), C.int64_t(stride), out) < 0 {
		return h5fail(errs.Corruptf, "read")
	}
	return nil
}

func h5ReadPoints(d hid, k Kind, idx []uint64, out unsafe.Pointer) error {
	if len(idx) == 0 {
		return nil
	}
	begin()
	defer end()
	if C.ts_dset_read_points(d, kindCode(k), (*C.uint64_t)(unsafe.Pointer(&idx[0])), C.int64_t(len(idx)), out) < 0 {
		return h5fail(errs.Corruptf, "read")
	}
	return nil
}

// ---- attributes --------------------------------------------------------------

func h5AttrWriteString(obj hid, name, value string) error {
	cn, cv := cstr(name), cstr(value)
	defer free(cn)
	defer free(cv)
	begin()
	defer end()
	if C.ts_attr_write_str(obj, cn, cv) < 0 {
		return h5fail(errs.IOf, "write attribute "+name)
	}
	return nil
}

func h5AttrReadString(obj hid, name string) (string, error) {
	cn := cstr(name)
	defer free(cn)
	begin()
	defer end()
	p := C.ts_attr_read_str(obj, cn)
	if p == nil {
		return "", h5fail(errs.Corruptf, "read attribute "+name)
	}
	defer C.free(unsafe.Pointer(p))
	return C.GoString(p), nil
}

func h5AttrWriteInt(obj hid, name string, v int64) error {
	cn := cstr(name)
	defer free(cn)
	begin()
	defer end()
	if C.ts_attr_write_i64(obj, cn, C.int64_t(v)) < 0 {
		return h5fail(errs.IOf, "write attribute "+name)
	}
	return nil
}

func h5AttrReadInt(obj hid, name string) (int64, error) {
	cn := cstr(name)
	defer free(cn)
	var v C.int64_t
	begin()
	defer end()
	if C.ts_attr_read_i64(obj, cn, &v) < 0 {
		return 0, h5fail(errs.Corruptf, "read attribute "+name)
	}
	return int64(v), nil
}

func h5SummaryWrite(obj hid, st []colStats) error {
	cs := make([]C.ts_stat, len(st))
	for i := range st {
		cs[i] = st[i].toC()
	}
	var p *C.ts_stat
	if len(cs) > 0 {
		p = &cs[0]
	}
	begin()
	defer end()
	if C.ts_summary_write(obj, p, C.int64_t(len(cs))) < 0 {
		return h5fail(errs.IOf, "write summary")
	}
	return nil
}

// h5SummaryRead returns ok=false when the stored summary covers a different
// number of columns than n (it is then recomputed from the data).
func h5SummaryRead(obj hid, n int) (st []colStats, ok bool, err error) {
	if n == 0 {
		return nil, true, nil
	}
	cs := make([]C.ts_stat, n)
	begin()
	defer end()
	switch C.ts_summary_read(obj, &cs[0], C.int64_t(n)) {
	case 0:
	case -2:
		return nil, false, nil
	default:
		return nil, false, h5fail(errs.Corruptf, "read summary")
	}
	st = make([]colStats, n)
	for i := range cs {
		st[i] = statsFromC(cs[i])
	}
	return st, true, nil
}

func (s colStats) toC() C.ts_stat {
	return C.ts_stat{
		rows: C.int64_t(s.Rows), count: C.int64_t(s.Count), missing: C.int64_t(s.Missing), nan: C.int64_t(s.NaN),
		posinf: C.int64_t(s.PosInf), neginf: C.int64_t(s.NegInf),
		sum: C.double(s.Sum), sumc: C.double(s.SumC), min: C.double(s.Min), max: C.double(s.Max), last: C.double(s.Last),
		argmin: C.int64_t(s.ArgMin), argmax: C.int64_t(s.ArgMax), last_row: C.int64_t(s.LastRow),
		imin: C.int64_t(s.IMin), imax: C.int64_t(s.IMax), ilast: C.int64_t(s.ILast),
	}
}

func statsFromC(c C.ts_stat) colStats {
	return colStats{
		Rows: int64(c.rows), Count: int64(c.count), Missing: int64(c.missing), NaN: int64(c.nan),
		PosInf: int64(c.posinf), NegInf: int64(c.neginf),
		Sum: float64(c.sum), SumC: float64(c.sumc), Min: float64(c.min), Max: float64(c.max), Last: float64(c.last),
		ArgMin: int64(c.argmin), ArgMax: int64(c.argmax), LastRow: int64(c.last_row),
		IMin: int64(c.imin), IMax: int64(c.imax), ILast: int64(c.ilast),
	}
}

// ---- strings -------------------------------------------------------------------

// cStrings copies ss into C memory for a variable-length string write; the
// caller frees the result with freeCStrings.
func cStrings(ss []string) []*C.char {
	out := make([]*C.char, len(ss))
	for i, s := range ss {
		out[i] = C.CString(s)
	}
	return out
}

func freeCStrings(ps []*C.char) {
	for _, p := range ps {
		C.free(unsafe.Pointer(p))
	}
}

// goStrings copies strings libhdf5 allocated during a read and frees them.
func goStrings(ps []*C.char) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		if p != nil {
			out[i] = C.GoString(p)
		}
	}
	if len(ps) > 0 {
		begin()
		C.ts_free_strings(&ps[0], C.int64_t(len(ps)))
		end()
	}
	return out
}

// readStrings allocates n string slots, lets read fill them with strings
// libhdf5 allocates, and copies them into Go strings.
func readStrings(n int, read func(out unsafe.Pointer) error) ([]string, error) {
	ps := make([]*C.char, n)
	err := read(unsafe.Pointer(&ps[0]))
	out := goStrings(ps)
	return out, err
}

func h5SetExtent(d hid, rows int64) error {
	begin()
	defer end()
	if C.ts_set_extent(d, C.int64_t(rows)) < 0 {
		return h5fail(errs.IOf, "extend")
	}
	return nil
}

func compressBound(n int) int { return int(C.ts_compress_bound(C.int64_t(n))) }

// compressChunk shuffles and compresses one chunk for the named filter ("gzip"
// or "lzf") into dst (sized with compressBound) using tmp (the chunk's size),
// and returns the stored length and the HDF5 filter mask (filters skipped).
// It runs without libhdf5's lock.
func compressChunk(filter string, src unsafe.Pointer, nelem, esize, level int, tmp, dst []byte) (int, uint32, error) {
	fc, err := filterCode(filter)
	if err != nil {
		return 0, 0, err
	}
	var n C.int64_t
	var mask C.uint32_t
	if C.ts_compress_chunk(fc, src, C.int64_t(nelem), C.int(esize), C.int(level), unsafe.Pointer(&tmp[0]),
		unsafe.Pointer(&dst[0]), C.int64_t(len(dst)), &n, &mask) < 0 {
		return 0, 0, errs.IOf("timeseries: compression failed (out of memory?)")
	}
	return int(n), uint32(mask), nil
}

func h5WriteChunk(d hid, row int64, mask uint32, buf []byte) error {
	begin()
	defer end()
	if C.ts_write_chunk(d, C.int64_t(row), C.uint32_t(mask), unsafe.Pointer(&buf[0]), C.int64_t(len(buf))) < 0 {
		return h5fail(errs.IOf, "write chunk")
	}
	return nil
}

// lzfCompress and lzfDecompress expose the LZF codec to the package's tests.
func lzfCompress(in []byte) []byte {
	if len(in) == 0 {
		return nil
	}
	out := make([]byte, len(in)+len(in)/16+64)
	n := C.ts_lzf_compress(unsafe.Pointer(&in[0]), C.size_t(len(in)), unsafe.Pointer(&out[0]), C.size_t(len(out)))
	return out[:n]
}

func lzfDecompress(in []byte, size int) ([]byte, bool) {
	if len(in) == 0 || size == 0 {
		return nil, len(in) == 0
	}
	out := make([]byte, size)
	n := C.ts_lzf_decompress(unsafe.Pointer(&in[0]), C.size_t(len(in)), unsafe.Pointer(&out[0]), C.size_t(size))
	return out[:n], n > 0
}
