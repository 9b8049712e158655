package dataset_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/structure-net/structure-net-data/core/dataset"
	"github.com/structure-net/structure-net-data/core/errs"
)

// ---- helpers ----

func idxFixture(magic uint32, dims []uint32, payload []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, magic)
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, d)
	}
	b.Write(payload)
	return b.Bytes()
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func writeFixture(t testing.TB, path string, b []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func fixtureBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func fixtureLabels(seed uint64, n, classes int) []int64 {
	r := rand.New(rand.NewPCG(seed, 2))
	l := make([]int64, n)
	for i := range l {
		l[i] = int64(r.IntN(classes))
	}
	return l
}

func labelFixture(l []int64) []byte {
	b := make([]byte, len(l))
	for i, v := range l {
		b[i] = byte(v)
	}
	return b
}

func md5Of(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// wantFormatErr checks the kind and that the message names the file and the problem.
func wantFormatErr(t *testing.T, err, kind error, substrings ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", kind)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error %q is %v, want %v", err, errs.KindOf(err), kind)
	}
	for _, s := range substrings {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func checkDecoded(t *testing.T, s *dataset.Split, images []byte, labels, coarse []int64, n, c, h, w int) {
	t.Helper()
	if err := s.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if s.N != n || s.C != c || s.H != h || s.W != w {
		t.Fatalf("shape N=%d C=%d H=%d W=%d, want %d %d %d %d", s.N, s.C, s.H, s.W, n, c, h, w)
	}
	if !bytes.Equal(s.Images, images) {
		t.Fatalf("image bytes differ from what was written")
	}
	if !slices.Equal(s.Labels, labels) {
		t.Fatalf("labels %v, want %v", s.Labels, labels)
	}
	if !slices.Equal(s.Coarse, coarse) || (coarse == nil) != (s.Coarse == nil) {
		t.Fatalf("coarse %v, want %v", s.Coarse, coarse)
	}
}

// ---- Split ----

func TestFormatsSplitValidate(t *testing.T) {
	ok := dataset.Split{Images: make([]byte, 2*3*2*2), Labels: []int64{0, 1}, N: 2, C: 3, H: 2, W: 2}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid split: %v", err)
	}
	if ok.SampleBytes() != 12 {
		t.Fatalf("SampleBytes = %d, want 12", ok.SampleBytes())
	}
	bad := map[string]dataset.Split{
		"short images":   {Images: make([]byte, 23), Labels: []int64{0, 1}, N: 2, C: 3, H: 2, W: 2},
		"label count":    {Images: make([]byte, 24), Labels: []int64{0}, N: 2, C: 3, H: 2, W: 2},
		"coarse count":   {Images: make([]byte, 24), Labels: []int64{0, 1}, Coarse: []int64{1}, N: 2, C: 3, H: 2, W: 2},
		"negative label": {Images: make([]byte, 24), Labels: []int64{0, -1}, N: 2, C: 3, H: 2, W: 2},
		"zero channels":  {Images: nil, Labels: []int64{0, 1}, N: 2, C: 0, H: 2, W: 2},
		"overflow":       {Labels: []int64{}, N: 0, C: 1 << 62, H: 1 << 62, W: 2},
	}
	for name, s := range bad {
		t.Run(name, func(t *testing.T) {
			wantFormatErr(t, s.Validate(), errs.ErrInvalid)
		})
	}
}

// ---- IDX ----

func TestFormatsIDX(t *testing.T) {
	const n, h, w = 5, 4, 3
	pixels := fixtureBytes(1, n*h*w)
	labels := fixtureLabels(1, n, 10)
	imgFile := idxFixture(0x803, []uint32{n, h, w}, pixels)
	lblFile := idxFixture(0x801, []uint32{n}, labelFixture(labels))

	for _, compress := range []bool{false, true} {
		name := "raw"
		enc := func(b []byte) []byte { return b }
		if compress {
			name = "gzip"
			enc = func(b []byte) []byte { return gzipped(t, b) }
		}
		t.Run("valid "+name, func(t *testing.T) {
			dir := t.TempDir()
			// Names deliberately lack .gz: compression is detected by content.
			ip := writeFixture(t, filepath.Join(dir, "train-images-idx3-ubyte"), enc(imgFile))
			lp := writeFixture(t, filepath.Join(dir, "train-labels-idx1-ubyte"), enc(lblFile))
			s, err := dataset.ReadMNIST(ip, lp)
			if err != nil {
				t.Fatal(err)
			}
			checkDecoded(t, s, pixels, labels, nil, n, 1, h, w)
		})
	}

	imagesErr := []struct {
		name    string
		content []byte
		kind    error
		msg     string
	}{
		{"wrong magic", idxFixture(0x801, []uint32{n}, labelFixture(labels)), errs.ErrCorrupt, "bad magic 0x00000801, want 0x00000803"},
		{"truncated raw", imgFile[:len(imgFile)-7], errs.ErrCorrupt, "truncated"},
		{"truncated header", imgFile[:10], errs.ErrCorrupt, "truncated"},
		{"truncated gzip", gzipped(t, imgFile[:len(imgFile)-7]), errs.ErrCorrupt, "truncated"},
		{"cut gzip stream", gzipped(t, imgFile)[:30], errs.ErrCorrupt, ""},
		{"zero-byte file", nil, errs.ErrCorrupt, "empty file"},
		{"gzip garbage", append([]byte{0x1f, 0x8b}, fixtureBytes(2, 100)...), errs.ErrCorrupt, "gzip"},
		{"absurd dims raw", idxFixture(0x803, []uint32{60000, 65535, 65535}, pixels), errs.ErrCorrupt, "limit"},
		{"lying dims raw", idxFixture(0x803, []uint32{1000, 28, 28}, pixels), errs.ErrCorrupt, "cannot hold"},
		{"lying dims gzip", gzipped(t, idxFixture(0x803, []uint32{60000, 28, 28}, pixels)), errs.ErrCorrupt, "cannot hold"},
		{"zero width", idxFixture(0x803, []uint32{n, h, 0}, nil), errs.ErrCorrupt, "zero dimension"},
		{"trailing data", append(slices.Clone(imgFile), 1, 2, 3), errs.ErrCorrupt, "trailing data"},
	}
	for _, tc := range imagesErr {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFixture(t, filepath.Join(t.TempDir(), "train-images-idx3-ubyte.gz"), tc.content)
			_, _, _, _, err := dataset.ReadIDXImages(p)
			wantFormatErr(t, err, tc.kind, p, tc.msg)
		})
	}

	t.Run("labels wrong magic", func(t *testing.T) {
		p := writeFixture(t, filepath.Join(t.TempDir(), "l"), imgFile)
		_, err := dataset.ReadIDXLabels(p)
		wantFormatErr(t, err, errs.ErrCorrupt, p, "bad magic 0x00000803, want 0x00000801")
	})
	t.Run("labels truncated gzip", func(t *testing.T) {
		p := writeFixture(t, filepath.Join(t.TempDir(), "l"), gzipped(t, lblFile[:len(lblFile)-1]))
		_, err := dataset.ReadIDXLabels(p)
		wantFormatErr(t, err, errs.ErrCorrupt, p, "truncated")
	})
	t.Run("missing file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "nope")
		_, err := dataset.ReadIDXLabels(p)
		wantFormatErr(t, err, errs.ErrNotFound, p)
	})
	t.Run("count mismatch", func(t *testing.T) {
		dir := t.TempDir()
		ip := writeFixture(t, filepath.Join(dir, "i"), imgFile)
		lp := writeFixture(t, filepath.Join(dir, "l"), idxFixture(0x801, []uint32{n - 1}, labelFixture(labels[:n-1])))
		_, err := dataset.ReadMNIST(ip, lp)
		wantFormatErr(t, err, errs.ErrCorrupt, ip, lp, "5 images", "4 labels")
	})
}

