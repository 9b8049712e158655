package timeseries

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/structure-net/structure-net-data/core/errs"
)

// RepairReport says what Repair found in one history and what it did.
type RepairReport struct {
	ID       string `json:"id"`
	Path     string `json:"path"`
	Backend  string `json:"backend"`  // BackendHDF5 or BackendJSON
	Damage   string `json:"damage"`   // what a killed writer left; "" when the file was clean
	Repaired bool   `json:"repaired"` // the file was rewritten
	Rows     int64  `json:"rows"`     // committed rows, all of them kept
}

// Repair puts id's history back in the state a cleanly closed writer
// leaves, when a writer died with it open:
//
//   - HDF5: the superblock still says "open for writing" (its status flags,
//     which libhdf5 sets while a writer has the file), so plain HDF5 readers
//     refuse it ("file is already open for write"; h5py without swmr=True,
//     h5dump) until the flags are cleared, the job of HDF5's h5clear -s.
//   - JSON: bytes after the last commit (a torn append).
//
// The repair is what the next writer would do on opening: it takes the
// experiment's lock (so a live writer, which also has the flags set, is an
// ErrConflict naming it, never "repaired" under its feet), keeps every
// committed row and nothing after them, and leaves a closed file (compacted
// when CompactOnClose is set). A clean history is left untouched.
func (s *Store) Repair(id string) (*RepairReport, error) {
	if err := s.check(id); err != nil {
		return nil, err
	}
	base := s.base(id)
	rep := &RepairReport{ID: id}
	switch {
	case exists(base + extH5):
		rep.Path, rep.Backend = base+extH5, BackendHDF5
		flags, err := hdf5StatusFlags(rep.Path)
		if err != nil {
			return nil, err
		}
		if flags != 0 {
			rep.Damage = fmt.Sprintf("the superblock says the file is open for writing (status flags 0x%02x): "+
				"a writer did not close it, and plain HDF5 readers refuse it", flags)
		}
	case exists(base + extJSON):
		rep.Path, rep.Backend = base+extJSON, BackendJSON
		h, err := parseJSONFile(rep.Path)
		if err != nil {
			return nil, err
		}
		if fi, err := os.Stat(rep.Path); err == nil && fi.Size() > h.commitEnd {
			rep.Damage = fmt.Sprintf("%d bytes after the last commit (an append cut short)", fi.Size()-h.commitEnd)
		}
	default:
		return nil, s.notFound(id)
	}
	if rep.Damage != "" {
		// The writer's own recovery: committed rows kept, the file rebuilt.
		w, err := s.OpenWriter(id, nil)
		if err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		rep.Repaired = true
		if rep.Backend == BackendHDF5 {
			if flags, err := hdf5StatusFlags(rep.Path); err != nil || flags != 0 {
				return nil, errs.IOf("timeseries: %s still has status flags 0x%02x after the repair (%v)", rep.Path, flags, err)
			}
		}
	}
	sum, err := s.Summary(id)
	if err != nil {
		return nil, err
	}
	rep.Rows = sum.NumEpochs
	return rep, nil
}

// hdf5StatusFlags reads the file consistency flags of an HDF5 file's
// superblock. Versions 2 and 3 keep them in the byte after the sizes of
// offsets and lengths; libhdf5 sets bit 0 (write access) and bit 2 (SWMR
// write access) when it opens the file for writing and clears them on close.
// Versions 0 and 1 have no such flags (0 is returned). The superblock is
// at 0, 512, 1024, 2048... (after a user block).
func hdf5StatusFlags(path string) (byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, errs.IOf("timeseries: open %s: %v", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, errs.IOf("timeseries: %s: %v", path, err)
	}
	sig := []byte("\x89HDF\r\n\x1a\n")
	buf := make([]byte, 12)
	for off := int64(0); off+int64(len(buf)) <= fi.Size(); off = max(512, off*2) {
		if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
			return 0, errs.IOf("timeseries: read %s: %v", path, err)
		}
		if !bytes.Equal(buf[:8], sig) {
			continue
		}
		switch buf[8] {
		case 0, 1:
			return 0, nil
		case 2, 3:
			return buf[11], nil
		default:
			return 0, errs.Unsupportedf("timeseries: %s: HDF5 superblock version %d", path, buf[8])
		}
	}
	return 0, errs.Corruptf("timeseries: %s is not an HDF5 file (no superblock signature)", path)
}
