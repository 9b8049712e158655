package loader

// Source produces transformed samples by dataset index. Implementations must
// be safe for concurrent Produce calls and deterministic in (index, seed).
// Datasets implement it (dataset.ArraySource, imagefolder.Source); this
// package knows no dataset type.
type Source interface {
	Len() int
	Label(i int) int64
	OutShape() (c, h, w int)
	// Produce writes sample i, transformed with randomness from seed, into dst
	// (len C*H*W of OutShape).
	Produce(i int, dst []float32, seed uint64) error
	// Transforms names the transforms applied, for metadata.
	Transforms() []string
}
