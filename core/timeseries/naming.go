package timeseries

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"

	"github.com/structure-net/structure-net-data/core/errs"
)

// MaxIDBytes bounds an experiment id; ids never reach the file system raw.
const MaxIDBytes = 4096

const prefixBytes = 40

// ValidateID rejects ids that cannot be stored: empty, too long, not UTF-8,
// or containing NUL. Everything else, "../../etc/x" included, is fine because
// ids are hashed into file names.
func ValidateID(id string) error {
	switch {
	case id == "":
		return errs.Invalidf("timeseries: experiment id is empty")
	case len(id) > MaxIDBytes:
		return errs.Invalidf("timeseries: experiment id of %d bytes is longer than %d", len(id), MaxIDBytes)
	case !utf8.ValidString(id):
		return errs.Invalidf("timeseries: experiment id is not valid UTF-8")
	case strings.IndexByte(id, 0) >= 0:
		return errs.Invalidf("timeseries: experiment id contains a NUL byte")
	}
	return nil
}

// fileStem is the base of an experiment's file names: a readable prefix of
// the id (ASCII letters, digits, '_' and '-' only, at most 40 bytes) and 128
// bits of its SHA-256, so distinct ids never share files and no id can name
// a path outside the storage folder.
func fileStem(id string) string {
	var b strings.Builder
	for _, r := range id {
		if b.Len() >= prefixBytes {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		case r == '-' && b.Len() > 0:
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	sum := sha256.Sum256([]byte(id))
	prefix := b.String()
	if prefix == "" {
		prefix = "h"
	}
	return prefix + "-" + hex.EncodeToString(sum[:16])
}

// Internal names in an HDF5 file. Column datasets never take these.
const (
	maskGroup      = "_snd_masks"
	internalPrefix = "_snd_"
)

// datasetName maps a column name to an HDF5 link name: '%' and '/' are
// percent-encoded (a '/' would create groups), and names HDF5 or this
// package reserve get their first byte encoded. The mapping is injective,
// and the file's "columns" attribute records it.
func datasetName(col string) string {
	s := strings.NewReplacer("%", "%25", "/", "%2F").Replace(col)
	if s == "." || strings.HasPrefix(s, internalPrefix) {
		s = "%" + strings.ToUpper(hex.EncodeToString([]byte(s[:1]))) + s[1:]
	}
	return s
}
