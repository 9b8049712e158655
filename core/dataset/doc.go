// Package dataset owns what a dataset is: the registry of configurations
// (built-in mnist, cifar10, cifar100, imagenet and user-registered ones), the
// readers of the real on-disk formats (MNIST IDX, CIFAR pickle and binary),
// verified downloads, and the decoded-sample cache.
//
// It does not own transforms (package transform) or batching (package
// loader): a Data opens loaders over its splits (Data.OpenLoader, through an
// ArraySource), so it depends on package loader and never the reverse.
//
// # Decoded cache
//
// A decoded split is written once as an uncompressed Arrow IPC file,
// <cache>/<name>/<fingerprint>/<split>.arrow, with columns
// image: fixed_size_binary[C*H*W] (uint8, CHW per sample), label: int64 and,
// for CIFAR-100, coarse_label: int64. The schema metadata records the shape.
// Later opens memory-map the file, so processes share one copy in the page
// cache and nothing is decoded twice. pyarrow and polars read it as is.
package dataset
