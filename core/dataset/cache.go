package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/structure-net/structure-net-data/core/errs"
)

// cacheFormatVersion changes whenever the cache layout changes, so old files are rebuilt.
const cacheFormatVersion = "2"

// SourceStamp identifies a source file: size and mtime let a cache notice
// cheaply that its sources changed; SHA256 is the file's real checksum,
// computed once when the cache is built and recorded in dataset metadata.
type SourceStamp struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
	SHA256  string `json:"sha256"`
}

// StampFiles stats and hashes paths.
func StampFiles(paths []string) ([]SourceStamp, error) {
	out := make([]SourceStamp, 0, len(paths))
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, errs.IOf("open %s: %v", p, err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, errs.IOf("stat %s: %v", p, err)
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return nil, errs.IOf("read %s: %v", p, err)
		}
		abs, _ := filepath.Abs(p)
		out = append(out, SourceStamp{abs, fi.Size(), fi.ModTime().UnixNano(), hex.EncodeToString(h.Sum(nil))})
	}
	return out, nil
}

// Checksum combines the sources' SHA-256s into one digest ("sha256:...");
// empty when there are no sources.
func Checksum(sources []SourceStamp) string {
	if len(sources) == 0 {
		return ""
	}
	h := sha256.New()
	for _, s := range sources {
		io.WriteString(h, filepath.Base(s.Path)+":"+s.SHA256+"\n")
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Mapped is a split whose arrays point into a read-only memory mapping of a
// cache file. Close unmaps it; the Split must not be used afterwards.
type Mapped struct {
	*Split
	Path    string
	Sources []SourceStamp
	mapping []byte
}

// Close unmaps the file. It is idempotent.
func (m *Mapped) Close() error {
	if m.mapping == nil {
		return nil
	}
	err := syscall.Munmap(m.mapping)
	m.mapping = nil
	m.Split = nil
	return err
}

func cacheSchema(s *Split, sources []SourceStamp) *arrow.Schema {
	fields := []arrow.Field{
		{Name: "image", Type: &arrow.FixedSizeBinaryType{ByteWidth: s.SampleBytes()}},
		{Name: "label", Type: arrow.PrimitiveTypes.Int64},
	}
	if s.Coarse != nil {
		fields = append(fields, arrow.Field{Name: "coarse_label", Type: arrow.PrimitiveTypes.Int64})
	}
	src, _ := json.Marshal(sources)
	shape, _ := json.Marshal([]int{s.C, s.H, s.W})
	md := arrow.NewMetadata(
		[]string{"snd.cache_version", "snd.shape", "snd.layout", "snd.sources"},
		[]string{cacheFormatVersion, string(shape), "CHW uint8", string(src)},
	)
	return arrow.NewSchema(fields, &md)
}

// WriteCache writes s as an Arrow IPC file at path, atomically: a reader sees
// either no file or a complete one, also after a crash mid-write.
func WriteCache(path string, s *Split, sources []SourceStamp) (err error) {
	if err := s.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return errs.IOf("create cache folder: %v", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return errs.IOf("create cache file: %v", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	schema := cacheSchema(s, sources)
	// The arrays wrap the split's slices directly: nothing is copied on the way to disk.
	cols := []arrow.Array{
		newArray(schema.Field(0).Type, s.N, memory.NewBufferBytes(s.Images)),
		newArray(arrow.PrimitiveTypes.Int64, s.N, memory.NewBufferBytes(int64Bytes(s.Labels))),
	}
	if s.Coarse != nil {
		cols = append(cols, newArray(arrow.PrimitiveTypes.Int64, s.N, memory.NewBufferBytes(int64Bytes(s.Coarse))))
	}
	rec := array.NewRecordBatch(schema, cols, int64(s.N))
	defer rec.Release()
	for _, c := range cols {
		c.Release()
	}
	w, err := ipc.NewFileWriter(tmp, ipc.WithSchema(schema))
	if err != nil {
		return errs.IOf("cache writer: %v", err)
	}
	if err := w.Write(rec); err != nil {
		return errs.IOf("write cache %s: %v", path, err)
	}
	if err := w.Close(); err != nil {
		return errs.IOf("write cache %s: %v", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return errs.IOf("chmod cache %s: %v", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return errs.IOf("sync cache %s: %v", path, err)
	}
	if err := tmp.Close(); err != nil {
		return errs.IOf("close cache %s: %v", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return errs.IOf("install cache %s: %v", path, err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

// OpenCache memory-maps a cache file written by WriteCache. The returned
// arrays alias the mapping; no sample bytes are copied or decoded.
func OpenCache(path string) (*Mapped, error) {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, errs.NotFoundf("cache file %s does not exist", path)
		}
		return nil, errs.IOf("open cache %s: %v", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, errs.IOf("stat cache %s: %v", path, err)
	}
	if fi.Size() < 16 {
		return nil, errs.Corruptf("cache file %s is truncated (%d bytes)", path, fi.Size())
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, errs.IOf("mmap cache %s: %v", path, err)
	}
	m, err := decodeMapped(path, data)
	if err != nil {
		syscall.Munmap(data)
		return nil, err
	}
	return m, nil
}

func decodeMapped(path string, data []byte) (m *Mapped, err error) {
	defer func() {
		// The IPC reader trusts offsets in the footer; a damaged file can make it
		// panic. That is corruption, not a crash.
		if r := recover(); r != nil {
			m, err = nil, errs.Corruptf("cache file %s is corrupt: %v", path, r)
		}
	}()
	rd, err := ipc.NewMappedFileReader(data)
	if err != nil {
		return nil, errs.Corruptf("cache file %s is not a valid Arrow file: %v", path, err)
	}
	defer rd.Close()
	schema := rd.Schema()
	md := schema.Metadata()
	if v, _ := md.GetValue("snd.cache_version"); v != cacheFormatVersion {
		return nil, errs.Corruptf("cache file %s has layout version %q, want %q", path, v, cacheFormatVersion)
	}
	var shape []int
	sv, _ := md.GetValue("snd.shape")
	if json.Unmarshal([]byte(sv), &shape) != nil || len(shape) != 3 {
		return nil, errs.Corruptf("cache file %s has no valid shape metadata", path)
	}
	var sources []SourceStamp
	if sv, ok := md.GetValue("snd.sources"); ok {
		_ = json.Unmarshal([]byte(sv), &sources)
	}
	if rd.NumRecords() != 1 {
		return nil, errs.Corruptf("cache file %s has %d record batches, want 1", path, rd.NumRecords())
	}
	rec, err := rd.RecordBatch(0)
	if err != nil {
		return nil, errs.Corruptf("cache file %s: %v", path, err)
	}
	n := int(rec.NumRows())
	s := &Split{N: n, C: shape[0], H: shape[1], W: shape[2]}
	img, ok := rec.Column(0).(*array.FixedSizeBinary)
	if !ok || img.NullN() > 0 {
		return nil, errs.Corruptf("cache file %s: bad image column", path)
	}
	width := s.C * s.H * s.W
	buf := img.Data().Buffers()[1]
	off := img.Data().Offset() * width
	if buf == nil || off+n*width > buf.Len() {
		return nil, errs.Corruptf("cache file %s: image buffer too short", path)
	}
	s.Images = buf.Bytes()[off : off+n*width]
	lab, ok := rec.Column(1).(*array.Int64)
	if !ok {
		return nil, errs.Corruptf("cache file %s: bad label column", path)
	}
	s.Labels = lab.Int64Values()
	if rec.NumCols() > 2 {
		if c, ok := rec.Column(2).(*array.Int64); ok {
			s.Coarse = c.Int64Values()
		}
	}
	if err := s.Validate(); err != nil {
		return nil, errs.Corruptf("cache file %s: %v", path, err)
	}
	return &Mapped{Split: s, Path: path, Sources: sources, mapping: data}, nil
}

// Fresh reports whether every recorded source still has the same size and mtime.
// Missing sources do not make a cache stale: the cache may outlive them.
func (m *Mapped) Fresh() bool {
	for _, s := range m.Sources {
		fi, err := os.Stat(s.Path)
		if err != nil {
			continue
		}
		if fi.Size() != s.Size || fi.ModTime().UnixNano() != s.ModTime {
			return false
		}
	}
	return true
}

func int64Bytes(v []int64) []byte {
	if len(v) == 0 {
		return nil
	}
	return arrow.Int64Traits.CastToBytes(v)
}

// CachePath is where the decoded split of a dataset is cached.
func CachePath(cacheDir, name, version, split string) string {
	return filepath.Join(cacheDir, name, fmt.Sprintf("%s-v%s-c%s.arrow", split, sanitizeVersion(version), cacheFormatVersion))
}

func sanitizeVersion(v string) string {
	out := []byte{}
	for _, c := range []byte(v) {
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '_' {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return strconv.Itoa(len(v))
	}
	return string(out)
}
