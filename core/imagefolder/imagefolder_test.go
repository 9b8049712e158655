package imagefolder_test

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/structure-net/structure-net-data/core/dataset"
	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/imagefolder"
	"github.com/structure-net/structure-net-data/core/loader"
	"github.com/structure-net/structure-net-data/core/transform"
)

// texture makes a w x h RGB image with structure at several scales (JPEG
// encodes it like a photo, unlike flat colour or pure noise).
func texture(w, h int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	pix := make([]byte, w*h*3)
	fx, fy := 0.02+rng.Float64()*0.1, 0.02+rng.Float64()*0.1
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				v := 128 + 60*sinApprox(float64(x)*fx*float64(c+1)+float64(y)*fy) + float64(rng.IntN(30)) - 15
				pix[(y*w+x)*3+c] = byte(min(255, max(0, v)))
			}
		}
	}
	return pix
}

// sinApprox is a smooth periodic wave in [-1, 1] (a triangle wave rounded off).
func sinApprox(t float64) float64 {
	t = t/6.283185307179586 - float64(int(t/6.283185307179586))
	if t < 0 {
		t++
	}
	v := 4*t - 1
	if t > 0.5 {
		v = 3 - 4*t
	}
	return v * (1.5 - 0.5*v*v)
}

func writeJPEG(t *testing.T, path string, w, h int, seed uint64) []byte {
	t.Helper()
	data, err := imagefolder.Encode(texture(w, h, seed), w, h, 3, 90)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

func decodeAll(t *testing.T, data []byte) *transform.Image {
	t.Helper()
	dec, err := imagefolder.NewDecoder(data)
	if err != nil {
		t.Fatal(err)
	}
	w, h := dec.Size()
	img, err := dec.Decode(8, transform.Rect{X0: 0, Y0: 0, X1: w, Y1: h})
	if err != nil {
		t.Fatal(err)
	}
	// Copy out: the decoder's buffer is reused.
	out := *img
	out.Pix = slices.Clone(img.Pix)
	return &out
}

func TestImageRegionDecodeEqualsFullDecode(t *testing.T) {
	data := writeJPEG(t, filepath.Join(t.TempDir(), "a.jpg"), 333, 251, 1)
	full := decodeAll(t, data)
	if full.C != 3 || full.Rect != (transform.Rect{X0: 0, Y0: 0, X1: 333, Y1: 251}) {
		t.Fatalf("full decode: %d channels, region %v", full.C, full.Rect)
	}
	for _, r := range []transform.Rect{{X0: 40, Y0: 33, X1: 200, Y1: 120}, {X0: 0, Y0: 200, X1: 333, Y1: 251}, {X0: 301, Y0: 0, X1: 333, Y1: 17}} {
		dec, _ := imagefolder.NewDecoder(data)
		part, err := dec.Decode(8, r)
		if err != nil {
			t.Fatal(err)
		}
		if part.Rect.X0 > r.X0 || part.Rect.Y0 > r.Y0 || part.Rect.X1 < r.X1 || part.Rect.Y1 < r.Y1 {
			t.Fatalf("asked for %v, got %v", r, part.Rect)
		}
		for y := r.Y0; y < r.Y1; y++ {
			got := part.Pix[(y-part.Rect.Y0)*part.Stride+(r.X0-part.Rect.X0)*3:][:r.Dx()*3]
			want := full.Pix[y*full.Stride+r.X0*3:][:r.Dx()*3]
			if !slices.Equal(got, want) {
				t.Fatalf("region %v row %d differs from the full decode", r, y)
			}
		}
	}
	// DCT scaling by 1/2 gives a half-size image close to the full one.
	dec, _ := imagefolder.NewDecoder(data)
	half, err := dec.Decode(4, transform.Rect{X0: 0, Y0: 0, X1: 167, Y1: 126})
	if err != nil {
		t.Fatal(err)
	}
	if half.W != 167 || half.H != 126 {
		t.Fatalf("1/2 scale is %dx%d, want 167x126", half.W, half.H)
	}
	diff := 0
	for y := 0; y < 120; y++ {
		for x := 0; x < 160; x++ {
			a := int(half.Pix[(y-half.Rect.Y0)*half.Stride+(x-half.Rect.X0)*3])
			b := (int(full.Pix[2*y*full.Stride+2*x*3]) + int(full.Pix[(2*y+1)*full.Stride+(2*x+1)*3])) / 2
			diff += max(a-b, b-a)
		}
	}
	if mean := float64(diff) / (120 * 160); mean > 12 {
		t.Fatalf("1/2-scale decode is far from the full decode: mean |diff| %.1f", mean)
	}
}

// imageTree writes root/<class>/... and returns the class -> files it wrote.
func imageTree(t *testing.T, root string, classes map[string]int) {
	t.Helper()
	seed := uint64(0)
	for cls, n := range classes {
		for i := 0; i < n; i++ {
			seed++
			writeJPEG(t, filepath.Join(root, cls, "img_"+string(rune('a'+i))+".jpg"), 40+i*7, 30+i*5, seed)
		}
	}
}

func registerFolder(t *testing.T, name, root string, extra map[string]any) {
	t.Helper()
	md := map[string]any{"root": root}
	for k, v := range extra {
		md[k] = v
	}
	cfg := &dataset.Config{Name: name, InputShape: []int{3, 24, 24}, NumClasses: 10, Format: imagefolder.Format, Metadata: md,
		DefaultTrainTransforms: []string{"random_resized_crop", "random_horizontal_flip", "normalize"},
		DefaultTestTransforms:  []string{"resize", "center_crop", "normalize"},
		Mean:                   []float64{0.5, 0.5, 0.5}, Std: []float64{0.25, 0.25, 0.25}}
	if err := dataset.Default.Register(cfg, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dataset.Default.Unregister(name) })
}

