package metadata_test

import (
	"fmt"
	"os"

	"github.com/structure-net/structure-net-data/core/metadata"
)

// Record what a dataset is and every time an experiment loads a split, then
// summarise its use.
func Example() {
	dir, err := os.MkdirTemp("", "metadata-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	s, err := metadata.Open(dir)
	if err != nil {
		panic(err)
	}
	defer s.Close()
	if err := s.PutDataset(metadata.Dataset{DatasetName: "mnist", Version: "1.0", NumSamples: 70000, Shape: []int{1, 28, 28}}); err != nil {
		panic(err)
	}
	for _, u := range []metadata.Usage{
		{ExperimentID: "exp-1", DatasetName: "mnist", SubsetUsed: "train", SamplesUsed: 60000},
		{ExperimentID: "exp-1", DatasetName: "mnist", SubsetUsed: "test", SamplesUsed: 10000},
		{ExperimentID: "exp-2", DatasetName: "mnist", SubsetUsed: "train", SamplesUsed: 6000},
	} {
		if _, err := s.TrackUsage(u); err != nil {
			panic(err)
		}
	}
	d, err := s.GetDataset("mnist")
	if err != nil {
		panic(err)
	}
	st, err := s.Stats("mnist")
	if err != nil {
		panic(err)
	}
	fmt.Println(d.DatasetName, d.Shape, d.NumSamples)
	fmt.Println(st.TotalUses, "uses by", st.UniqueExperiments, "experiments,", st.TotalSamplesUsed, "samples; train:", st.SubsetDistribution["train"])
	// Output:
	// mnist [1 28 28] 70000
	// 3 uses by 2 experiments, 76000 samples; train: 2
}
