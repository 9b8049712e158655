package imagefolder

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/nlpodyssey/gopickle/types"

	"github.com/structure-net/structure-net-data/core/dataset"
	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/matfile"
)

// The ImageNet 2012 development kit, as distributed and as torchvision
// keeps it: the tarball, or the folder it unpacks to.
const (
	DevkitDir     = "ILSVRC2012_devkit_t12"
	DevkitTarball = "ILSVRC2012_devkit_t12.tar.gz"
	devkitMeta    = "data/meta.mat"
	devkitTruth   = "data/ILSVRC2012_validation_ground_truth.txt"
	// TorchvisionMeta is the file torchvision's ImageNet writes in its root
	// after parsing the devkit: torch.save((wnid_to_classes, val_wnids)).
	TorchvisionMeta = "meta.bin"
	maxDevkitFile   = 64 << 20
)

// ValImageName is the stem of the n-th (1-based) validation image.
func ValImageName(n int) string { return fmt.Sprintf("ILSVRC2012_val_%08d", n) }

// Synset is one entry of the devkit's meta.mat "synsets" struct array.
type Synset struct {
	ID             int    // ILSVRC2012_ID: 1..1000 for the classes, above for inner nodes
	WNID           string // WordNet id, "n01440764"
	Words          string // "tench, Tinca tinca"
	Gloss          string
	NumChildren    int // 0 for the 1000 leaf synsets, the classes
	Children       []int
	WordnetHeight  int
	NumTrainImages int
}

// ReadSynsets decodes meta.mat's synsets, in the file's order (which is not
// wnid order).
func ReadSynsets(data []byte) ([]Synset, error) {
	f, err := matfile.Read(data, matfile.Options{MaxBytes: maxDevkitFile})
	if err != nil {
		return nil, err
	}
	v, ok := f.Variable("synsets")
	if !ok {
		return nil, errs.Corruptf("meta.mat has no \"synsets\" variable")
	}
	if v.Class != matfile.ClassStruct {
		return nil, errs.Corruptf("meta.mat: synsets is a %s array, not a struct array", v.Class)
	}
	out := make([]Synset, len(v.Elements))
	for i := range v.Elements {
		s := &out[i]
		num := func(field string, dst *int) error {
			x, ok := v.Field(i, field)
			if !ok {
				return errs.Corruptf("meta.mat: synsets has no field %q", field)
			}
			f, err := x.Scalar()
			if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<31 {
				return errs.Corruptf("meta.mat: synset %d: %s is not a whole number", i+1, field)
			}
			*dst = int(f)
			return nil
		}
		str := func(field string, dst *string, required bool) error {
			x, ok := v.Field(i, field)
			if !ok {
				if required {
					return errs.Corruptf("meta.mat: synsets has no field %q", field)
				}
				return nil
			}
			t, err := x.String()
			if err != nil {
				return errs.Corruptf("meta.mat: synset %d: %s is not text", i+1, field)
			}
			*dst = t
			return nil
		}
		if err := num("ILSVRC2012_ID", &s.ID); err != nil {
			return nil, err
		}
		if err := str("WNID", &s.WNID, true); err != nil {
			return nil, err
		}
		if err := num("num_children", &s.NumChildren); err != nil {
			return nil, err
		}
		if err := str("words", &s.Words, false); err != nil {
			return nil, err
		}
		if err := str("gloss", &s.Gloss, false); err != nil {
			return nil, err
		}
		for _, opt := range []struct {
			field string
			dst   *int
		}{{"wordnet_height", &s.WordnetHeight}, {"num_train_images", &s.NumTrainImages}} {
			if _, ok := v.Field(i, opt.field); ok {
				if err := num(opt.field, opt.dst); err != nil {
					return nil, err
				}
			}
		}
		if c, ok := v.Field(i, "children"); ok {
			for _, x := range c.Real {
				s.Children = append(s.Children, int(x))
			}
		}
	}
	return out, nil
}