func FuzzReadIDX(f *testing.F) {
	f.Add(idxFixture(0x803, []uint32{2, 2, 3}, fixtureBytes(3, 12)))
	f.Add(idxFixture(0x801, []uint32{4}, []byte{1, 2, 3, 4}))
	f.Add(gzipped(f, idxFixture(0x803, []uint32{1, 3, 3}, fixtureBytes(4, 9))))
	f.Fuzz(func(t *testing.T, content []byte) {
		p := writeFixture(t, filepath.Join(t.TempDir(), "f"), content)
		data, n, h, w, err := dataset.ReadIDXImages(p)
		if err == nil && len(data) != n*h*w {
			t.Fatalf("%d bytes for %dx%dx%d", len(data), n, h, w)
		}
		if err != nil && errs.KindOf(err) == errs.ErrInternal {
			t.Fatalf("error without a kind: %v", err)
		}
		if _, err := dataset.ReadIDXLabels(p); err != nil && errs.KindOf(err) == errs.ErrInternal {
			t.Fatalf("error without a kind: %v", err)
		}
	})
}

// ---- CIFAR binary ----

func cifarBinaryFixture(images []byte, labels, coarse []int64) []byte {
	var b bytes.Buffer
	for i := range labels {
		if coarse != nil {
			b.WriteByte(byte(coarse[i]))
		}
		b.WriteByte(byte(labels[i]))
		b.Write(images[i*3072 : (i+1)*3072])
	}
	return b.Bytes()
}

