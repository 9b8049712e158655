package imagefolder_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/structure-net/structure-net-data/core/dataset"
	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/imagefolder"
)

// expected is what tests/python/imagenet_layouts.py says torchvision makes of
// the layout it wrote.
type expected struct {
	Classes     []string `json:"classes"`
	ClassNames  []string `json:"class_names"`
	ValFiles    []string `json:"val_files"`
	ValLabels   []int32  `json:"val_labels"`
	TrainLabels []int32  `json:"train_labels"`
}

var layouts sync.Map // kind -> folder written once per test binary

// writeLayout runs the layout generator once per kind and returns a fresh
// copy of its output for the calling test to change.
func writeLayout(t *testing.T, kind string) (string, expected) {
	t.Helper()
	src, ok := layouts.Load(kind)
	if !ok {
		dir, err := os.MkdirTemp("", "snd-layout-"+kind+"-")
		if err != nil {
			t.Fatal(err)
		}
		script := filepath.Join("..", "..", "tests", "python", "imagenet_layouts.py")
		if out, err := exec.Command("python3", script, kind, dir).CombinedOutput(); err != nil {
			t.Fatalf("python3 %s %s: %v\n%s", script, kind, err, out)
		}
		src, _ = layouts.LoadOrStore(kind, dir)
	}
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(src.(string))); err != nil {
		t.Fatal(err)
	}
	var want expected
	raw, err := os.ReadFile(filepath.Join(dst, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	return dst, want
}

func TestMain(m *testing.M) {
	code := m.Run()
	layouts.Range(func(_, dir any) bool { os.RemoveAll(dir.(string)); return true })
	os.Exit(code)
}

func openImageNet(t *testing.T, dataDir string) (*imagefolder.Dataset, error) {
	t.Helper()
	d, err := imagefolder.Open(dataset.Default, "imagenet", imagefolder.OpenOptions{DataDir: dataDir, CacheDir: t.TempDir()})
	if err == nil {
		t.Cleanup(func() { d.Close() })
	}
	return d, err
}

func labels(s *imagefolder.Split) []int32 {
	out := make([]int32, s.Len())
	for i := range out {
		out[i] = int32(s.Label(i))
	}
	return out
}

func checkImageNet(t *testing.T, d *imagefolder.Dataset, want expected) {
	t.Helper()
	if !slices.Equal(d.Classes, want.Classes) || !slices.Equal(d.ClassNames, want.ClassNames) {
		t.Fatalf("classes %v %v\nwant %v %v", d.Classes, d.ClassNames, want.Classes, want.ClassNames)
	}
	if got := labels(d.Test); !slices.Equal(got, want.ValLabels) {
		t.Fatalf("val labels %v, want %v", got, want.ValLabels)
	}
	if !slices.Equal(d.Test.List.Paths, want.ValFiles) {
		t.Fatalf("val files %v", d.Test.List.Paths)
	}
	if got := labels(d.Train); !slices.Equal(got, want.TrainLabels) {
		t.Fatalf("train labels %v, want %v", got, want.TrainLabels)
	}
}

// Kaggle's archive: CSVs beside ILSVRC/, three and four levels above the
// root and its val/; DATA_DIR at the top folder, at ILSVRC/ or at CLS-LOC.
func TestImageNetKaggleLayout(t *testing.T) {
	top, want := writeLayout(t, "kaggle")
	clsLoc := filepath.Join(top, "ILSVRC", "Data", "CLS-LOC")
	for _, dataDir := range []string{top, filepath.Join(top, "ILSVRC"), clsLoc} {
		d, err := openImageNet(t, dataDir)
		if err != nil {
			t.Fatalf("DATA_DIR=%s: %v", dataDir, err)
		}
		if d.Root != clsLoc {
			t.Fatalf("root %s", d.Root)
		}
		checkImageNet(t, d, want)
		if d.Test.LabelSource != filepath.Join(top, "LOC_val_solution.csv") || d.ClassSource != filepath.Join(top, "LOC_synset_mapping.txt") {
			t.Fatalf("labels from %q, classes from %q", d.Test.LabelSource, d.ClassSource)
		}
		if d.Test.Dir != filepath.Join(clsLoc, "val") {
			t.Fatalf("the unlabelled test/ folder must not be the evaluation split: %s", d.Test.Dir)
		}
	}
	// Without the solution file, the flat val/ has no labels: say where we looked.
	os.Remove(filepath.Join(top, "LOC_val_solution.csv"))
	_, err := openImageNet(t, top)
	if !errors.Is(err, errs.ErrNotFound) || !strings.Contains(err.Error(), "LOC_val_solution.csv") || !strings.Contains(err.Error(), imagefolder.DevkitTarball) {
		t.Fatalf("got %v", err)
	}
}

// torchvision's root: flat val/ plus the devkit (folder or tarball) or
// meta.bin (zip or legacy torch format); labels must be torchvision's.
func TestImageNetDevkitRoutes(t *testing.T) {
	root, want := writeLayout(t, "devkit")
	dataDir := filepath.Dir(root)
	os.Rename(root, filepath.Join(dataDir, "imagenet"))
	root = filepath.Join(dataDir, "imagenet")
	kit := filepath.Join(root, imagefolder.DevkitDir)
	tarball := filepath.Join(root, imagefolder.DevkitTarball)
	metaBin := filepath.Join(root, imagefolder.TorchvisionMeta)
	legacy := filepath.Join(root, "meta-legacy.bin")
	stash := filepath.Join(dataDir, "stash")
	os.Mkdir(stash, 0o755)
	hide := func(p string) { t.Helper(); must(t, os.Rename(p, filepath.Join(stash, filepath.Base(p)))) }
	show := func(p string) { t.Helper(); must(t, os.Rename(filepath.Join(stash, filepath.Base(p)), p)) }

	steps := []struct {
		name   string
		change func()
		source string
	}{
		{"devkit folder", func() {}, kit},
		{"devkit tarball", func() { hide(kit) }, tarball},
		{"meta.bin (zip)", func() { hide(tarball) }, metaBin},
		{"meta.bin (legacy)", func() { hide(metaBin); must(t, os.Rename(legacy, metaBin)) }, metaBin},
	}
	for _, step := range steps {
		step.change()
		d, err := openImageNet(t, dataDir)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		checkImageNet(t, d, want)
		if d.Test.LabelSource != step.source || d.ClassSource != step.source {
			t.Fatalf("%s: labels from %q, classes from %q", step.name, d.Test.LabelSource, d.ClassSource)
		}
	}
	// A devkit whose folder lacks the ground truth still names the classes;
	// the flat val/ then takes meta.bin's labels.
	show(kit)
	os.Remove(filepath.Join(kit, "data", "ILSVRC2012_validation_ground_truth.txt"))
	d, err := openImageNet(t, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	checkImageNet(t, d, want)
	if d.ClassSource != kit || d.Test.LabelSource != metaBin {
		t.Fatalf("classes from %q, labels from %q", d.ClassSource, d.Test.LabelSource)
	}
	// A damaged meta.mat is an error naming it, never a silent relabelling.
	must(t, os.WriteFile(filepath.Join(kit, "data", "meta.mat"), []byte("MATLAB 5.0 MAT-file, truncated"), 0o644))
	if _, err := openImageNet(t, dataDir); !errors.Is(err, errs.ErrCorrupt) || !strings.Contains(err.Error(), kit) {
		t.Fatalf("damaged meta.mat: %v", err)
	}
}

func TestReadDevkitAgainstTorchvision(t *testing.T) {
	root, want := writeLayout(t, "devkit")
	for _, p := range []string{filepath.Join(root, imagefolder.DevkitDir), filepath.Join(root, imagefolder.DevkitTarball)} {
		k, err := imagefolder.ReadDevkit(p)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(k.Classes, want.Classes) {
			t.Fatalf("%s: classes %v", p, k.Classes)
		}
		for i, f := range want.ValFiles {
			if got := k.ValLabels[strings.TrimSuffix(f, ".JPEG")]; got != want.Classes[want.ValLabels[i]] {
				t.Fatalf("%s: %s is %s, torchvision says %s", p, f, got, want.Classes[want.ValLabels[i]])
			}
		}
	}
	// meta.mat keeps the inner synsets too; they are not classes.
	data, err := os.ReadFile(filepath.Join(root, imagefolder.DevkitDir, "data", "meta.mat"))
	if err != nil {
		t.Fatal(err)
	}
	synsets, err := imagefolder.ReadSynsets(data)
	if err != nil {
		t.Fatal(err)
	}
	inner := 0
	for i, s := range synsets {
		if s.NumChildren != 0 {
			inner++
			if len(s.Children) != s.NumChildren || s.ID <= 1000 {
				t.Fatalf("inner synset %+v", s)
			}
		} else if s.NumTrainImages == 0 || s.Gloss == "" {
			t.Fatalf("leaf synset %d: %+v", i, s)
		}
	}
	if inner != 3 || synsets[0].WNID != "n02119789" || synsets[0].ID != 1 {
		t.Fatalf("%d inner synsets, first %+v", inner, synsets[0])
	}
}

// meta.bin is a pickle: one that asks for any class or function is refused
// before anything is built.
func TestTorchMetaRefusesGlobals(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "meta.bin")
	script := `
import sys, torch
class Evil:
    def __reduce__(self):
        import os
        return (os.system, ("touch " + sys.argv[2],))
torch.save(({"n01440764": ("tench",)}, [Evil()]), sys.argv[1])
`
	marker := filepath.Join(dir, "ran")
	if out, err := exec.Command("python3", "-c", script, p, marker).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	_, err := imagefolder.ReadTorchMeta(p)
	if !errors.Is(err, errs.ErrUnsupported) || !strings.Contains(err.Error(), "system") {
		t.Fatalf("got %v", err)
	}
	if _, statErr := os.Stat(marker); statErr == nil {
		t.Fatal("the pickle's code ran")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
