package imagefolder

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/logging"
	"github.com/structure-net/structure-net-data/core/transform"
)

// Pack file layout (little-endian), written front to back in one pass:
//
//	"SNDPACK1"
//	image bytes, concatenated
//	index: count x {u64 offset, u32 length, i32 label}   (8-aligned)
//	names: (count+1) x u32 offsets into the blob that follows, then the blob
//	header JSON (PackHeader)
//	trailer: u64 header offset, u64 header length, "SNDPACK1"
const packMagic = "SNDPACK1"

const packVersion = 1

// PackHeader describes a pack; it is JSON at the end of the file.
type PackHeader struct {
	Version     int        `json:"version"`
	Dataset     string     `json:"dataset"`
	Dir         string     `json:"dir"`
	MaxSide     int        `json:"max_side"`
	Quality     int        `json:"quality"`
	Count       int        `json:"count"`
	IndexOffset int64      `json:"index_offset"`
	NamesOffset int64      `json:"names_offset"`
	Stamps      []DirStamp `json:"stamps"`
	Skipped     []string   `json:"skipped"`
	Created     string     `json:"created"`
}

// DirStamp is a folder's modification time: adding, removing or renaming a
// file changes it, so a pack notices that its folder changed without
// touching the images.
type DirStamp struct {
	Path    string `json:"path"`
	MtimeNs int64  `json:"mtime_ns"`
}

// Pack is a memory-mapped prepared split.
type Pack struct {
	Path    string
	Header  PackHeader
	mapping []byte
	index   []packEntry
	nameOff []uint32
	names   []byte
}

type packEntry struct {
	Offset uint64
	Length uint32
	Label  int32
}

// PackPath is where the pack of a split folder lives in the cache.
func PackPath(cacheDir, name, dir string) string {
	abs, _ := filepath.Abs(dir)
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(cacheDir, "images", name, hex.EncodeToString(sum[:6])+"-"+filepath.Base(abs)+".snpack")
}

// OpenPack maps a pack; ErrNotFound when there is none.
func OpenPack(path string) (*Pack, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errs.NotFoundf("no pack at %s", path)
		}
		return nil, errs.IOf("open pack %s: %v", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, errs.IOf("stat pack %s: %v", path, err)
	}
	size := fi.Size()
	if size < int64(len(packMagic))+24 {
		return nil, errs.Corruptf("pack %s is truncated (%d bytes)", path, size)
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, errs.IOf("map pack %s: %v", path, err)
	}
	p := &Pack{Path: path, mapping: m}
	if err := p.parse(); err != nil {
		syscall.Munmap(m)
		return nil, errs.Corruptf("pack %s: %v", path, err)
	}
	return p, nil
}

func (p *Pack) parse() error {
	m := p.mapping
	n := int64(len(m))
	if string(m[:8]) != packMagic || string(m[n-8:]) != packMagic {
		return errors.New("not a pack (bad magic)")
	}
	hOff := int64(binary.LittleEndian.Uint64(m[n-24:]))
	hLen := int64(binary.LittleEndian.Uint64(m[n-16:]))
	if hOff < 8 || hLen <= 0 || hOff+hLen > n-24 {
		return errors.New("bad trailer")
	}
	if err := json.Unmarshal(m[hOff:hOff+hLen], &p.Header); err != nil {
		return err
	}
	h := &p.Header
	if h.Version != packVersion {
		return errors.New("unsupported pack version")
	}
	cnt := int64(h.Count)
	if cnt < 0 || h.IndexOffset%8 != 0 || h.IndexOffset+16*cnt > h.NamesOffset || h.NamesOffset+4*(cnt+1) > hOff {
		return errors.New("bad index offsets")
	}
	if cnt > 0 {
		p.index = unsafe.Slice((*packEntry)(unsafe.Pointer(&m[h.IndexOffset])), cnt)
	}
	p.nameOff = unsafe.Slice((*uint32)(unsafe.Pointer(&m[h.NamesOffset])), cnt+1)
	p.names = m[h.NamesOffset+4*(cnt+1) : hOff]
	for i, e := range p.index {
		if e.Offset < 8 || int64(e.Offset)+int64(e.Length) > h.IndexOffset || p.nameOff[i] > p.nameOff[i+1] {
			return errors.New("index entry out of range")
		}
	}
	if int(p.nameOff[cnt]) > len(p.names) {
		return errors.New("names out of range")
	}
	return nil
}

