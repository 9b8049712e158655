package imagefolder

import (
	"errors"
	"fmt"
	"sync"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/transform"
)

// Source serves one split through an image pipeline; it implements
// loader.Source. Produce is safe for concurrent use.
type Source struct {
	d    *Dataset
	s    *Split
	pipe *transform.ImagePipeline
	skip bool
	// subst maps a skipped sample to the sample that replaced it in the
	// batch, so Label (called right after Produce) agrees with the pixels.
	subst sync.Map
	bufs  sync.Pool
}

// NewSource compiles specs for d's input shape.
func NewSource(d *Dataset, s *Split, specs []transform.Spec) (*Source, error) {
	shape := d.Config.InputShape
	dct := d.opts.DCTScaling == nil || *d.opts.DCTScaling
	pipe, err := transform.CompileImage(specs, shape[0], d.Config.Mean, d.Config.Std,
		transform.ImageOptions{DCTScaling: dct, Size: [2]int{shape[1], shape[2]}})
	if err != nil {
		return nil, err
	}
	return &Source{d: d, s: s, pipe: pipe, skip: d.opts.OnError == "skip"}, nil
}

func (src *Source) Len() int                  { return src.s.Len() }
func (src *Source) OutShape() (int, int, int) { return src.pipe.OutShape() }
func (src *Source) Transforms() []string      { return src.pipe.Names() }

// Label is sample i's label, or that of the sample that replaced it.
func (src *Source) Label(i int) int64 {
	if j, ok := src.subst.Load(i); ok {
		return src.s.Label(j.(int))
	}
	return src.s.Label(i)
}

// Produce decodes and transforms sample i. With on_error="skip" an
// unreadable image is replaced by the next readable one of the split (in
// file order, wrapping around) with sample i's augmentation seed, so
// batches keep their size and a run stays reproducible.
func (src *Source) Produce(i int, dst []float32, seed uint64) error {
	n := src.s.Len()
	j := i
	for tries := 0; ; tries++ {
		err := src.produce(j, dst, seed)
		if err == nil {
			if j != i {
				src.subst.Store(i, j)
			}
			return nil
		}
		if !src.skip || !skippable(err) {
			return err
		}
		src.d.noteBad(src.s.Path(j), err)
		if tries+1 >= n {
			return errs.Corruptf("dataset %q: no readable image in the %s split (last error: %v)", src.d.Config.Name, src.s.Name, err)
		}
		j = (j + 1) % n
	}
}

// skippable: bad or unreadable files, not bugs or bad options.
func skippable(err error) bool {
	return errors.Is(err, errs.ErrCorrupt) || errors.Is(err, errs.ErrIO) || errors.Is(err, errs.ErrUnsupported)
}

func (src *Source) produce(i int, dst []float32, seed uint64) (err error) {
	// Produce runs on loader goroutines, where a panic would end the process.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error while decoding %s: %v", src.s.Path(i), r)
		}
	}()
	var buf []byte
	if b, ok := src.bufs.Get().(*[]byte); ok {
		buf = *b
	}
	data, err := src.s.Read(i, buf)
	if err != nil {
		return err
	}
	if src.s.Pack == nil {
		defer func() { src.bufs.Put(&data) }()
	}
	dec, err := NewDecoder(data)
	if err == nil {
		err = src.pipe.Apply(dec, dst, seed)
		if jd, ok := dec.(*jpegDecoder); ok {
			jd.release()
		}
	}
	if err != nil {
		return wrapFile(src.s.Path(i), err)
	}
	return nil
}

// wrapFile names the file in a decode error, keeping its kind.
func wrapFile(path string, err error) error {
	switch errs.KindOf(err) {
	case errs.ErrCorrupt:
		return errs.Corruptf("%s: %v", path, err)
	case errs.ErrUnsupported:
		return errs.Unsupportedf("%s: %v", path, err)
	case errs.ErrInvalid:
		return errs.Invalidf("%s: %v", path, err)
	}
	return errs.Corruptf("%s: %v", path, err)
}
