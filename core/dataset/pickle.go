package dataset

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"

	"github.com/structure-net/structure-net-data/core/errs"
)

// UnpicklePlain decodes the pickle at the start of raw, which may hold plain
// values only: dicts, lists, tuples, str, bytes, numbers, booleans and None (as gopickle types: *types.Dict, *types.List, *types.Tuple, string,
// int, *big.Int, float64...). It returns the value and the bytes it took.
//
// Every global (a class or a function; but the two that rebuild bytes) and
// every persistent id is refused,
// so a hostile pickle cannot make anything run or be built; lengths are
// checked against the data before gopickle allocates for them.
func UnpicklePlain(raw []byte) (any, int, error) {
	end, err := pickleEnd(raw)
	if err != nil {
		return nil, 0, errs.Corruptf("not a valid pickle: %v", err)
	}
	obj, err := unpicklePlain(raw[:end])
	if err != nil {
		var ug unsupportedGlobal
		if errors.As(err, &ug) {
			return nil, 0, errs.Unsupportedf("pickle refers to %s.%s; only plain values are read", ug.module, ug.name)
		}
		return nil, 0, errs.Corruptf("not a valid pickle: %v", err)
	}
	return obj, end, nil
}

func unpicklePlain(raw []byte) (obj any, err error) {
	defer func() {
		if r := recover(); r != nil {
			obj, err = nil, fmt.Errorf("malformed pickle: %v", r)
		}
	}()
	u := pickle.NewUnpickler(bytes.NewReader(raw))
	u.FindClass = findPlainGlobal
	u.PersistentLoad = func(id any) (any, error) {
		return nil, fmt.Errorf("the pickle refers to stored tensors (persistent id %v); only plain values are read", id)
	}
	return u.Load()
}

// findPlainGlobal allows only what pickles of bytes at protocol 2 call (pure
// functions returning bytes); every other global is refused.
func findPlainGlobal(module, name string) (any, error) {
	switch module + "." + name {
	case "_codecs.encode", "__builtin__.bytes", "builtins.bytes":
		return findNumpyGlobal(module, name)
	}
	return nil, unsupportedGlobal{module, name}
}

// legacyTorchMagic opens a torch.save file in the format before torch 1.6.
var legacyTorchMagic = func() *big.Int { n, _ := new(big.Int).SetString("1950a86a20f9469cfc6c", 16); return n }()

// maxTorchPickle bounds the pickle read from a torch zip file.
const maxTorchPickle = 256 << 20

// ReadTorchPlain reads a file written by torch.save whose object is plain
// values (torchvision's ImageNet meta.bin is a tuple of a dict and a list),
// in either of torch's formats: the zip archive (torch >= 1.6, its pickle in
// <name>/data.pkl) or the legacy stream of pickles (magic number, protocol
// version, system info, then the object). Tensors are refused: this reads
// metadata, never weights, and never runs code (see UnpicklePlain).
func ReadTorchPlain(data []byte) (any, error) {
	if bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, errs.Corruptf("torch file: bad zip archive: %v", err)
		}
		var pkl *zip.File
		for _, f := range zr.File {
			dir, base, ok := strings.Cut(f.Name, "/")
			if ok && dir != "" && base == "data.pkl" {
				if pkl != nil {
					return nil, errs.Corruptf("torch file: two data.pkl records (%s, %s)", pkl.Name, f.Name)
				}
				pkl = f
			}
		}
		if pkl == nil {
			return nil, errs.Corruptf("torch file: zip archive without a <name>/data.pkl record")
		}
		if pkl.UncompressedSize64 > maxTorchPickle {
			return nil, errs.Corruptf("torch file: data.pkl claims %d bytes", pkl.UncompressedSize64)
		}
		rc, err := pkl.Open()
		if err != nil {
			return nil, errs.Corruptf("torch file: %s: %v", pkl.Name, err)
		}
		defer rc.Close()
		raw, err := io.ReadAll(io.LimitReader(rc, maxTorchPickle+1))
		if err != nil {
			return nil, errs.Corruptf("torch file: %s: %v", pkl.Name, err)
		}
		obj, _, err := UnpicklePlain(raw)
		return obj, err
	}
	// Legacy: four pickles in a row.
	rest := data
	var obj any
	for i, what := range []string{"magic number", "protocol version", "system info", "object"} {
		v, n, err := UnpicklePlain(rest)
		if err != nil {
			return nil, sameKind(err, "torch file (legacy format): %s: %v", what, err)
		}
		rest = rest[n:]
		switch i {
		case 0:
			if m, ok := v.(*big.Int); !ok || m.Cmp(legacyTorchMagic) != 0 {
				return nil, errs.Corruptf("torch file: neither a zip archive nor a legacy torch.save stream (bad magic number)")
			}
		case 1:
			if p, ok := v.(int); !ok || p != 1001 {
				return nil, errs.Unsupportedf("torch file (legacy format): protocol version %v, want 1001", v)
			}
		case 3:
			obj = v
		}
	}
	return obj, nil
}
