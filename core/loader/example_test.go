package loader_test

import (
	"errors"
	"fmt"
	"io"
	"log"

	"github.com/structure-net/structure-net-data/core/dataset"
	"github.com/structure-net/structure-net-data/core/loader"
)

// A dataset from arrays in memory, a loader over its train split, and every
// batch of one epoch read through the typed views.
func Example() {
	cfg := &dataset.Config{Name: "tiny", InputShape: []int{1, 2, 2}, NumClasses: 3,
		DefaultTrainTransforms: []string{"to_tensor"}}
	cfg.EnsureDefaults()
	train := &dataset.Split{N: 5, C: 1, H: 2, W: 2,
		Images: []byte{
			0, 51, 102, 255, // sample 0
			255, 255, 255, 255,
			0, 0, 0, 0,
			51, 51, 51, 51,
			102, 102, 102, 102, // sample 4
		},
		Labels: []int64{0, 1, 2, 0, 1}}
	d, err := dataset.FromArrays(cfg, train, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	l, err := d.OpenLoader("train", loader.SplitOptions{Options: loader.Options{BatchSize: 2}})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	for {
		b, err := l.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		n, c, h, w := b.Shape()
		fmt.Printf("%dx%dx%dx%d labels %v first pixels %.1f\n", n, c, h, w, b.Labels(), b.Images()[:4])
		b.Release()
	}
	// Output:
	// 2x1x2x2 labels [0 1] first pixels [0.0 0.2 0.4 1.0]
	// 2x1x2x2 labels [2 0] first pixels [0.0 0.0 0.0 0.0]
	// 1x1x2x2 labels [1] first pixels [0.4 0.4 0.4 0.4]
}