// Fresh reports whether the folder the pack was made from is unchanged.
func (p *Pack) Fresh(dir string) bool {
	abs, _ := filepath.Abs(dir)
	if abs != p.Header.Dir {
		return false
	}
	now, err := dirStamps(dir)
	if err != nil || len(now) != len(p.Header.Stamps) {
		return false
	}
	for i := range now {
		if now[i] != p.Header.Stamps[i] {
			return false
		}
	}
	return true
}

func (p *Pack) Len() int          { return len(p.index) }
func (p *Pack) Label(i int) int32 { return p.index[i].Label }
func (p *Pack) Size() int64       { return int64(len(p.mapping)) }

// Data is image i's bytes, inside the mapping.
func (p *Pack) Data(i int) []byte {
	e := p.index[i]
	return p.mapping[e.Offset : e.Offset+uint64(e.Length) : e.Offset+uint64(e.Length)]
}

// Name is image i's path relative to the split folder.
func (p *Pack) Name(i int) string { return string(p.names[p.nameOff[i]:p.nameOff[i+1]]) }

// Close unmaps the pack.
func (p *Pack) Close() error {
	if p.mapping == nil {
		return nil
	}
	err := syscall.Munmap(p.mapping)
	p.mapping, p.index, p.nameOff, p.names = nil, nil, nil, nil
	if err != nil {
		return errs.IOf("unmap %s: %v", p.Path, err)
	}
	return nil
}

// dirStamps stamps dir and its immediate sub-folders, in name order.
func dirStamps(dir string) ([]DirStamp, error) {
	abs, _ := filepath.Abs(dir)
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	out := []DirStamp{{abs, fi.ModTime().UnixNano()}}
	subs, err := ClassDirs(abs)
	if err != nil {
		return nil, err
	}
	for _, s := range subs {
		fi, err := os.Stat(filepath.Join(abs, s))
		if err != nil {
			return nil, err
		}
		out = append(out, DirStamp{s, fi.ModTime().UnixNano()})
	}
	return out, nil
}

// PrepareOptions control Prepare. JSON names match the Python keywords.
type PrepareOptions struct {
	MaxSide  int                     `json:"max_side"` // longer side cap; larger images are resized and re-encoded
	Quality  int                     `json:"quality"`  // JPEG quality of re-encoded images
	Threads  int                     `json:"threads"`
	Progress func(done, total int64) `json:"-"`
}