func TestFormatsCIFARBinary(t *testing.T) {
	dir := t.TempDir()
	img1, img2 := fixtureBytes(10, 3*3072), fixtureBytes(11, 2*3072)
	lab1, lab2 := fixtureLabels(10, 3, 10), fixtureLabels(11, 2, 10)
	f1 := writeFixture(t, filepath.Join(dir, "data_batch_1.bin"), cifarBinaryFixture(img1, lab1, nil))
	f2 := writeFixture(t, filepath.Join(dir, "data_batch_2.bin"), cifarBinaryFixture(img2, lab2, nil))
	fine, coarse := fixtureLabels(12, 4, 100), fixtureLabels(13, 4, 20)
	img3 := fixtureBytes(12, 4*3072)
	f3 := writeFixture(t, filepath.Join(dir, "train.bin"), cifarBinaryFixture(img3, fine, coarse))

	t.Run("cifar10 two files", func(t *testing.T) {
		s, err := dataset.ReadCIFARBinary([]string{f1, f2}, 1)
		if err != nil {
			t.Fatal(err)
		}
		checkDecoded(t, s, append(slices.Clone(img1), img2...), append(slices.Clone(lab1), lab2...), nil, 5, 3, 32, 32)
	})
	t.Run("cifar100", func(t *testing.T) {
		s, err := dataset.ReadCIFARBinary([]string{f3}, 2)
		if err != nil {
			t.Fatal(err)
		}
		checkDecoded(t, s, img3, fine, coarse, 4, 3, 32, 32)
	})

	raw1 := cifarBinaryFixture(img1, lab1, nil)
	badLabel := slices.Clone(raw1)
	badLabel[3073] = 10
	cases := []struct {
		name       string
		content    []byte
		labelBytes int
		kind       error
		msg        string
	}{
		{"size not multiple", raw1[:len(raw1)-5], 1, errs.ErrCorrupt, "not a multiple of the 3073-byte record"},
		{"cifar100 read as cifar10", cifarBinaryFixture(img3, fine, coarse), 1, errs.ErrCorrupt, "not a multiple"},
		{"zero-byte file", nil, 1, errs.ErrCorrupt, "empty file"},
		{"label out of range", badLabel, 1, errs.ErrCorrupt, "record 1 has label 10"},
		{"bad labelBytes", raw1, 3, errs.ErrInvalid, "labelBytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFixture(t, filepath.Join(t.TempDir(), "batch.bin"), tc.content)
			_, err := dataset.ReadCIFARBinary([]string{p}, tc.labelBytes)
			want := []string{tc.msg}
			if tc.kind != errs.ErrInvalid {
				want = append(want, p)
			}
			wantFormatErr(t, err, tc.kind, want...)
		})
	}
	t.Run("missing file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "nope.bin")
		_, err := dataset.ReadCIFARBinary([]string{f1, p}, 1)
		wantFormatErr(t, err, errs.ErrNotFound, p)
	})
}

// ---- CIFAR pickle ----

// pickleScript writes CIFAR batches the way the official files and common
// re-packings are written. "py2" emulates Python 2's cPickle protocol 2 (the
// format of the real downloads): str and bytes both become BINSTRING and numpy
// lives in numpy.core; plain protocol 2 from Python 3 routes bytes through
// _codecs.encode; protocol 5 uses numpy's _frombuffer with an in-band bytearray.
const pickleScript = `
import io, json, os, pickle, struct, sys
import numpy as np

class Py2Pickler(pickle._Pickler):
    dispatch = dict(pickle._Pickler.dispatch)
    def save_str8(self, obj):
        raw = obj.encode('latin1') if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack('<i', len(raw)) + raw)
        self.memoize(obj)
    dispatch[str] = save_str8
    dispatch[bytes] = save_str8

for spec in json.load(open(sys.argv[1])):
    n = spec['n']
    data = np.fromfile(spec['data'], dtype=np.uint8).reshape(n, 3072)
    mutate = spec.get('mutate', '')
    if mutate == 'float32':
        data = data.astype(np.float32)
    if mutate == 'int64':
        data = data.astype(np.int64)
    if mutate == 'shape':
        data = data.reshape(n, 3, 1024)
    d = {'batch_label': 'testing batch', 'data': data, 'filenames': ['img_%d.png' % i for i in range(n)]}
    if spec['coarse'] is None:
        d['labels'] = spec['labels']
    else:
        d['fine_labels'] = spec['labels']
        d['coarse_labels'] = spec['coarse']
    if mutate == 'count':
        for k in ('labels', 'fine_labels', 'coarse_labels'):
            if k in d:
                d[k] = d[k][:-1]
    if mutate == 'evil':
        d['hook'] = os.getcwd
    if spec.get('bytes_keys'):
        d = {k.encode(): v for k, v in d.items()}
    if spec.get('py2'):
        buf = io.BytesIO()
        Py2Pickler(buf, protocol=2).dump(d)
        out = buf.getvalue().replace(b'numpy._core.', b'numpy.core.')
        assert b'T' + struct.pack('<i', data.nbytes) in out
    else:
        out = pickle.dumps(d, protocol=spec['protocol'])
    with open(spec['out'], 'wb') as f:
        f.write(out)
`

type pickleSpec struct {
	Out       string  `json:"out"`
	Data      string  `json:"data"`
	N         int     `json:"n"`
	Labels    []int64 `json:"labels"`
	Coarse    []int64 `json:"coarse"`
	Protocol  int     `json:"protocol"`
	Py2       bool    `json:"py2"`
	BytesKeys bool    `json:"bytes_keys"`
	Mutate    string  `json:"mutate"`

	images []byte
}

// newPickleSpec makes a batch of n random samples destined for out.
func newPickleSpec(seed uint64, out string, n int, cifar100 bool) pickleSpec {
	s := pickleSpec{Out: out, N: n, Protocol: 2, images: fixtureBytes(seed, n*3072)}
	if cifar100 {
		s.Labels, s.Coarse = fixtureLabels(seed, n, 100), fixtureLabels(seed+1000, n, 20)
	} else {
		s.Labels = fixtureLabels(seed, n, 10)
	}
	return s
}

// generatePickles runs one python3 process for all specs, since importing
// numpy dominates the cost.
func generatePickles(t testing.TB, specs []pickleSpec) {
	t.Helper()
	dir := t.TempDir()
	for i := range specs {
		specs[i].Data = writeFixture(t, filepath.Join(dir, "data"+strconv.Itoa(i)), specs[i].images)
	}
	js, err := json.Marshal(specs)
	if err != nil {
		t.Fatal(err)
	}
	specPath := writeFixture(t, filepath.Join(dir, "specs.json"), js)
	cmd := exec.Command("python3", "-c", pickleScript, specPath)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("python3 pickle generator: %v\n%s", err, out)
	}
}

