// Package imagefolder owns datasets stored as image files in class folders:
// ImageNet (train/<wnid>/*.JPEG, val/ in class folders or flat) and any
// root/<class>/**/<image> tree. It scans them in torchvision ImageFolder order, decodes JPEG with
// libjpeg-turbo through cgo (only the region a crop needs, and reduced by
// 1/2, 1/4 or 1/8 in the DCT domain when the resize that follows allows it)
// and PNG with Go's decoder, and serves samples to package loader through
// an image pipeline (package transform).
//
// ImageNet layouts: <data>/imagenet/{train,val}; Kaggle's download
// (ILSVRC/Data/CLS-LOC/{train,val,test} with LOC_synset_mapping.txt and
// LOC_val_solution.csv beside ILSVRC/, DATA_DIR at any of those three
// levels; the unlabelled test/ is never the evaluation split); torchvision's
// root (flat val/ with ILSVRC2012_devkit_t12/ or ILSVRC2012_devkit_t12.tar.gz,
// and its meta.bin).
//
// Classes: sorted folder names (torchvision), except that a class list
// found beside the data fixes them to its sorted wnids, so a partial
// ImageNet tree keeps ImageNet's label indices and gains readable names. The
// first found decides: LOC_synset_mapping.txt, the devkit's meta.mat (its
// leaf synsets, num_children == 0; the 860 inner ones are not classes; read
// by package matfile), torchvision's meta.bin (a torch.save'd tuple read by
// a pickle reader that refuses every class and function). A flat val/ takes
// its labels from LOC_val_solution.csv or val_labels.txt, else the devkit's
// ILSVRC2012_validation_ground_truth.txt (line n: the ILSVRC2012_ID of
// ILSVRC2012_val_<n>), else meta.bin's val_wnids. Hidden files and folders are skipped; so are
// image formats other than JPEG and PNG (counted in ScanStats). Unreadable
// folders are skipped with a warning, symlinked folders are followed once
// (loops are detected), broken links are counted.
//
// Bad images: by default an undecodable, truncated or empty file is an
// ErrCorrupt error naming the file. With on_error "skip" the sample is
// replaced by the next readable sample of the split (file order, wrapping)
// with the replaced sample's augmentation seed, so batches keep their size
// and runs stay reproducible; each bad file is logged once and listed by
// Dataset.Skipped.
//
// # Prepared pack (prepare_dataset)
//
// One file per split, <cache>/images/<dataset>/<hash of folder>-<folder>.snpack,
// written front to back and memory-mapped when read (little-endian):
//
//	"SNDPACK1"
//	image bytes, concatenated (original files, or JPEGs re-encoded at
//	  quality Q after shrinking the longer side to max_side)
//	index: count x {u64 offset, u32 length, i32 label}   (8-aligned)
//	names: (count+1) x u32 offsets, then the relative paths' bytes
//	header: JSON PackHeader (dataset, folder, max_side, quality, count,
//	  offsets, the folder's and class folders' mtimes, skipped files)
//	trailer: u64 header offset, u64 header length, "SNDPACK1"
//
// A pack is used while the folder's mtimes match the header (adding,
// removing or renaming files changes them); otherwise the folder is
// scanned again and a warning says to prepare again.
package imagefolder
