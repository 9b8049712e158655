package imagefolder_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/structure-net/structure-net-data/core/dataset"
	"github.com/structure-net/structure-net-data/core/imagefolder"
)

func TestInventoryImageFolderLocateAndPacks(t *testing.T) {
	root := t.TempDir()
	imageTree(t, filepath.Join(root, "train"), map[string]int{"a": 2, "b": 1})
	imageTree(t, filepath.Join(root, "val"), map[string]int{"a": 1, "b": 1})
	registerFolder(t, "gotest_locate", root, nil)
	cache := t.TempDir()
	cfg, _ := dataset.Default.Get("gotest_locate")
	loc, err := imagefolder.Locate(cfg, imagefolder.OpenOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if loc.Root != root || loc.Problem != "" || len(loc.Folders) != 2 || loc.Folders[1].Path != filepath.Join(root, "val") ||
		len(loc.Packs) != 2 || loc.Packs[0].Present {
		t.Fatalf("before prepare: %+v", loc)
	}
	d := openFolder(t, "gotest_locate", imagefolder.OpenOptions{CacheDir: cache})
	path, err := d.Prepare(context.Background(), d.Test, imagefolder.PrepareOptions{MaxSide: 32})
	if err != nil {
		t.Fatal(err)
	}
	loc, _ = imagefolder.Locate(cfg, imagefolder.OpenOptions{CacheDir: cache})
	if loc.Packs[0].Present || !loc.Packs[1].Present || loc.Packs[1].Path != path || loc.Packs[1].Size == 0 {
		t.Fatalf("after preparing test: %+v", loc.Packs)
	}
	packs, err := imagefolder.ListPacks(cache)
	if err != nil {
		t.Fatal(err)
	}
	if len(packs) != 1 || packs[0].Path != path || packs[0].Split != "val" || packs[0].Dataset != "gotest_locate" ||
		packs[0].Kind != dataset.CachePack {
		t.Fatalf("packs %+v", packs)
	}
	if err := dataset.RemoveCacheFiles(cache, packs); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(cache); len(left) != 0 {
		t.Fatalf("left after removing the pack: %v", left)
	}

	// ImageNet not there: reported, not an error.
	in, _ := dataset.Default.Get("imagenet")
	loc, err = imagefolder.Locate(in, imagefolder.OpenOptions{DataDir: t.TempDir()})
	if err != nil || loc.Root != "" || !strings.Contains(loc.Problem, "no ImageNet folder") {
		t.Fatalf("missing imagenet: %+v %v", loc, err)
	}
}
