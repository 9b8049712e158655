package timeseries

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/structure-net/structure-net-data/core/errs"
)

// fileLock is an exclusive flock(2) on an experiment's lock file, held by the
// one writer of that experiment. flock locks belong to the open file, so two
// writers in one process conflict just like two processes do, and the kernel
// drops the lock when its holder dies (kill -9 included).
type fileLock struct {
	f    *os.File
	path string
}

// lockExperiment takes the write lock of one experiment without waiting; a
// held lock is an ErrConflict naming the holder.
func lockExperiment(path, id string) (*fileLock, error) {
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, errs.IOf("timeseries: open lock file %s: %v", path, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			holder := readHolder(f)
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, errs.Conflictf("timeseries: experiment %q is being written by another writer (%s); "+
					"only one writer per experiment at a time", id, holder)
			}
			return nil, errs.IOf("timeseries: lock %s: %v", path, err)
		}
		// A deleter unlinks the lock file while holding it; a lock taken on
		// the unlinked inode protects nothing, so take the current file's.
		held, _ := f.Stat()
		now, err := os.Stat(path)
		if err == nil && os.SameFile(held, now) {
			host, _ := os.Hostname()
			_ = f.Truncate(0)
			_, _ = f.WriteAt([]byte(fmt.Sprintf("pid %d on %s since %s\n", os.Getpid(), host,
				time.Now().UTC().Format(time.RFC3339))), 0)
			return &fileLock{f: f, path: path}, nil
		}
		f.Close()
		if attempt >= 20 {
			return nil, errs.Conflictf("timeseries: experiment %q: its lock file keeps being replaced", id)
		}
	}
}

func readHolder(f *os.File) string {
	buf := make([]byte, 200)
	n, _ := f.ReadAt(buf, 0)
	if s := strings.TrimSpace(string(buf[:n])); s != "" {
		return s
	}
	return "holder unknown"
}

// release drops the lock; the file stays for the next writer.
func (l *fileLock) release() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// removeAndRelease deletes the lock file, then drops the lock (for delete).
func (l *fileLock) removeAndRelease() {
	if l != nil && l.f != nil {
		_ = os.Remove(l.path)
		l.release()
	}
}
