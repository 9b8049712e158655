package timeseries

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/logging"
)

// h5Writer is the HDF5 backend of a Writer: a streaming file open for SWMR
// appending. f is nil once closed, or when a reshape failed to reopen the
// rebuilt file.
type h5Writer struct {
	id   string
	base string
	opt  Options
	f    *h5File
}

// openH5Writer opens (creating, converting or recovering it) base's HDF5
// history for appending.
func openH5Writer(base, id string, opt Options, meta json.RawMessage) (*h5Writer, error) {
	w := &h5Writer{id: id, base: base, opt: opt}
	if err := w.open(meta); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *h5Writer) h5opt() h5Options {
	return h5Options{filter: w.opt.Compression, level: w.opt.CompressionLevel, chunk: w.opt.ChunkRows}
}

// file is the open streaming file, or ErrClosed.
func (w *h5Writer) file() (*h5File, error) {
	if w.f == nil {
		return nil, errs.Closedf("timeseries: writer for %q is closed", w.id)
	}
	return w.f, nil
}

// open leaves w.f open for SWMR appending on a streaming file.
func (w *h5Writer) open(meta json.RawMessage) error {
	path := w.base + extH5
	switch {
	case exists(path):
		// Look before opening for writing: a compact file is never opened
		// read-write (that would mark it as being written while readers use
		// it), it is rebuilt in the streaming layout instead.
		r, err := openH5Reader(path)
		if err != nil {
			return err
		}
		hdr, layout := r.hdr, r.hdr.Layout
		r.close()
		if hdr.ID != w.id {
			return errs.Corruptf("timeseries: %s belongs to experiment %q, not %q", path, hdr.ID, w.id)
		}
		if layout == layoutStreaming && (meta == nil || bytes.Equal(meta, hdr.Metadata)) {
			// libhdf5 refuses a read-write open while this process has the
			// file open read-only, hence the reader is closed first.
			f, err := openH5ForAppend(path)
			if err == nil {
				w.f = f
				return nil
			}
			if errors.Is(err, errs.ErrConflict) {
				return err
			}
			// A writer died with the file open: keep its committed rows.
			logging.L().Info().Str("file", path).Str("reason", err.Error()).Msg("timeseries: recovering history")
		}
		if meta != nil {
			hdr.Metadata = meta
		}
		if r, err = openH5Reader(path); err != nil {
			return err
		}
		defer r.close()
		return w.rebuild(r, hdr)
	case exists(w.base + extJSON):
		h, err := parseJSONFile(w.base + extJSON)
		if err != nil {
			return err
		}
		if h.hdr.ID != w.id {
			return errs.Corruptf("timeseries: %s belongs to experiment %q, not %q", w.base+extJSON, h.hdr.ID, w.id)
		}
		hdr := h.hdr
		if meta != nil {
			hdr.Metadata = meta
		}
		if err := w.rebuild(h, hdr); err != nil {
			return err
		}
		if err := os.Remove(w.base + extJSON); err != nil && !os.IsNotExist(err) {
			return errs.IOf("timeseries: remove %s: %v", w.base+extJSON, err)
		}
		return nil
	default:
		return w.rebuild(nil, header{ID: w.id, Metadata: orEmpty(meta), Created: now()})
	}
}

// rebuild writes a new streaming file from src's committed rows (src may be
// nil), laid out as hdr.Schema, installs it over the history's file and opens
// it for SWMR appending. It is how a history changes shape (new columns,
// masks, an int64 column becoming float64, new metadata) and how one is
// recovered: the old file is replaced only once the new one is complete.
func (w *h5Writer) rebuild(src source, hdr header) error {
	tmp := tempName(w.base + extH5)
	f, err := copyInto(tmp, src, hdr, layoutStreaming, w.h5opt())
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := f.close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := installFile(tmp, w.base+extH5, w.opt.Fsync); err != nil {
		return err
	}
	if f, err = openH5ForAppend(w.base + extH5); err != nil {
		return err
	}
	w.f = f
	return nil
}

// copyInto creates path with hdr (its Schema the target layout) and copies
// every committed row of src into it, converting columns to their new kinds.
// The file is left open and committed.
func copyInto(path string, src source, hdr header, layout string, opt h5Options) (*h5File, error) {
	f, err := createH5(path, hdr, layout, opt)
	if err != nil {
		return nil, err
	}
	if src != nil {
		rows := src.header().Rows
		for lo := int64(0); lo < rows; lo += copyBlock {
			t, err := src.readPlan(rowPlan{Start: lo, Count: min(copyBlock, rows-lo), Stride: 1})
			if err == nil {
				t, err = align(t, hdr.Schema)
			}
			if err == nil {
				err = f.appendRows(t)
			}
			if err != nil {
				f.close()
				return nil, err
			}
		}
	}
	if err := f.commit(); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

func (w *h5Writer) append(t *Table) error {
	f, err := w.file()
	if err != nil {
		return err
	}
	schema, aligned, changed, err := merge(f.hdr.Schema, t, f.hdr.Rows)
	if err != nil {
		return err
	}
	if changed {
		hdr := f.hdr
		hdr.Schema = schema
		if err := w.reshape(hdr); err != nil {
			return err
		}
	}
	return w.f.appendDurably(aligned)
}

// reshape leaves SWMR mode (new datasets and attributes cannot be made in
// it) by closing the file cleanly, then rebuilds it with hdr.
func (w *h5Writer) reshape(hdr header) error {
	if err := w.f.close(); err != nil {
		return err
	}
	w.f = nil
	r, err := openH5Reader(w.base + extH5)
	if err != nil {
		return err
	}
	defer r.close()
	return w.rebuild(r, hdr)
}

func (w *h5Writer) metadata() json.RawMessage {
	if w.f == nil {
		return nil
	}
	return w.f.hdr.Metadata
}

func (w *h5Writer) setMetadata(meta json.RawMessage) error {
	f, err := w.file()
	if err != nil {
		return err
	}
	hdr := f.hdr
	hdr.Metadata = meta
	return w.reshape(hdr)
}

func (w *h5Writer) read(sel Selection) (*History, error) {
	f, err := w.file()
	if err != nil {
		return nil, err
	}
	hdr := f.hdr
	plan, err := sel.resolve(hdr.Rows)
	if err != nil {
		return nil, err
	}
	t, err := readRows(f.fid, hdr.Schema, plan, f.opener)
	if err != nil {
		return nil, err
	}
	return &History{ExperimentID: w.id, Metadata: hdr.Metadata, TotalRows: hdr.Rows, Backend: BackendHDF5, Table: t}, nil
}

func (w *h5Writer) summary() (*Summary, error) {
	f, err := w.file()
	if err != nil {
		return nil, err
	}
	return summaryOf(f.hdr, f.stats, BackendHDF5, f.path), nil
}

func (w *h5Writer) close() error {
	if w.f == nil {
		return nil
	}
	err := w.f.close()
	w.f = nil
	return err
}

// compact rewrites the closed streaming file compressed. On failure the
// streaming file stays, complete and readable.
func (w *h5Writer) compact() error {
	r, err := openH5Reader(w.base + extH5)
	if err != nil {
		return err
	}
	tmp := tempName(w.base + extH5)
	f, err := copyInto(tmp, r, r.hdr, layoutCompact, w.h5opt())
	r.close()
	if err == nil {
		err = f.close()
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return installFile(tmp, w.base+extH5, w.opt.Fsync)
}
