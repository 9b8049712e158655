package timeseries_test

import (
	"fmt"
	"log"
	"os"

	ts "github.com/structure-net/structure-net-data/core/timeseries"
)

// A training loop streams one row per epoch through a Writer; afterwards the
// last epochs are read back and the summary comes from the stored
// statistics, without reading the rows.
func Example() {
	dir, err := os.MkdirTemp("", "histories")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := ts.Open(ts.Options{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	w, err := store.OpenWriter("exp-1", nil)
	if err != nil {
		log.Fatal(err)
	}
	losses := []float64{2.3, 1.1, 0.7, 0.8}
	for epoch, loss := range losses {
		err := w.Append(&ts.Table{Rows: 1, Columns: []ts.Column{
			{Name: "epoch", Kind: ts.KindInt64, I: []int64{int64(epoch)}},
			{Name: "loss", Kind: ts.KindFloat64, F: []float64{loss}},
		}})
		if err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	h, err := store.Read("exp-1", ts.Last(2))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("rows", h.TotalRows, "last two epochs", h.Table.Columns[0].I, "losses", h.Table.Columns[1].F)

	sum, err := store.Summary("exp-1")
	if err != nil {
		log.Fatal(err)
	}
	best := sum.Best["loss"]
	fmt.Println("epochs", sum.NumEpochs, "best loss", best.Value, "at epoch", best.Index)
	// Output:
	// rows 4 last two epochs [2 3] losses [0.7 0.8]
	// epochs 4 best loss 0.7 at epoch 2
}