func TestFormatsCIFARPickle(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	specs := map[string]pickleSpec{}
	add := func(key string, s pickleSpec) { specs[key] = s }

	add("c10 py2 a", func() pickleSpec { s := newPickleSpec(20, p("c10py2a"), 3, false); s.Py2 = true; return s }())
	add("c10 py2 b", func() pickleSpec { s := newPickleSpec(21, p("c10py2b"), 2, false); s.Py2 = true; return s }())
	add("c10 proto2", newPickleSpec(22, p("c10p2"), 4, false))
	add("c10 proto5", func() pickleSpec { s := newPickleSpec(23, p("c10p5"), 3, false); s.Protocol = 5; return s }())
	add("c100 py2", func() pickleSpec { s := newPickleSpec(24, p("c100py2"), 3, true); s.Py2 = true; return s }())
	add("c100 proto4 bytes keys", func() pickleSpec {
		s := newPickleSpec(25, p("c100p4"), 2, true)
		s.Protocol, s.BytesKeys = 4, true
		return s
	}())
	add("c100 proto5", func() pickleSpec { s := newPickleSpec(26, p("c100p5"), 2, true); s.Protocol = 5; return s }())
	mut := func(seed uint64, name, mutate string, protocol int) pickleSpec {
		s := newPickleSpec(seed, p(name), 2, false)
		s.Mutate, s.Protocol = mutate, protocol
		return s
	}
	add("float32 proto2", mut(30, "f32p2", "float32", 2))
	add("int64 proto5", mut(31, "i64p5", "int64", 5))
	add("bad shape", mut(32, "shape", "shape", 2))
	add("label count", mut(33, "count", "count", 4))
	add("evil global", mut(34, "evil", "evil", 2))
	all := make([]pickleSpec, 0, len(specs))
	for _, s := range specs {
		all = append(all, s)
	}
	generatePickles(t, all)

	valid := []struct {
		name  string
		files []string
		fine  bool
	}{
		{"cifar10 python2 cPickle, two files", []string{"c10 py2 a", "c10 py2 b"}, true},
		{"cifar10 protocol 2", []string{"c10 proto2"}, true},
		{"cifar10 protocol 5", []string{"c10 proto5"}, true},
		{"cifar10 mixed protocols", []string{"c10 proto5", "c10 py2 a", "c10 proto2"}, true},
		{"cifar100 python2 fine", []string{"c100 py2"}, true},
		{"cifar100 protocol 4 bytes keys coarse", []string{"c100 proto4 bytes keys"}, false},
		{"cifar100 protocol 5 two files", []string{"c100 proto5", "c100 py2"}, true},
	}
	for _, tc := range valid {
		t.Run(tc.name, func(t *testing.T) {
			var paths []string
			var images []byte
			var labels, coarse []int64
			for _, k := range tc.files {
				s := specs[k]
				paths = append(paths, s.Out)
				images = append(images, s.images...)
				if s.Coarse != nil {
					coarse = append(coarse, s.Coarse...)
				}
				if s.Coarse != nil && !tc.fine {
					labels = append(labels, s.Coarse...)
				} else {
					labels = append(labels, s.Labels...)
				}
			}
			got, err := dataset.ReadCIFARPickle(paths, tc.fine)
			if err != nil {
				t.Fatal(err)
			}
			checkDecoded(t, got, images, labels, coarse, len(labels), 3, 32, 32)
		})
	}

	truncated := writeFixture(t, p("truncated"), func() []byte {
		b, err := os.ReadFile(specs["c10 py2 a"].Out)
		if err != nil {
			t.Fatal(err)
		}
		return b[:len(b)/2]
	}())
	badLabel := newPickleSpec(40, p("badlabel"), 2, false)
	badLabel.Labels[1] = 10
	generatePickles(t, []pickleSpec{badLabel})
	// BINBYTES8 claiming 2^60 bytes: must be refused before anything is allocated.
	huge := writeFixture(t, p("huge"), append([]byte{0x80, 0x04, 0x8e}, binary.LittleEndian.AppendUint64(nil, 1<<60)...))

	bad := []struct {
		name  string
		files []string
		kind  error
		msg   string
	}{
		{"float32 data", []string{specs["float32 proto2"].Out}, errs.ErrUnsupported, "only uint8"},
		{"int64 data protocol 5", []string{specs["int64 proto5"].Out}, errs.ErrUnsupported, "only uint8"},
		{"wrong shape", []string{specs["bad shape"].Out}, errs.ErrCorrupt, "shape"},
		{"label count", []string{specs["label count"].Out}, errs.ErrCorrupt, "1 entries for 2 images"},
		{"foreign global", []string{specs["evil global"].Out}, errs.ErrUnsupported, "getcwd"},
		{"truncated", []string{truncated}, errs.ErrCorrupt, "truncated"},
		{"zero-byte file", []string{writeFixture(t, p("empty"), nil)}, errs.ErrCorrupt, "empty file"},
		{"not a pickle", []string{writeFixture(t, p("garbage"), fixtureBytes(41, 500))}, errs.ErrCorrupt, "pickle"},
		{"huge length field", []string{huge}, errs.ErrCorrupt, "truncated"},
		{"label out of range", []string{badLabel.Out}, errs.ErrCorrupt, "not a class index"},
		{"cifar10 and cifar100 mixed", []string{specs["c10 proto2"].Out, specs["c100 py2"].Out}, errs.ErrCorrupt, "different datasets"},
		{"missing file", []string{p("nope")}, errs.ErrNotFound, "does not exist"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dataset.ReadCIFARPickle(tc.files, true)
			wantFormatErr(t, err, tc.kind, tc.files[len(tc.files)-1], tc.msg)
		})
	}
}

