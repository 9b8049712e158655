package dataset

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/structure-net/structure-net-data/core/errs"
)

// Progress is called with bytes done and total (-1 when unknown); may be nil.
type Progress func(name string, done, total int64)

// Fetch downloads url into dest atomically: it streams into dest+".part-<random>" in the same
// directory, verifies the MD5 (hex, when non-empty), fsyncs, then renames into place. On any
// failure the partial file is removed, so nothing half-written is ever trusted.
//
// Network and HTTP failures wrap errs.ErrUnavailable, a digest mismatch
// errs.ErrChecksum, and local disk failures errs.ErrIO.
func Fetch(ctx context.Context, client *http.Client, url, dest, md5hex string, progress Progress) (err error) {
	if md5hex != "" {
		if b, derr := hex.DecodeString(md5hex); derr != nil || len(b) != md5.Size {
			return errs.Invalidf("download %s: %q is not a hex MD5 digest", url, md5hex)
		}
	}
	if client == nil {
		client = http.DefaultClient
	}
	name := filepath.Base(dest)
	dir := filepath.Dir(dest)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return errs.Invalidf("download %s: %v", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return errs.Unavailablef("download %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errs.Unavailablef("download %s: HTTP %s", url, resp.Status)
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errs.IOf("download %s: %v", url, err)
	}
	part, err := os.CreateTemp(dir, name+".part-*")
	if err != nil {
		return errs.IOf("download %s: %v", url, err)
	}
	defer func() {
		if err != nil {
			part.Close()
			os.Remove(part.Name())
		}
	}()

	h := md5.New()
	cw := &countingWriter{w: io.MultiWriter(part, h), name: name, total: resp.ContentLength, progress: progress}
	if progress != nil {
		progress(name, 0, resp.ContentLength)
	}
	if _, err := io.Copy(cw, resp.Body); err != nil {
		if cw.writeErr != nil {
			return errs.IOf("download %s: writing %s: %v", url, part.Name(), cw.writeErr)
		}
		return errs.Unavailablef("download %s: interrupted after %d bytes: %w", url, cw.done, err)
	}
	if resp.ContentLength >= 0 && cw.done != resp.ContentLength {
		return errs.Unavailablef("download %s: got %d bytes, server announced %d", url, cw.done, resp.ContentLength)
	}
	if got := hex.EncodeToString(h.Sum(nil)); md5hex != "" && !strings.EqualFold(got, md5hex) {
		return errs.Checksumf("download %s: md5 %s, want %s", url, got, md5hex)
	}
	// CreateTemp makes the file private; a dataset folder is usually shared.
	if err := part.Chmod(0o644); err != nil {
		return errs.IOf("download %s: %v", url, err)
	}
	if err := part.Sync(); err != nil {
		return errs.IOf("download %s: syncing %s: %v", url, part.Name(), err)
	}
	if err := part.Close(); err != nil {
		return errs.IOf("download %s: closing %s: %v", url, part.Name(), err)
	}
	if err := os.Rename(part.Name(), dest); err != nil {
		return errs.IOf("download %s: %v", url, err)
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename durable. It is best effort: some filesystems and
// platforms refuse to fsync directories, and the data itself is already synced.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// countingWriter reports progress and tells a disk failure apart from a
// network one, since io.Copy returns either without saying which side failed.
type countingWriter struct {
	w        io.Writer
	name     string
	done     int64
	total    int64
	progress Progress
	writeErr error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.done += int64(n)
	if err != nil {
		c.writeErr = err
		return n, err
	}
	if c.progress != nil {
		c.progress(c.name, c.done, c.total)
	}
	return n, nil
}

// FetchFirst tries each mirror base URL in order (base + "/" + fileName) and returns the first success;
// when all fail the error names the file, the destination folder, every URL tried and the last cause,
// and says how to place the file manually (copy it into <folder>); wrap errs.ErrUnavailable for network
// failures and errs.ErrChecksum when every mirror served bad bytes.
func FetchFirst(ctx context.Context, client *http.Client, mirrors []string, fileName, destDir, md5hex string, progress Progress) (string, error) {
	if fileName == "" || filepath.Base(fileName) != fileName || !filepath.IsLocal(fileName) {
		return "", errs.Invalidf("download: %q is not a plain file name", fileName)
	}
	if len(mirrors) == 0 {
		return "", errs.Invalidf("download %s: no mirrors given", fileName)
	}
	dest := filepath.Join(destDir, fileName)
	var tried []string
	var last error
	allChecksum := true
	for _, base := range mirrors {
		url := strings.TrimRight(base, "/") + "/" + fileName
		err := Fetch(ctx, client, url, dest, md5hex, progress)
		if err == nil {
			return dest, nil
		}
		// Another mirror cannot fix a bad digest string, a full disk or a
		// cancelled context.
		if errors.Is(err, errs.ErrInvalid) || errors.Is(err, errs.ErrIO) || ctx.Err() != nil {
			return "", err
		}
		tried = append(tried, url)
		last = err
		allChecksum = allChecksum && errors.Is(err, errs.ErrChecksum)
	}
	msg := "could not download %s into %s: tried %s; last error: %w. " +
		"To install it by hand, download %s yourself and copy it into %s"
	args := []any{fileName, destDir, strings.Join(tried, ", "), last, fileName, destDir}
	if allChecksum {
		return "", errs.Checksumf(msg+" (every mirror served bytes with the wrong MD5)", args...)
	}
	// The last mirror's failure decides the kind: bad bytes stay a checksum
	// error, an outage stays unavailable.
	return "", sameKind(last, msg, args...)
}

// VerifyMD5 checks the file at path against a hex MD5 digest.
func VerifyMD5(path, md5hex string) error {
	if b, err := hex.DecodeString(md5hex); err != nil || len(b) != md5.Size {
		return errs.Invalidf("%s: %q is not a hex MD5 digest", path, md5hex)
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errs.NotFoundf("%s: file does not exist", path)
		}
		return errs.IOf("%s: %v", path, err)
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return errs.IOf("%s: %v", path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, md5hex) {
		return errs.Checksumf("%s: md5 %s, want %s", path, got, md5hex)
	}
	return nil
}

// ExtractTarGz unpacks a .tar.gz into destDir. Entries must be regular files
// or directories with local names: "..", absolute paths, symlinks and hard
// links are rejected, so a hostile archive cannot write outside destDir.
//
// Everything is unpacked into a hidden temporary folder inside destDir first
// and only then renamed into place, so an interrupted extraction leaves no
// half-filled dataset folder behind. When a top-level folder already exists
// the missing files are moved into it and existing files are left untouched.
func ExtractTarGz(archivePath, destDir string) (err error) {
	f, err := os.Open(archivePath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errs.NotFoundf("extract %s: file does not exist", archivePath)
		}
		return errs.IOf("extract %s: %v", archivePath, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return errs.Corruptf("extract %s: not a gzip file: %v", archivePath, err)
	}
	if err := os.MkdirAll(destDir, 0o755); err != nil {
		return errs.IOf("extract %s: %v", archivePath, err)
	}
	tmp, err := os.MkdirTemp(destDir, ".extract-*")
	if err != nil {
		return errs.IOf("extract %s: %v", archivePath, err)
	}
	defer os.RemoveAll(tmp)

	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return errs.Corruptf("extract %s: %v", archivePath, err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name := filepath.FromSlash(hdr.Name)
		if !filepath.IsLocal(name) {
			return errs.Corruptf("extract %s: entry %q escapes the destination folder", archivePath, hdr.Name)
		}
		target := filepath.Join(tmp, name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return errs.IOf("extract %s: %v", archivePath, err)
			}
		case tar.TypeReg:
			if err := extractFile(tr, target); err != nil {
				if errors.Is(err, errs.ErrIO) {
					return errs.IOf("extract %s: entry %q: %v", archivePath, hdr.Name, err)
				}
				return errs.Corruptf("extract %s: entry %q: %v", archivePath, hdr.Name, err)
			}
		default:
			return errs.Corruptf("extract %s: entry %q is a %s, only files and folders are allowed", archivePath, hdr.Name, tarTypeName(hdr.Typeflag))
		}
	}

	entries, err := os.ReadDir(tmp)
	if err != nil {
		return errs.IOf("extract %s: %v", archivePath, err)
	}
	for _, e := range entries {
		if err := moveInto(filepath.Join(tmp, e.Name()), filepath.Join(destDir, e.Name())); err != nil {
			return errs.IOf("extract %s: %v", archivePath, err)
		}
	}
	syncDir(destDir)
	return nil
}

// extractFile writes one entry; an error wrapping errs.ErrIO is the disk's
// fault, anything else the archive's.
func extractFile(r io.Reader, target string) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return errs.IOf("%v", err)
	}
	// O_EXCL: a duplicate entry must not silently replace an earlier one.
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("appears twice in the archive")
		}
		return errs.IOf("%v", err)
	}
	_, cerr := io.Copy(out, r)
	serr := out.Sync()
	if err := out.Close(); err != nil && serr == nil {
		serr = err
	}
	if cerr != nil {
		var pe *fs.PathError
		if errors.As(cerr, &pe) {
			return errs.IOf("%v", cerr)
		}
		return cerr
	}
	if serr != nil {
		return errs.IOf("%v", serr)
	}
	return nil
}

// moveInto renames src to dst, or, when both are folders, merges src into dst
// without overwriting anything already there.
func moveInto(src, dst string) error {
	st, err := os.Lstat(dst)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.Rename(src, dst); err == nil {
			return nil
		}
		// A concurrent extraction may have put dst in place meanwhile; merge
		// into it rather than fail.
		if st, _ = os.Lstat(dst); st == nil {
			return err
		}
	} else if err != nil {
		return err
	}
	sst, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if !st.IsDir() || !sst.IsDir() {
		return nil
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := moveInto(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func tarTypeName(t byte) string {
	switch t {
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeChar, tar.TypeBlock:
		return "device"
	case tar.TypeFifo:
		return "fifo"
	}
	return fmt.Sprintf("entry of type %q", t)
}
