// Package transform owns per-sample image transforms on uint8 CHW samples:
// the geometric ones (crops, flips, padding) and the conversion to
// normalised float32 (ToTensor + Normalize in one pass through a lookup table).
//
// A Pipeline is compiled once per loader for a fixed input shape. Randomness
// comes from a per-sample generator seeded by (seed, epoch, sample index), so
// the output of a sample never depends on which thread produced it or in
// which order.
package transform