// ---- downloads ----

// mirrorServer serves files under any number of mirror prefixes; prefixes not
// in ok answer 404.
type mirrorServer struct {
	*httptest.Server
	files    map[string][]byte
	ok       map[string]bool
	requests atomic.Int64
}

func newMirrorServer(t *testing.T, files map[string][]byte, okPrefixes ...string) *mirrorServer {
	fs := &mirrorServer{files: files, ok: map[string]bool{}}
	for _, p := range okPrefixes {
		fs.ok[p] = true
	}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.requests.Add(1)
		prefix, name, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		body, found := fs.files[name]
		if !fs.ok[prefix] || !found {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}))
	t.Cleanup(fs.Close)
	return fs
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestFormatsFetch(t *testing.T) {
	payload := fixtureBytes(50, 200_000)
	sum := md5Of(payload)
	srv := newMirrorServer(t, map[string][]byte{"blob.bin": payload}, "good", "also")
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()

	t.Run("success with progress", func(t *testing.T) {
		dir := t.TempDir()
		dest := filepath.Join(dir, "sub", "blob.bin")
		var mu sync.Mutex
		var calls int
		var lastDone, lastTotal int64
		err := dataset.Fetch(t.Context(), srv.Client(), srv.URL+"/good/blob.bin", dest, sum, func(name string, done, total int64) {
			mu.Lock()
			defer mu.Unlock()
			if name != "blob.bin" {
				t.Errorf("progress name %q", name)
			}
			if done < lastDone {
				t.Errorf("progress went backwards: %d after %d", done, lastDone)
			}
			calls++
			lastDone, lastTotal = done, total
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(dest)
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("downloaded file differs (err %v)", err)
		}
		if calls < 2 || lastDone != int64(len(payload)) || lastTotal != int64(len(payload)) {
			t.Fatalf("progress: %d calls, last %d/%d", calls, lastDone, lastTotal)
		}
		if names := listDir(t, filepath.Dir(dest)); !slices.Equal(names, []string{"blob.bin"}) {
			t.Fatalf("folder holds %v", names)
		}
		if err := dataset.VerifyMD5(dest, strings.ToUpper(sum)); err != nil {
			t.Fatalf("VerifyMD5: %v", err)
		}
		wantFormatErr(t, dataset.VerifyMD5(dest, md5Of(nil)), errs.ErrChecksum, dest)
		wantFormatErr(t, dataset.VerifyMD5(filepath.Join(dir, "nope"), sum), errs.ErrNotFound)
	})

	t.Run("checksum mismatch leaves nothing", func(t *testing.T) {
		dir := t.TempDir()
		err := dataset.Fetch(t.Context(), nil, srv.URL+"/good/blob.bin", filepath.Join(dir, "blob.bin"), md5Of([]byte("other")), nil)
		wantFormatErr(t, err, errs.ErrChecksum, "blob.bin")
		if names := listDir(t, dir); len(names) != 0 {
			t.Fatalf("folder holds %v after a failed download", names)
		}
	})

	t.Run("http error", func(t *testing.T) {
		dir := t.TempDir()
		err := dataset.Fetch(t.Context(), nil, srv.URL+"/good/missing.bin", filepath.Join(dir, "m"), "", nil)
		wantFormatErr(t, err, errs.ErrUnavailable, "404")
		if names := listDir(t, dir); len(names) != 0 {
			t.Fatalf("folder holds %v", names)
		}
	})

	t.Run("bad md5 string", func(t *testing.T) {
		err := dataset.Fetch(t.Context(), nil, srv.URL+"/good/blob.bin", filepath.Join(t.TempDir(), "b"), "xyz", nil)
		wantFormatErr(t, err, errs.ErrInvalid)
	})

	t.Run("cancelled context", func(t *testing.T) {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := dataset.FetchFirst(ctx, nil, []string{srv.URL + "/good", srv.URL + "/also"}, "blob.bin", dir, sum, nil)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v is not context.Canceled", err)
		}
		if names := listDir(t, dir); len(names) != 0 {
			t.Fatalf("folder holds %v", names)
		}
	})

	t.Run("404 on first mirror falls through", func(t *testing.T) {
		dir := t.TempDir()
		before := srv.requests.Load()
		dest, err := dataset.FetchFirst(t.Context(), nil, []string{srv.URL + "/down", srv.URL + "/good/"}, "blob.bin", dir, sum, nil)
		if err != nil {
			t.Fatal(err)
		}
		if dest != filepath.Join(dir, "blob.bin") {
			t.Fatalf("dest %q", dest)
		}
		if got := srv.requests.Load() - before; got != 2 {
			t.Fatalf("%d requests, want 2", got)
		}
		if got, _ := os.ReadFile(dest); !bytes.Equal(got, payload) {
			t.Fatal("content differs")
		}
	})

	t.Run("all mirrors down", func(t *testing.T) {
		dir := t.TempDir()
		mirrors := []string{srv.URL + "/down", deadURL}
		_, err := dataset.FetchFirst(t.Context(), nil, mirrors, "blob.bin", dir, sum, nil)
		wantFormatErr(t, err, errs.ErrUnavailable, "blob.bin", dir, mirrors[0]+"/blob.bin", deadURL+"/blob.bin", "copy it into "+dir)
		if names := listDir(t, dir); len(names) != 0 {
			t.Fatalf("folder holds %v", names)
		}
	})

	t.Run("every mirror serves bad bytes", func(t *testing.T) {
		dir := t.TempDir()
		_, err := dataset.FetchFirst(t.Context(), nil, []string{srv.URL + "/good", srv.URL + "/also"}, "blob.bin", dir, md5Of([]byte("x")), nil)
		wantFormatErr(t, err, errs.ErrChecksum, "blob.bin", dir)
		if names := listDir(t, dir); len(names) != 0 {
			t.Fatalf("folder holds %v", names)
		}
	})

	t.Run("file name with a path", func(t *testing.T) {
		_, err := dataset.FetchFirst(t.Context(), nil, []string{srv.URL + "/good"}, "../blob.bin", t.TempDir(), sum, nil)
		wantFormatErr(t, err, errs.ErrInvalid)
	})
}

