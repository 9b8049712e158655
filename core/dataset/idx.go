package dataset

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"

	"github.com/structure-net/structure-net-data/core/errs"
)

// IDX magics: two zero bytes, the element type (0x08 = unsigned byte), then
// the number of dimensions.
const (
	idxImagesMagic = 0x00000803
	idxLabelsMagic = 0x00000801
)

// maxIDXPayload caps what one IDX file may declare. MNIST train images are
// 47 MB; anything past 2 GiB is a corrupt header, not a dataset.
const maxIDXPayload = 1 << 31

// maxDeflateRatio is deflate's worst-case expansion (zlib documents 1032:1).
// A gzip file can therefore never inflate to more than this many times its own
// size, which lets us reject a lying header before allocating for it.
const maxDeflateRatio = 1032

// idxFile is an open IDX file, transparently inflated when gzip-compressed.
type idxFile struct {
	path string
	f    *os.File
	r    io.Reader
	// maxPayload bounds the bytes the file can still deliver after its header.
	maxPayload int64
}

func openIDX(path string) (*idxFile, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errs.NotFoundf("mnist: %s: file does not exist", path)
		}
		return nil, errs.IOf("mnist: %s: %v", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, errs.IOf("mnist: %s: %v", path, err)
	}
	if st.Size() == 0 {
		f.Close()
		return nil, errs.Corruptf("mnist: %s: empty file", path)
	}
	br := bufio.NewReader(f)
	x := &idxFile{path: path, f: f, r: br, maxPayload: st.Size()}
	// Detect compression by content: torchvision leaves both .gz and inflated
	// files around, and users rename them freely.
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, errs.Corruptf("mnist: %s: bad gzip stream: %v", path, err)
		}
		x.r = zr
		x.maxPayload = st.Size() * maxDeflateRatio
	}
	return x, nil
}

func (x *idxFile) Close() error { return x.f.Close() }

// readErr turns a read failure into a truncation report when the data simply
// ran out, and into a corruption report for a broken gzip stream.
func (x *idxFile) readErr(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errs.Corruptf("mnist: %s: truncated while reading %s", x.path, what)
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return errs.IOf("mnist: %s: reading %s: %v", x.path, what, err)
	}
	return errs.Corruptf("mnist: %s: reading %s: %v", x.path, what, err)
}

// header reads the magic and dims, checks the magic, and returns the dims.
func (x *idxFile) header(want uint32, ndims int) ([]int, error) {
	buf := make([]byte, 4+4*ndims)
	if _, err := io.ReadFull(x.r, buf[:4]); err != nil {
		return nil, x.readErr("the magic number", err)
	}
	magic := binary.BigEndian.Uint32(buf)
	if magic != want {
		hint := ""
		switch magic {
		case idxImagesMagic:
			hint = " (this is an image file)"
		case idxLabelsMagic:
			hint = " (this is a label file)"
		}
		return nil, errs.Corruptf("mnist: %s: bad magic 0x%08x, want 0x%08x%s", x.path, magic, want, hint)
	}
	if _, err := io.ReadFull(x.r, buf[4:]); err != nil {
		return nil, x.readErr("the dimensions", err)
	}
	dims := make([]int, ndims)
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(buf[4+4*i:]))
	}
	x.maxPayload -= int64(len(buf))
	return dims, nil
}

// payload reads exactly n bytes after checking n against what the file can
// hold, then insists the file ends there: like torchvision, a file longer than
// its header says is treated as corrupt rather than silently cut.
func (x *idxFile) payload(n int, dims []int) ([]byte, error) {
	if int64(n) > x.maxPayload {
		return nil, errs.Corruptf("mnist: %s: dimensions %v need %d bytes but the file cannot hold more than %d (truncated or corrupt header)", x.path, dims, n, max(x.maxPayload, 0))
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(x.r, data); err != nil {
		return nil, x.readErr("the data", err)
	}
	var one [1]byte
	switch m, err := x.r.Read(one[:]); {
	case m > 0:
		return nil, errs.Corruptf("mnist: %s: trailing data after the %d bytes declared by dimensions %v", x.path, n, dims)
	case err != nil && err != io.EOF:
		return nil, x.readErr("the end of the file", err)
	}
	return data, nil
}

// ReadIDXImages reads an IDX3 unsigned-byte image file (raw or gzip) and
// returns its pixels, sample-major, with the image count and size. Sizes in
// the header are checked against what the file can hold before anything is
// allocated, and a file longer than its header declares is rejected as
// corrupt rather than silently cut (the same holds for ReadIDXLabels).
func ReadIDXImages(path string) (data []byte, n, h, w int, err error) {
	x, err := openIDX(path)
	if err != nil {
		return nil, 0, 0, 0, err
	}
	defer x.Close()
	dims, err := x.header(idxImagesMagic, 3)
	if err != nil {
		return nil, 0, 0, 0, err
	}
	n, h, w = dims[0], dims[1], dims[2]
	if h == 0 || w == 0 {
		return nil, 0, 0, 0, errs.Corruptf("mnist: %s: image size %dx%d has a zero dimension", path, h, w)
	}
	total, ok := mulBounded(maxIDXPayload, n, h, w)
	if !ok {
		return nil, 0, 0, 0, errs.Corruptf("mnist: %s: dimensions %v exceed the %d-byte limit", path, dims, maxIDXPayload)
	}
	data, err = x.payload(total, dims)
	if err != nil {
		return nil, 0, 0, 0, err
	}
	return data, n, h, w, nil
}

// ReadIDXLabels reads an IDX1 unsigned-byte label file (raw or gzip).
func ReadIDXLabels(path string) ([]int64, error) {
	x, err := openIDX(path)
	if err != nil {
		return nil, err
	}
	defer x.Close()
	dims, err := x.header(idxLabelsMagic, 1)
	if err != nil {
		return nil, err
	}
	if dims[0] > maxIDXPayload {
		return nil, errs.Corruptf("mnist: %s: %d labels exceed the %d-byte limit", path, dims[0], maxIDXPayload)
	}
	raw, err := x.payload(dims[0], dims)
	if err != nil {
		return nil, err
	}
	labels := make([]int64, len(raw))
	for i, b := range raw {
		labels[i] = int64(b)
	}
	return labels, nil
}

// ReadMNIST reads a matching pair of IDX image and label files into a
// single-channel split.
func ReadMNIST(imagesPath, labelsPath string) (*Split, error) {
	images, n, h, w, err := ReadIDXImages(imagesPath)
	if err != nil {
		return nil, err
	}
	labels, err := ReadIDXLabels(labelsPath)
	if err != nil {
		return nil, err
	}
	if len(labels) != n {
		return nil, errs.Corruptf("mnist: %s holds %d images but %s holds %d labels", imagesPath, n, labelsPath, len(labels))
	}
	for i, l := range labels {
		if l > 9 {
			return nil, errs.Corruptf("mnist: %s: label %d of sample %d is not a digit (0-9)", labelsPath, l, i)
		}
	}
	return &Split{Images: images, Labels: labels, N: n, C: 1, H: h, W: w}, nil
}