// Devkit is what the development kit says about the classes and the
// validation images.
type Devkit struct {
	Path      string            // the devkit folder or tarball read
	Classes   []string          // the leaf synsets' wnids, sorted (torchvision's class order)
	Names     map[string]string // wnid -> words
	ValLabels map[string]string // validation image stem -> wnid
}

// ReadDevkit reads ILSVRC2012_devkit_t12 (the folder, or the tarball
// torchvision keeps): meta.mat's leaf synsets (num_children == 0) are the
// classes, and the ground-truth file's n-th line is the ILSVRC2012_ID of
// the n-th validation image.
func ReadDevkit(path string) (*Devkit, error) {
	var meta, truth []byte
	var err error
	if strings.HasSuffix(path, ".tar.gz") || strings.HasSuffix(path, ".tgz") {
		meta, truth, err = readDevkitTarball(path)
	} else {
		// Without the ground truth the devkit still names the classes.
		if meta, err = readSmallFile(filepath.Join(path, devkitMeta)); err == nil {
			if truth, err = readSmallFile(filepath.Join(path, devkitTruth)); errors.Is(err, errs.ErrNotFound) {
				truth, err = nil, nil
			}
		}
	}
	if err != nil {
		return nil, err
	}
	synsets, err := ReadSynsets(meta)
	if err != nil {
		return nil, errs.Corruptf("%s: %v", path, err)
	}
	k := &Devkit{Path: path, Names: map[string]string{}}
	byID := map[int]string{}
	for _, s := range synsets {
		if s.NumChildren != 0 {
			continue // an inner node of the hierarchy, not a class
		}
		if _, dup := k.Names[s.WNID]; dup || s.WNID == "" {
			return nil, errs.Corruptf("%s: meta.mat lists leaf synset %q twice or without a wnid", path, s.WNID)
		}
		if _, dup := byID[s.ID]; dup {
			return nil, errs.Corruptf("%s: meta.mat gives ILSVRC2012_ID %d to two leaf synsets", path, s.ID)
		}
		byID[s.ID] = s.WNID
		k.Names[s.WNID] = s.Words
		k.Classes = append(k.Classes, s.WNID)
	}
	if len(k.Classes) == 0 {
		return nil, errs.Corruptf("%s: meta.mat has no leaf synsets (num_children == 0)", path)
	}
	sort.Strings(k.Classes)
	if truth != nil {
		k.ValLabels = map[string]string{}
		sc := bufio.NewScanner(bytes.NewReader(truth))
		n := 0
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" {
				continue
			}
			n++
			id, err := strconv.Atoi(line)
			if err != nil {
				return nil, errs.Corruptf("%s: %s line %d: %q is not an ILSVRC2012_ID", path, devkitTruth, n, line)
			}
			wnid, ok := byID[id]
			if !ok {
				return nil, errs.Corruptf("%s: %s line %d: ILSVRC2012_ID %d is not a leaf synset of meta.mat", path, devkitTruth, n, id)
			}
			k.ValLabels[ValImageName(n)] = wnid
		}
		if err := sc.Err(); err != nil {
			return nil, errs.Corruptf("%s: %s: %v", path, devkitTruth, err)
		}
	}
	return k, nil
}

func readSmallFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errs.NotFoundf("%s does not exist", path)
		}
		return nil, errs.IOf("open %s: %v", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxDevkitFile+1))
	if err != nil {
		return nil, errs.IOf("read %s: %v", path, err)
	}
	if len(data) > maxDevkitFile {
		return nil, errs.Corruptf("%s is larger than %d bytes", path, maxDevkitFile)
	}
	return data, nil
}