type tarFixtureEntry struct {
	name, link string
	typ        byte
	body       []byte
}

func tarGzFixture(t testing.TB, entries []tarFixtureEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: typ, Mode: 0o644, Size: int64(len(e.body))}
		if typ == tar.TypeDir {
			hdr.Mode = 0o755
		}
		if typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write(e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestFormatsExtractTarGz(t *testing.T) {
	good := []tarFixtureEntry{
		{name: "cifar-10-batches-py/", typ: tar.TypeDir},
		{name: "cifar-10-batches-py/data_batch_1", body: []byte("one")},
		{name: "cifar-10-batches-py/batches.meta", body: []byte("meta")},
	}
	t.Run("valid", func(t *testing.T) {
		dir := t.TempDir()
		archive := writeFixture(t, filepath.Join(dir, "a.tar.gz"), tarGzFixture(t, good))
		if err := dataset.ExtractTarGz(archive, dir); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "cifar-10-batches-py", "data_batch_1")); string(got) != "one" {
			t.Fatalf("data_batch_1 = %q", got)
		}
		if names := listDir(t, dir); !slices.Equal(names, []string{"a.tar.gz", "cifar-10-batches-py"}) {
			t.Fatalf("folder holds %v (temporary folder left behind?)", names)
		}
	})
	t.Run("merges into an existing folder without overwriting", func(t *testing.T) {
		dir := t.TempDir()
		writeFixture(t, filepath.Join(dir, "cifar-10-batches-py", "data_batch_1"), []byte("mine"))
		archive := writeFixture(t, filepath.Join(dir, "a.tar.gz"), tarGzFixture(t, good))
		if err := dataset.ExtractTarGz(archive, dir); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "cifar-10-batches-py", "data_batch_1")); string(got) != "mine" {
			t.Fatalf("existing file overwritten: %q", got)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "cifar-10-batches-py", "batches.meta")); string(got) != "meta" {
			t.Fatalf("missing file not added: %q", got)
		}
	})

	hostile := []struct {
		name  string
		entry tarFixtureEntry
		msg   string
	}{
		{"parent escape", tarFixtureEntry{name: "../evil", body: []byte("x")}, "escapes"},
		{"nested parent escape", tarFixtureEntry{name: "cifar-10-batches-py/../../evil", body: []byte("x")}, "escapes"},
		{"absolute path", tarFixtureEntry{name: "/tmp/evil", body: []byte("x")}, "escapes"},
		{"symlink", tarFixtureEntry{name: "cifar-10-batches-py/link", link: "/etc/passwd", typ: tar.TypeSymlink}, "symlink"},
		{"hard link", tarFixtureEntry{name: "cifar-10-batches-py/hard", link: "cifar-10-batches-py/data_batch_1", typ: tar.TypeLink}, "hard link"},
		{"duplicate entry", tarFixtureEntry{name: "cifar-10-batches-py/data_batch_1", body: []byte("two")}, "twice"},
	}
	for _, tc := range hostile {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "data")
			archive := writeFixture(t, filepath.Join(root, "a.tar.gz"), tarGzFixture(t, append(slices.Clone(good), tc.entry)))
			err := dataset.ExtractTarGz(archive, dir)
			wantFormatErr(t, err, errs.ErrCorrupt, archive, tc.msg)
			if names := listDir(t, dir); len(names) != 0 {
				t.Fatalf("rejected archive left %v in the destination", names)
			}
			if names := listDir(t, root); !slices.Equal(names, []string{"a.tar.gz", "data"}) {
				t.Fatalf("rejected archive wrote %v next to the destination", names)
			}
		})
	}
	t.Run("not gzip", func(t *testing.T) {
		dir := t.TempDir()
		archive := writeFixture(t, filepath.Join(dir, "a.tar.gz"), []byte("plain text"))
		wantFormatErr(t, dataset.ExtractTarGz(archive, dir), errs.ErrCorrupt, archive)
	})
}

