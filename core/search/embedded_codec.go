package search

import (
	"encoding/binary"
	"math"

	"github.com/structure-net/structure-net-data/core/errs"
)

// Metadata encoding in the embedded store's meta column:
//
//	uvarint count, then per entry (in no particular order):
//	uvarint len(key), key, kind byte, payload
//	kind 1 string: uvarint len, bytes; 2 int: varint; 3 float: 8 bytes LE; 4 bool: 1 byte
const (
	codecString byte = 1
	codecInt    byte = 2
	codecFloat  byte = 3
	codecBool   byte = 4
)

func encodeMetadata(m Metadata) []byte {
	if len(m) == 0 {
		return nil
	}
	size := 1
	for k, v := range m {
		size += len(k) + 12
		if s, ok := v.(string); ok {
			size += len(s)
		}
	}
	buf := make([]byte, 0, size)
	buf = binary.AppendUvarint(buf, uint64(len(m)))
	for k, v := range m {
		buf = binary.AppendUvarint(buf, uint64(len(k)))
		buf = append(buf, k...)
		switch t := v.(type) {
		case string:
			buf = append(buf, codecString)
			buf = binary.AppendUvarint(buf, uint64(len(t)))
			buf = append(buf, t...)
		case int64:
			buf = append(buf, codecInt)
			buf = binary.AppendVarint(buf, t)
		case float64:
			buf = append(buf, codecFloat)
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(t))
		case bool:
			buf = append(buf, codecBool)
			if t {
				buf = append(buf, 1)
			} else {
				buf = append(buf, 0)
			}
		}
	}
	return buf
}

// decodeMetadata calls fn for each entry of an encoded metadata blob.
func decodeMetadata(b []byte, fn func(key string, v any)) error {
	if len(b) == 0 {
		return nil
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return errs.Corruptf("search: metadata blob has a bad entry count")
	}
	b = b[k:]
	for i := uint64(0); i < n; i++ {
		kl, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < kl+1 {
			return errs.Corruptf("search: metadata blob truncated in key %d", i)
		}
		key := string(b[k : k+int(kl)])
		b = b[k+int(kl):]
		kind := b[0]
		b = b[1:]
		switch kind {
		case codecString:
			sl, k := binary.Uvarint(b)
			if k <= 0 || uint64(len(b)-k) < sl {
				return errs.Corruptf("search: metadata blob truncated in %q", key)
			}
			fn(key, string(b[k:k+int(sl)]))
			b = b[k+int(sl):]
		case codecInt:
			v, k := binary.Varint(b)
			if k <= 0 {
				return errs.Corruptf("search: metadata blob truncated in %q", key)
			}
			fn(key, v)
			b = b[k:]
		case codecFloat:
			if len(b) < 8 {
				return errs.Corruptf("search: metadata blob truncated in %q", key)
			}
			fn(key, math.Float64frombits(binary.LittleEndian.Uint64(b)))
			b = b[8:]
		case codecBool:
			if len(b) < 1 {
				return errs.Corruptf("search: metadata blob truncated in %q", key)
			}
			fn(key, b[0] != 0)
			b = b[1:]
		default:
			return errs.Corruptf("search: metadata blob has unknown kind %d in %q", kind, key)
		}
	}
	return nil
}

// trimmedLen is the length of v without its trailing zeros. Stores keep
// vectors trimmed: the experiment embedding uses 21 of its 384 dimensions, and
// dropping the zero tail changes no distance.
func trimmedLen(v []float32) int {
	n := len(v)
	for n > 0 && v[n-1] == 0 {
		n--
	}
	return n
}

func encodeVector(v []float32) []byte {
	n := trimmedLen(v)
	buf := make([]byte, 4*n)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v[i]))
	}
	return buf
}

// decodeVector decodes a trimmed vector into dst (which it may reuse).
func decodeVector(b []byte, dim int, dst []float32) ([]float32, error) {
	if len(b)%4 != 0 || len(b)/4 > dim {
		return nil, errs.Corruptf("search: vector blob of %d bytes does not fit dimension %d", len(b), dim)
	}
	n := len(b) / 4
	dst = dst[:0]
	for i := 0; i < n; i++ {
		dst = append(dst, math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
	}
	return dst, nil
}
