package timeseries

import (
	"errors"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/logging"
)

// Compact files never change in place (every change installs a new file by
// rename), so the store keeps a few of them open with their datasets: a
// repeated read skips the file open and finds its chunks decompressed in the
// chunk cache. A file is reused only while the path still names the same,
// unmodified inode. Streaming files are opened per read, since their writer
// appends in place.
const chunkCacheBytes = 64 << 10

type fileSig struct {
	dev, ino    uint64
	size, mtime int64
}

func statSig(path string) (fileSig, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileSig{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileSig{size: fi.Size(), mtime: fi.ModTime().UnixNano()}, nil
	}
	return fileSig{dev: uint64(st.Dev), ino: st.Ino, size: fi.Size(), mtime: fi.ModTime().UnixNano()}, nil
}

// cachedReader is an open compact file; mu serializes its use.
type cachedReader struct {
	mu     sync.Mutex
	r      *h5Reader
	sig    fileSig
	dsets  map[string]hid
	group  hid
	closed bool
}

func (c *cachedReader) dataset(name string, mask bool) (hid, error) {
	key := name
	loc := c.r.fid
	if mask {
		key = maskGroup + "/" + name
		if c.group < 0 {
			g, err := h5GroupOpen(c.r.fid, maskGroup)
			if err != nil {
				return noID, err
			}
			c.group = g
		}
		loc = c.group
	}
	if d, ok := c.dsets[key]; ok {
		return d, nil
	}
	d, err := h5DatasetOpenCached(loc, name, chunkCacheBytes)
	if err != nil {
		return noID, err
	}
	c.dsets[key] = d
	return d, nil
}

// closeOnce closes the file once no read is using it; later calls do nothing.
func (c *cachedReader) closeOnce() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	for _, d := range c.dsets {
		h5DatasetClose(d)
	}
	h5GroupClose(c.group)
	c.r.close()
	c.closed = true
}

type readerCache struct {
	mu    sync.Mutex
	limit int
	files map[string]*cachedReader
	order []string // least recently used first
	// closing counts evicted readers still waiting to be closed, so that
	// closeAll returns only once every file the cache opened is closed.
	closing sync.WaitGroup
	closed  bool // after closeAll: reads use their file once and close it
}

func newReaderCache(limit int) *readerCache {
	return &readerCache{limit: limit, files: map[string]*cachedReader{}}
}

// use runs fn with an open reader of path, from the cache when the file is
// unchanged. Streaming files are not cached. A read that finds damaged
// metadata is retried a few times: a writer in another process may be
// rewriting that very block (libhdf5 retries single blocks, but a loaded
// machine can outlast its retries); a really damaged file fails every time.
func (rc *readerCache) use(path string, fn func(r *h5Reader, open datasetOpener) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = rc.useOnce(path, fn); err == nil || !errors.Is(err, errs.ErrCorrupt) {
			return err
		}
		rc.forget(path)
		logging.L().Debug().Err(err).Int("attempt", attempt).Msg("timeseries: retrying a read")
		time.Sleep(time.Duration(10<<attempt) * time.Millisecond)
	}
	return err
}

func (rc *readerCache) useOnce(path string, fn func(r *h5Reader, open datasetOpener) error) error {
	for {
		sig, err := statSig(path)
		if err != nil {
			rc.forget(path)
			return errs.NotFoundf("timeseries: %s no longer exists", path)
		}
		rc.mu.Lock()
		c := rc.files[path]
		if c != nil && c.sig != sig {
			rc.dropLocked(path)
			c = nil
		}
		if c != nil {
			rc.touchLocked(path)
		}
		rc.mu.Unlock()
		if c == nil {
			r, err := openH5Reader(path)
			if err != nil {
				return err
			}
			if r.hdr.Layout != layoutCompact || rc.limit == 0 {
				defer r.close()
				return fn(r, nil)
			}
			c = &cachedReader{r: r, sig: sig, dsets: map[string]hid{}, group: noID}
			if !rc.add(path, c) {
				defer r.close()
				return fn(r, nil)
			}
		}
		c.mu.Lock()
		if c.closed {
			// Evicted between the lookup and the lock: look again.
			c.mu.Unlock()
			continue
		}
		err = fn(c.r, c.dataset)
		c.mu.Unlock()
		return err
	}
}

// add caches c as path's reader, evicting the least recently used beyond
// the limit; false when the cache is closed (the caller keeps c to itself).
func (rc *readerCache) add(path string, c *cachedReader) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.closed {
		return false
	}
	rc.dropLocked(path)
	rc.files[path] = c
	rc.order = append(rc.order, path)
	for len(rc.order) > rc.limit {
		rc.dropLocked(rc.order[0])
	}
	return true
}

// touchLocked marks path as the most recently used.
func (rc *readerCache) touchLocked(path string) {
	if i := slices.Index(rc.order, path); i >= 0 {
		rc.order = append(slices.Delete(rc.order, i, i+1), path)
	}
}

// dropLocked removes path from the cache and closes its reader once no read
// is using it (the close waits for the reader's lock in a tracked goroutine,
// so the cache lock is never held while waiting).
func (rc *readerCache) dropLocked(path string) {
	c := rc.files[path]
	if c == nil {
		return
	}
	delete(rc.files, path)
	rc.order = slices.DeleteFunc(rc.order, func(p string) bool { return p == path })
	rc.closing.Go(c.closeOnce)
}

func (rc *readerCache) forget(path string) {
	rc.mu.Lock()
	rc.dropLocked(path)
	rc.mu.Unlock()
}

// closeAll closes every cached file, waiting for reads still using one, and
// returns once the files evicted earlier are closed too. Nothing is cached
// afterwards. The cache lock is held throughout, so no eviction starts while
// it waits; the closes it waits for take only their reader's lock.
func (rc *readerCache) closeAll() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.closed = true
	for path := range rc.files {
		rc.dropLocked(path)
	}
	rc.closing.Wait()
}