// ---- LocateAndLoad ----

func TestFormatsLocateAndLoad(t *testing.T) {
	// MNIST: tiny train and test sets.
	mnist := map[string][]byte{}
	type mnistSplit struct {
		images []byte
		labels []int64
		n      int
	}
	mnistData := map[string]mnistSplit{}
	for i, split := range []string{"train", "t10k"} {
		n := 6 - 2*i
		s := mnistSplit{images: fixtureBytes(uint64(60+i), n*28*28), labels: fixtureLabels(uint64(60+i), n, 10), n: n}
		mnistData[split] = s
		mnist[split+"-images-idx3-ubyte.gz"] = gzipped(t, idxFixture(0x803, []uint32{uint32(n), 28, 28}, s.images))
		mnist[split+"-labels-idx1-ubyte.gz"] = gzipped(t, idxFixture(0x801, []uint32{uint32(n)}, labelFixture(s.labels)))
	}

	// CIFAR-10: five train batches and a test batch of a few hundred samples.
	specDir := t.TempDir()
	var c10 []pickleSpec
	for i, name := range []string{"data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"} {
		s := newPickleSpec(uint64(70+i), filepath.Join(specDir, name), 200+10*i, false)
		s.Py2 = true
		c10 = append(c10, s)
	}
	// CIFAR-100: train and test.
	c100 := []pickleSpec{newPickleSpec(80, filepath.Join(specDir, "train"), 120, true), newPickleSpec(81, filepath.Join(specDir, "test"), 50, true)}
	generatePickles(t, append(slices.Clone(c10), c100...))
	archive := func(folder string, specs []pickleSpec) []byte {
		entries := []tarFixtureEntry{{name: folder + "/", typ: tar.TypeDir}, {name: folder + "/batches.meta", body: []byte("meta")}}
		for _, s := range specs {
			b, err := os.ReadFile(s.Out)
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, tarFixtureEntry{name: folder + "/" + filepath.Base(s.Out), body: b})
		}
		return tarGzFixture(t, entries)
	}
	c10Archive := archive("cifar-10-batches-py", c10)
	c100Archive := archive("cifar-100-python", c100)

	files := map[string][]byte{"cifar-10-python.tar.gz": c10Archive}
	for k, v := range mnist {
		files[k] = v
	}
	srv := newMirrorServer(t, files, "mirror")
	override := map[string]string{"cifar-10-python.tar.gz": md5Of(c10Archive), "cifar-100-python.tar.gz": md5Of(c100Archive)}
	for k, v := range mnist {
		override[k] = md5Of(v)
	}
	opts := func(download bool) dataset.FetchOptions {
		return dataset.FetchOptions{
			Download: download, Mirrors: []string{srv.URL + "/down", srv.URL + "/mirror"},
			Client: srv.Client(), MD5Override: override,
		}
	}

	t.Run("mnist", func(t *testing.T) {
		root := t.TempDir()
		raw := filepath.Join(root, "MNIST", "raw")
		_, _, err := dataset.LocateAndLoad(t.Context(), "mnist", root, "train", opts(false))
		wantFormatErr(t, err, errs.ErrNotFound, raw, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")

		var progressed atomic.Int64
		opt := opts(true)
		opt.Progress = func(string, int64, int64) { progressed.Add(1) }
		s, read, err := dataset.LocateAndLoad(t.Context(), "mnist", root, "train", opt)
		if err != nil {
			t.Fatal(err)
		}
		want := mnistData["train"]
		checkDecoded(t, s, want.images, want.labels, nil, want.n, 1, 28, 28)
		if !slices.Equal(read, []string{filepath.Join(raw, "train-images-idx3-ubyte.gz"), filepath.Join(raw, "train-labels-idx1-ubyte.gz")}) {
			t.Fatalf("files read: %v", read)
		}
		if progressed.Load() == 0 {
			t.Fatal("no progress reported")
		}
		if names := listDir(t, raw); len(names) != 4 {
			t.Fatalf("raw folder holds %v, want the 4 files", names)
		}

		// Everything is local now: no more requests, even with download on.
		before := srv.requests.Load()
		opt = opts(true)
		opt.VerifyExisting = true
		s, _, err = dataset.LocateAndLoad(t.Context(), "mnist", root, "test", opt)
		if err != nil {
			t.Fatal(err)
		}
		want = mnistData["t10k"]
		checkDecoded(t, s, want.images, want.labels, nil, want.n, 1, 28, 28)
		if srv.requests.Load() != before {
			t.Fatal("files already present were downloaded again")
		}

		// Inflated files, as torchvision leaves them, are preferred.
		inflated := writeFixture(t, filepath.Join(raw, "t10k-labels-idx1-ubyte"), idxFixture(0x801, []uint32{uint32(want.n)}, labelFixture(want.labels)))
		_, read, err = dataset.LocateAndLoad(t.Context(), "mnist", root, "test", opts(false))
		if err != nil || read[1] != inflated {
			t.Fatalf("read %v, err %v; want the inflated labels", read, err)
		}

		// A damaged existing file is caught only when asked to verify.
		writeFixture(t, filepath.Join(raw, "train-labels-idx1-ubyte.gz"), gzipped(t, idxFixture(0x801, []uint32{uint32(mnistData["train"].n)}, make([]byte, mnistData["train"].n))))
		opt = opts(false)
		opt.VerifyExisting = true
		_, _, err = dataset.LocateAndLoad(t.Context(), "mnist", root, "train", opt)
		wantFormatErr(t, err, errs.ErrChecksum, "train-labels-idx1-ubyte.gz")
	})

	t.Run("mnist download fails", func(t *testing.T) {
		root := t.TempDir()
		opt := opts(true)
		opt.Mirrors = []string{srv.URL + "/down"}
		_, _, err := dataset.LocateAndLoad(t.Context(), "mnist", root, "test", opt)
		raw := filepath.Join(root, "MNIST", "raw")
		wantFormatErr(t, err, errs.ErrUnavailable, "t10k-images-idx3-ubyte.gz", raw, "copy it into")
	})

	t.Run("cifar10", func(t *testing.T) {
		root := t.TempDir()
		_, _, err := dataset.LocateAndLoad(t.Context(), "cifar10", root, "train", opts(false))
		wantFormatErr(t, err, errs.ErrNotFound, "data_batch_1", "data_batch_5", filepath.Join(root, "cifar-10-batches-py"), "cifar-10-python.tar.gz")

		s, read, err := dataset.LocateAndLoad(t.Context(), "cifar10", root, "train", opts(true))
		if err != nil {
			t.Fatal(err)
		}
		var images []byte
		var labels []int64
		for i, spec := range c10[:5] {
			images = append(images, spec.images...)
			labels = append(labels, spec.Labels...)
			if read[i] != filepath.Join(root, "cifar-10-batches-py", filepath.Base(spec.Out)) {
				t.Fatalf("files read: %v", read)
			}
		}
		checkDecoded(t, s, images, labels, nil, len(labels), 3, 32, 32)
		if names := listDir(t, root); !slices.Equal(names, []string{"cifar-10-batches-py"}) {
			t.Fatalf("root holds %v; the downloaded archive should be gone", names)
		}

		before := srv.requests.Load()
		s, _, err = dataset.LocateAndLoad(t.Context(), "cifar10", root, "test", opts(false))
		if err != nil {
			t.Fatal(err)
		}
		checkDecoded(t, s, c10[5].images, c10[5].Labels, nil, c10[5].N, 3, 32, 32)
		if srv.requests.Load() != before {
			t.Fatal("test split triggered a download")
		}
	})

	t.Run("cifar10 bad archive checksum", func(t *testing.T) {
		root := t.TempDir()
		opt := opts(true)
		opt.MD5Override = nil // the official MD5 cannot match the test archive
		_, _, err := dataset.LocateAndLoad(t.Context(), "cifar10", root, "test", opt)
		wantFormatErr(t, err, errs.ErrChecksum, "test_batch", "cifar-10-python.tar.gz", root)
		if names := listDir(t, root); len(names) != 0 {
			t.Fatalf("root holds %v after a failed download", names)
		}
	})

	t.Run("cifar10 binary fallback", func(t *testing.T) {
		root := t.TempDir()
		imgs, labs := fixtureBytes(90, 7*3072), fixtureLabels(90, 7, 10)
		p := writeFixture(t, filepath.Join(root, "cifar-10-batches-bin", "test_batch.bin"), cifarBinaryFixture(imgs, labs, nil))
		s, read, err := dataset.LocateAndLoad(t.Context(), "cifar10", root, "test", opts(false))
		if err != nil {
			t.Fatal(err)
		}
		checkDecoded(t, s, imgs, labs, nil, 7, 3, 32, 32)
		if !slices.Equal(read, []string{p}) {
			t.Fatalf("files read: %v", read)
		}
	})

	t.Run("cifar100 from an archive placed by hand", func(t *testing.T) {
		root := t.TempDir()
		placed := writeFixture(t, filepath.Join(root, "cifar-100-python.tar.gz"), c100Archive)
		s, _, err := dataset.LocateAndLoad(t.Context(), "cifar100", root, "train", opts(false))
		if err != nil {
			t.Fatal(err)
		}
		checkDecoded(t, s, c100[0].images, c100[0].Labels, c100[0].Coarse, c100[0].N, 3, 32, 32)
		if _, err := os.Stat(placed); err != nil {
			t.Fatalf("the user's archive was removed: %v", err)
		}
		opt := opts(false)
		opt.VerifyExisting = true
		opt.MD5Override = map[string]string{"test": md5Of(readFixture(t, c100[1].Out))}
		s, _, err = dataset.LocateAndLoad(t.Context(), "cifar100", root, "test", opt)
		if err != nil {
			t.Fatal(err)
		}
		checkDecoded(t, s, c100[1].images, c100[1].Labels, c100[1].Coarse, c100[1].N, 3, 32, 32)
	})

	t.Run("bad arguments", func(t *testing.T) {
		_, _, err := dataset.LocateAndLoad(t.Context(), "imagenet", t.TempDir(), "train", opts(false))
		wantFormatErr(t, err, errs.ErrInvalid, "imagenet")
		_, _, err = dataset.LocateAndLoad(t.Context(), "mnist", t.TempDir(), "val", opts(false))
		wantFormatErr(t, err, errs.ErrInvalid, "val")
	})
}

func readFixture(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