// readDevkitTarball takes meta.mat and the ground truth out of the devkit
// tarball without unpacking it.
func readDevkitTarball(path string) (meta, truth []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, errs.IOf("open %s: %v", path, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, nil, errs.Corruptf("%s: not a gzip file: %v", path, err)
	}
	tr := tar.NewReader(zr)
	for meta == nil || truth == nil {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, errs.Corruptf("%s: %v", path, err)
		}
		name := strings.TrimPrefix(filepath.ToSlash(h.Name), "./")
		var dst *[]byte
		switch name {
		case DevkitDir + "/" + devkitMeta:
			dst = &meta
		case DevkitDir + "/" + devkitTruth:
			dst = &truth
		default:
			continue
		}
		if h.Size > maxDevkitFile {
			return nil, nil, errs.Corruptf("%s: %s claims %d bytes", path, name, h.Size)
		}
		if *dst, err = io.ReadAll(tr); err != nil {
			return nil, nil, errs.Corruptf("%s: %s: %v", path, name, err)
		}
	}
	if meta == nil {
		return nil, nil, errs.Corruptf("%s holds no %s/%s", path, DevkitDir, devkitMeta)
	}
	return meta, truth, nil
}

// TorchMeta is torchvision's meta.bin: every class's names and the wnid
// of every validation image.
type TorchMeta struct {
	Path      string
	Classes   []string          // sorted wnids
	Names     map[string]string // wnid -> its names joined by ", " (as the devkit's words)
	ValLabels map[string]string // validation image stem -> wnid
}

// ReadTorchMeta reads meta.bin, a torch.save'd (wnid_to_classes, val_wnids)
// tuple, in torch's zip or legacy format, without running any code (see
// dataset.ReadTorchPlain). val_wnids follows the sorted validation file
// names, ILSVRC2012_val_00000001 first.
func ReadTorchMeta(path string) (*TorchMeta, error) {
	data, err := readSmallFile(path)
	if err != nil {
		return nil, err
	}
	obj, err := dataset.ReadTorchPlain(data)
	if err != nil {
		return nil, sameKindf(err, "%s: %v", path, err)
	}
	bad := func(what string) error {
		return errs.Corruptf("%s: want torchvision's (wnid_to_classes, val_wnids) tuple, %s", path, what)
	}
	tuple, ok := obj.(*types.Tuple)
	if !ok || tuple.Len() != 2 {
		return nil, bad(fmt.Sprintf("got %T", obj))
	}
	classes, ok := tuple.Get(0).(*types.Dict)
	if !ok {
		return nil, bad("its first item is not a dict")
	}
	m := &TorchMeta{Path: path, Names: map[string]string{}, ValLabels: map[string]string{}}
	for _, e := range *classes {
		wnid, ok := e.Key.(string)
		if !ok {
			return nil, bad("a wnid is not a string")
		}
		var names []string
		switch v := e.Value.(type) {
		case *types.Tuple:
			for i := range v.Len() {
				s, ok := v.Get(i).(string)
				if !ok {
					return nil, bad("a class name is not a string")
				}
				names = append(names, s)
			}
		case string:
			names = []string{v}
		default:
			return nil, bad("a class's names are not a tuple of strings")
		}
		if _, dup := m.Names[wnid]; !dup {
			m.Classes = append(m.Classes, wnid)
		}
		m.Names[wnid] = strings.Join(names, ", ")
	}
	sort.Strings(m.Classes)
	switch val := tuple.Get(1).(type) {
	case *types.List:
		for i := range val.Len() {
			w, ok := val.Get(i).(string)
			if !ok {
				return nil, bad("a val wnid is not a string")
			}
			m.ValLabels[ValImageName(i+1)] = w
		}
	case nil:
	default:
		return nil, bad("its second item is not a list")
	}
	return m, nil
}

// sameKindf wraps err's message with context, keeping its kind.
func sameKindf(err error, format string, args ...any) error {
	switch errs.KindOf(err) {
	case errs.ErrUnsupported:
		return errs.Unsupportedf(format, args...)
	case errs.ErrNotFound:
		return errs.NotFoundf(format, args...)
	case errs.ErrIO:
		return errs.IOf(format, args...)
	}
	return errs.Corruptf(format, args...)
}
