// Package loader owns batching: the deterministic sample order (shuffle by
// (seed, epoch), subsets, DistributedSampler-style sharding by rank), the
// goroutines that transform samples into batches ahead of the consumer, and
// the Arrow record batches those batches are handed out as.
//
// It knows no dataset type: datasets implement Source (samples by index) and
// SplitOpener (a loader over one of their splits), so package dataset and
// package imagefolder import this package, never the reverse.
//
// Batch buffers come from C memory (package cmem), so a batch exported
// through the Arrow C Data Interface may outlive the call that produced it
// without breaking the cgo pointer rules; its release returns the buffers to
// the pool.
//
// Resuming: the order of an epoch and each sample's augmentation depend only
// on (seed, epoch, sample index), never on thread count or timing, so a
// loader restored from State continues with bit-identical batches.
package loader
