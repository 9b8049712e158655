// Package logging owns the core's structured logger (zerolog). By default it
// writes JSON lines to stderr at warn level; a host (the C API, and through it
// Python's logging module) can install a sink that receives every record.
package logging

import (
	"os"
	"sync/atomic"

	"github.com/rs/zerolog"
)

// Sink receives one encoded JSON record (without the trailing newline).
type Sink func(level zerolog.Level, record []byte)

var current atomic.Pointer[zerolog.Logger]

func init() {
	l := zerolog.New(os.Stderr).Level(zerolog.WarnLevel).With().Timestamp().Str("lib", "structure_net_data").Logger()
	current.Store(&l)
}

// L returns the current logger; cheap enough to call on every log line.
func L() *zerolog.Logger { return current.Load() }

type sinkWriter struct{ sink Sink }

func (w sinkWriter) Write(p []byte) (int, error) { return w.WriteLevel(zerolog.NoLevel, p) }

func (w sinkWriter) WriteLevel(level zerolog.Level, p []byte) (int, error) {
	n := len(p)
	for n > 0 && p[n-1] == '\n' {
		n--
	}
	w.sink(level, p[:n])
	return len(p), nil
}

// SetSink routes records at or above min to sink; a nil sink restores stderr.
func SetSink(sink Sink, min zerolog.Level) {
	var l zerolog.Logger
	if sink == nil {
		l = zerolog.New(os.Stderr)
	} else {
		l = zerolog.New(sinkWriter{sink})
	}
	l = l.Level(min).With().Timestamp().Str("lib", "structure_net_data").Logger()
	current.Store(&l)
}