func TestImageScanOrderLoopsAndJunk(t *testing.T) {
	root := t.TempDir()
	imageTree(t, root, map[string]int{"b_dog": 2, "a_cat": 3})
	writeJPEG(t, filepath.Join(root, "a_cat", "sub", "deep.jpg"), 32, 32, 99)
	writeJPEG(t, filepath.Join(root, "a_cat", "sub b", "x.JPEG"), 32, 32, 98)
	os.WriteFile(filepath.Join(root, "a_cat", "notes.txt"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(root, "a_cat", "pic.webp"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(root, "a_cat", ".hidden.jpg"), []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(root, "c_empty"), 0o755)
	os.MkdirAll(filepath.Join(root, ".git"), 0o755)
	if err := os.Symlink(filepath.Join(root, "b_dog"), filepath.Join(root, "b_dog", "loop")); err != nil {
		t.Fatal(err)
	}
	os.Symlink(filepath.Join(root, "missing.jpg"), filepath.Join(root, "b_dog", "broken.jpg"))

	done := make(chan struct{})
	var list *imagefolder.List
	var classes []string
	var err error
	go func() {
		defer close(done)
		list, classes, err = imagefolder.ScanTree(root, nil)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("scan did not finish: symlink loop?")
	}
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(classes, []string{"a_cat", "b_dog", "c_empty"}) {
		t.Fatalf("classes %v", classes)
	}
	// torchvision order: folders sorted by path ("sub" < "sub b"), files by name.
	want := []string{"a_cat/img_a.jpg", "a_cat/img_b.jpg", "a_cat/img_c.jpg", "a_cat/sub/deep.jpg", "a_cat/sub b/x.JPEG", "b_dog/img_a.jpg", "b_dog/img_b.jpg"}
	if !slices.Equal(list.Paths, want) {
		t.Fatalf("paths %v\nwant %v", list.Paths, want)
	}
	if !slices.Equal(list.Labels, []int32{0, 0, 0, 0, 0, 1, 1}) {
		t.Fatalf("labels %v", list.Labels)
	}
	st := list.Stats
	if st.LoopsSkipped != 1 || st.BrokenLinks != 1 || st.Unsupported != 1 || st.Ignored < 2 || !slices.Equal(st.EmptyClasses, []string{"c_empty"}) {
		t.Fatalf("stats %+v", st)
	}
}

func openFolder(t *testing.T, name string, opt imagefolder.OpenOptions) *imagefolder.Dataset {
	t.Helper()
	d, err := imagefolder.Open(dataset.Default, name, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func openImageLoader(t *testing.T, d *imagefolder.Dataset, split string, opts loader.Options) *loader.Loader {
	t.Helper()
	l, err := d.OpenLoader(split, loader.SplitOptions{Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestImageLoaderDeterministicAcrossThreadsAndResumes(t *testing.T) {
	root := t.TempDir()
	imageTree(t, filepath.Join(root, "train"), map[string]int{"x": 7, "y": 6, "z": 5})
	imageTree(t, filepath.Join(root, "val"), map[string]int{"x": 2, "y": 2, "z": 1})
	registerFolder(t, "gotest_folder", root, nil)
	d := openFolder(t, "gotest_folder", imagefolder.OpenOptions{CacheDir: t.TempDir()})
	if d.Train.Len() != 18 || d.Test.Len() != 5 || !slices.Equal(d.Classes, []string{"x", "y", "z"}) {
		t.Fatalf("train %d test %d classes %v", d.Train.Len(), d.Test.Len(), d.Classes)
	}
	opts := loader.Options{BatchSize: 4, Shuffle: true, Seed: 9}
	one := drain(t, openImageLoader(t, d, "train", withThreads(opts, 1)))
	three := drain(t, openImageLoader(t, d, "train", withThreads(opts, 3)))
	if len(one) != 5 || len(one[0].images) != 4*3*24*24 {
		t.Fatalf("%d batches of %d values", len(one), len(one[0].images))
	}
	for i := range one {
		if !slices.Equal(one[i].images, three[i].images) || !slices.Equal(one[i].labels, three[i].labels) {
			t.Fatalf("batch %d depends on the thread count", i)
		}
	}
	// Resume after two batches: the rest is bit-identical.
	l := openImageLoader(t, d, "train", withThreads(opts, 2))
	for i := 0; i < 2; i++ {
		rec, err := l.Next()
		if err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	st := l.State()
	l2 := openImageLoader(t, d, "train", withThreads(opts, 2))
	if err := l2.Restore(st); err != nil {
		t.Fatal(err)
	}
	rest := drain(t, l2)
	if len(rest) != 3 {
		t.Fatalf("%d batches after resume, want 3", len(rest))
	}
	for i := range rest {
		if !slices.Equal(rest[i].images, one[i+2].images) || !slices.Equal(rest[i].labels, one[i+2].labels) {
			t.Fatalf("resumed batch %d differs", i)
		}
	}
}

func withThreads(o loader.Options, n int) loader.Options { o.Threads = n; return o }

type batch struct {
	images []float32
	labels []int64
}

// drain reads one epoch, copying each batch out of its views before
// releasing it.
func drain(t *testing.T, l *loader.Loader) []batch {
	t.Helper()
	var out []batch
	for {
		b, err := l.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, batch{slices.Clone(b.Images()), slices.Clone(b.Labels())})
		b.Release()
	}
}

func TestImageBadFilesRaiseOrAreReplaced(t *testing.T) {
	root := t.TempDir()
	imageTree(t, root, map[string]int{"p": 4, "q": 4})
	zero := filepath.Join(root, "p", "img_b.jpg")
	os.WriteFile(zero, nil, 0o644)
	trunc := filepath.Join(root, "q", "img_c.jpg")
	data, _ := os.ReadFile(trunc)
	os.WriteFile(trunc, data[:len(data)/3], 0o644)

	registerFolder(t, "gotest_bad", root, nil)
	d := openFolder(t, "gotest_bad", imagefolder.OpenOptions{CacheDir: t.TempDir()})
	l := openImageLoader(t, d, "train", loader.Options{BatchSize: 8, Threads: 1})
	_, err := l.Next()
	if !errors.Is(err, errs.ErrCorrupt) || !strings.Contains(err.Error(), zero) {
		t.Fatalf("want a corrupt-data error naming %s, got %v", zero, err)
	}

	ds := openFolder(t, "gotest_bad", imagefolder.OpenOptions{CacheDir: t.TempDir(), OnError: "skip"})
	ls := openImageLoader(t, ds, "train", loader.Options{BatchSize: 8, Threads: 2})
	b := drain(t, ls)
	if len(b) != 1 || len(b[0].labels) != 8 {
		t.Fatalf("skip must keep the batch size: %d batches", len(b))
	}
	// Sample 1 (p/img_b) is replaced by sample 2 (p/img_c), sample 6 (q/img_c) by 7 (q/img_d):
	// same labels, same pixels as the replacement under the replaced sample's seed.
	if !slices.Equal(b[0].labels, []int64{0, 0, 0, 0, 1, 1, 1, 1}) {
		t.Fatalf("labels %v", b[0].labels)
	}
	skipped := ds.Skipped()
	if len(skipped) != 2 || skipped[zero] == "" || skipped[trunc] == "" {
		t.Fatalf("skipped %v", skipped)
	}
	if _, err := imagefolder.Open(dataset.Default, "gotest_bad", imagefolder.OpenOptions{OnError: "ignore"}); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("bad on_error accepted: %v", err)
	}
}

func TestImagePackRoundTripAndStaleness(t *testing.T) {
	root := t.TempDir()
	imageTree(t, filepath.Join(root, "train"), map[string]int{"m": 3, "n": 2})
	writeJPEG(t, filepath.Join(root, "train", "n", "big.jpg"), 300, 120, 77)
	registerFolder(t, "gotest_pack", root, map[string]any{"test_dir": ""})
	cache := t.TempDir()
	d := openFolder(t, "gotest_pack", imagefolder.OpenOptions{CacheDir: cache})
	path, err := d.Prepare(context.Background(), d.Train, imagefolder.PrepareOptions{MaxSide: 64, Quality: 90})
	if err != nil {
		t.Fatal(err)
	}
	p := openFolder(t, "gotest_pack", imagefolder.OpenOptions{CacheDir: cache})
	if p.Train.Pack == nil || p.Train.Pack.Path != path {
		t.Fatalf("the prepared pack was not used (%v)", p.Train.Pack)
	}
	if p.Train.Len() != d.Train.Len() {
		t.Fatalf("pack has %d images, folder %d", p.Train.Len(), d.Train.Len())
	}
	for i := 0; i < d.Train.Len(); i++ {
		if p.Train.Label(i) != d.Train.Label(i) || p.Train.Path(i) != d.Train.Path(i) {
			t.Fatalf("sample %d: %s/%d vs %s/%d", i, p.Train.Path(i), p.Train.Label(i), d.Train.Path(i), d.Train.Label(i))
		}
		dec, err := imagefolder.NewDecoder(p.Train.Pack.Data(i))
		if err != nil {
			t.Fatal(err)
		}
		if w, h := dec.Size(); max(w, h) > 64 {
			t.Fatalf("sample %d is %dx%d in a max_side=64 pack", i, w, h)
		}
	}
	big := slices.Index(d.Train.List.Paths, "n/big.jpg")
	if dec, _ := imagefolder.NewDecoder(p.Train.Pack.Data(big)); dec != nil {
		if w, h := dec.Size(); w != 64 || h != 26 {
			t.Fatalf("300x120 shrunk to %dx%d, want 64x26", w, h)
		}
	}
	l := openImageLoader(t, p, "train", loader.Options{BatchSize: 3, Threads: 2})
	if got := drain(t, l); len(got) != 2 {
		t.Fatalf("%d batches from the pack", len(got))
	}
	// A new file makes the pack stale; corrupt packs are ignored too.
	time.Sleep(10 * time.Millisecond)
	writeJPEG(t, filepath.Join(root, "train", "m", "new.jpg"), 50, 50, 5)
	s := openFolder(t, "gotest_pack", imagefolder.OpenOptions{CacheDir: cache})
	if s.Train.Pack != nil || s.Train.Len() != d.Train.Len()+1 {
		t.Fatalf("stale pack served (%d images)", s.Train.Len())
	}
	os.WriteFile(path, []byte("SNDPACK1 garbage"), 0o644)
	if _, err := imagefolder.OpenPack(path); !errors.Is(err, errs.ErrCorrupt) {
		t.Fatalf("corrupt pack: %v", err)
	}
}

// pngHeader is a PNG signature and IHDR chunk claiming a w x h RGB image.
func pngHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	chunk := append([]byte("IHDR"), ihdr...)
	out := append([]byte("\x89PNG\r\n\x1a\n"), binary.BigEndian.AppendUint32(nil, uint32(len(ihdr)))...)
	out = append(out, chunk...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(chunk))
}

func TestImageMissingFolderErrors(t *testing.T) {
	if _, err := imagefolder.NewDecoder(pngHeader(20000, 20000)); !errors.Is(err, errs.ErrCorrupt) || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("a 400-megapixel image must be refused before decoding, got %v", err)
	}
	if _, err := imagefolder.LocateImageNet(t.TempDir()); !errors.Is(err, errs.ErrNotFound) || !strings.Contains(err.Error(), "imagenet") {
		t.Fatalf("got %v", err)
	}
	for _, data := range [][]byte{nil, []byte("GIF89a...."), {0xFF, 0xD8, 0xFF, 0xE0, 0, 0}} {
		if dec, err := imagefolder.NewDecoder(data); err == nil {
			w, h := dec.Size()
			if _, err := dec.Decode(8, transform.Rect{X1: w, Y1: h}); !errors.Is(err, errs.ErrCorrupt) {
				t.Fatalf("%q decoded: %v", data, err)
			}
		} else if !errors.Is(err, errs.ErrCorrupt) {
			t.Fatalf("%q: %v", data, err)
		}
	}
}