// Prepare writes the pack of one split: every image validated by a full
// decode; those with a side longer than MaxSide resized (Pillow-exact
// bilinear with antialias, keeping the aspect ratio) and re-encoded as JPEG
// at Quality, the others stored as they are. With on_error="skip" bad
// images are left out (and listed in the header); else the first one is an
// error. Returns the pack's path.
func (d *Dataset) Prepare(ctx context.Context, split *Split, opt PrepareOptions) (string, error) {
	if split.List == nil {
		return "", errs.Invalidf("the %s split is served from a pack; open with force_reload to prepare it again", split.Name)
	}
	if opt.MaxSide <= 0 {
		opt.MaxSide = 256
	}
	if opt.Quality == 0 {
		opt.Quality = 90
	}
	if opt.Quality < 1 || opt.Quality > 100 {
		return "", errs.Invalidf("quality must be in [1, 100], got %d", opt.Quality)
	}
	if opt.Threads <= 0 {
		opt.Threads = runtime.GOMAXPROCS(0)
	}
	stamps, err := dirStamps(split.Dir)
	if err != nil {
		return "", errs.IOf("stat %s: %v", split.Dir, err)
	}
	path := PackPath(d.opts.CacheDir, d.Config.Name, split.Dir)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", errs.IOf("create %s: %v", filepath.Dir(path), err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".pack-*")
	if err != nil {
		return "", errs.IOf("create pack in %s: %v", filepath.Dir(path), err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	w := bufio.NewWriterSize(tmp, 1<<20)
	off := int64(0)
	write := func(b []byte) {
		if err == nil {
			_, err = w.Write(b)
			off += int64(len(b))
		}
	}
	write([]byte(packMagic))
	list := split.List
	n := list.Len()
	var index []packEntry
	var names []byte
	nameOff := []uint32{0}
	var skipped []string
	const chunk = 256
	out := make([][]byte, chunk)
	fails := make([]error, chunk)
	for lo := 0; lo < n && err == nil; lo += chunk {
		if cerr := ctx.Err(); cerr != nil {
			return "", errs.Closedf("prepare cancelled: %v", cerr)
		}
		hi := min(lo+chunk, n)
		var wg sync.WaitGroup
		next := make(chan int)
		for t := 0; t < opt.Threads; t++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					out[i-lo], fails[i-lo] = prepareOne(split.Path(i), opt)
				}
			}()
		}
		for i := lo; i < hi; i++ {
			next <- i
		}
		close(next)
		wg.Wait()
		for i := lo; i < hi; i++ {
			if e := fails[i-lo]; e != nil {
				if d.opts.OnError != "skip" || !skippable(e) {
					return "", e
				}
				d.noteBad(split.Path(i), e)
				skipped = append(skipped, list.Paths[i])
				continue
			}
			index = append(index, packEntry{uint64(off), uint32(len(out[i-lo])), list.Labels[i]})
			write(out[i-lo])
			names = append(names, list.Paths[i]...)
			nameOff = append(nameOff, uint32(len(names)))
			out[i-lo] = nil
		}
		if opt.Progress != nil {
			opt.Progress(int64(hi), int64(n))
		}
	}
	if pad := (8 - off%8) % 8; pad > 0 {
		write(make([]byte, pad))
	}
	h := PackHeader{Version: packVersion, Dataset: d.Config.Name, Dir: stamps[0].Path, MaxSide: opt.MaxSide, Quality: opt.Quality,
		Count: len(index), Stamps: stamps, Skipped: skipped, Created: time.Now().UTC().Format(time.RFC3339)}
	h.IndexOffset = off
	if len(index) > 0 {
		write(unsafe.Slice((*byte)(unsafe.Pointer(&index[0])), 16*len(index)))
	}
	h.NamesOffset = off
	write(unsafe.Slice((*byte)(unsafe.Pointer(&nameOff[0])), 4*len(nameOff)))
	write(names)
	hb, _ := json.Marshal(h)
	hOff := off
	write(hb)
	var trailer [24]byte
	binary.LittleEndian.PutUint64(trailer[0:], uint64(hOff))
	binary.LittleEndian.PutUint64(trailer[8:], uint64(len(hb)))
	copy(trailer[16:], packMagic)
	write(trailer[:])
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if err != nil {
		return "", errs.IOf("write pack %s: %v", tmp.Name(), err)
	}
	tmp.Close()
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", errs.IOf("install pack %s: %v", path, err)
	}
	logging.L().Info().Str("dataset", d.Config.Name).Str("split", split.Name).Str("pack", path).
		Int("images", len(index)).Int("skipped", len(skipped)).Int64("bytes", off).Msg("prepared image pack")
	return path, nil
}

// prepareOne validates one image and returns the bytes to store.
func prepareOne(path string, opt PrepareOptions) ([]byte, error) {
	data, err := readFile(path, nil)
	if err != nil {
		return nil, err
	}
	dec, err := NewDecoder(data)
	if err != nil {
		return nil, wrapFile(path, err)
	}
	w, h := dec.Size()
	if max(w, h) <= opt.MaxSide {
		// Small enough: keep the original bytes after checking they decode.
		_, err := dec.Decode(8, transform.Rect{X0: 0, Y0: 0, X1: w, Y1: h})
		if jd, ok := dec.(*jpegDecoder); ok {
			jd.release()
		}
		if err != nil {
			return nil, wrapFile(path, err)
		}
		return data, nil
	}
	nw, nh := opt.MaxSide, max(1, int(float64(h)*float64(opt.MaxSide)/float64(w)+0.5))
	if h > w {
		nw, nh = max(1, int(float64(w)*float64(opt.MaxSide)/float64(h)+0.5)), opt.MaxSide
	}
	img, err := transform.Resize(dec, nw, nh)
	if jd, ok := dec.(*jpegDecoder); ok {
		jd.release()
	}
	if err != nil {
		return nil, wrapFile(path, err)
	}
	return Encode(img.Pix, img.W, img.H, img.C, opt.Quality)
}
