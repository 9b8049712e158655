package dataset_test

import (
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nlpodyssey/gopickle/types"

	"github.com/structure-net/structure-net-data/core/dataset"
	"github.com/structure-net/structure-net-data/core/errs"
)

// torch.save writes the same plain tuple in both of torch's formats, and an
// object whose unpickling would run code.
const torchScript = `
import sys, torch
obj = ({"n01440764": ("tench", "Tinca tinca"), "n01443537": ("goldfish",)}, ["n01443537", "n01440764"], 2**70, 1.5, None, b"raw")
torch.save(obj, sys.argv[1])
torch.save(obj, sys.argv[2], _use_new_zipfile_serialization=False)
class Evil:
    def __reduce__(self):
        import os
        return (os.system, ("touch " + sys.argv[4],))
torch.save([Evil()], sys.argv[3])
torch.save({"w": torch.zeros(2)}, sys.argv[5])
`

func TestReadTorchPlainBothFormats(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	if out, err := exec.Command("python3", "-c", torchScript, p("zip.bin"), p("legacy.bin"), p("evil.bin"), p("ran"), p("tensor.bin")).CombinedOutput(); err != nil {
		t.Fatalf("python3 torch.save: %v\n%s", err, out)
	}
	for _, name := range []string{"zip.bin", "legacy.bin"} {
		obj, err := dataset.ReadTorchPlain(readFixture(t, p(name)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tuple, ok := obj.(*types.Tuple)
		if !ok || tuple.Len() != 6 {
			t.Fatalf("%s: %#v", name, obj)
		}
		names, _ := tuple.Get(0).(*types.Dict).Get("n01440764")
		if n := names.(*types.Tuple); n.Len() != 2 || n.Get(1) != "Tinca tinca" {
			t.Fatalf("%s: names %#v", name, names)
		}
		if l := tuple.Get(1).(*types.List); l.Len() != 2 || l.Get(0) != "n01443537" {
			t.Fatalf("%s: list %#v", name, l)
		}
		if b, ok := tuple.Get(2).(*big.Int); !ok || b.Cmp(new(big.Int).Lsh(big.NewInt(1), 70)) != 0 {
			t.Fatalf("%s: big int %#v", name, tuple.Get(2))
		}
		if tuple.Get(3) != 1.5 || tuple.Get(4) != nil {
			t.Fatalf("%s: %#v %#v", name, tuple.Get(3), tuple.Get(4))
		}
	}
	if _, err := dataset.ReadTorchPlain(readFixture(t, p("evil.bin"))); !errors.Is(err, errs.ErrUnsupported) {
		t.Fatalf("a pickle calling os.system: %v", err)
	}
	if _, err := os.Stat(p("ran")); err == nil {
		t.Fatal("the pickle's code ran")
	}
	if _, err := dataset.ReadTorchPlain(readFixture(t, p("tensor.bin"))); err == nil {
		t.Fatal("tensors must be refused")
	}
	zip := readFixture(t, p("zip.bin"))
	for _, bad := range [][]byte{nil, []byte("not a torch file"), zip[:len(zip)/2]} {
		if _, err := dataset.ReadTorchPlain(bad); !errors.Is(err, errs.ErrCorrupt) {
			t.Fatalf("%q: %v", bad[:min(len(bad), 20)], err)
		}
	}
}

// FuzzReadTorchPlain: any input gives a value or a typed error, never a
// panic or an allocation sized by an unchecked field. Seeds in testdata/fuzz.
func FuzzReadTorchPlain(f *testing.F) {
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := dataset.ReadTorchPlain(data); err != nil && errs.KindOf(err) == errs.ErrInternal {
			t.Fatalf("error without a kind: %v", err)
		}
	})
}
