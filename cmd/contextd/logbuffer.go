package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// The access log writes a line per request: one write(2) each made it about
// 3% of the server's CPU under a load of small reads. logBuffer collects
// the access lines and writes them together, at most logFlushDelay after
// the first of them, or as soon as logBufferMax bytes wait; every other
// record (startup, warnings, errors, shutdown) is written at once, with
// whatever access lines wait before it, so the log keeps its order. Close
// writes what waits: a clean shutdown loses nothing; a crash loses at most
// the access lines of the last logFlushDelay.

const (
	logFlushDelay = 100 * time.Millisecond
	logBufferMax  = 64 << 10
)

// logBuffer is an io.Writer that holds what it is given until Flush, the
// timer, or a full buffer.
type logBuffer struct {
	mu      sync.Mutex
	w       io.Writer
	buf     []byte
	timer   *time.Timer
	pending bool // the timer is set
	closed  bool // write through
}

func newLogBuffer(w io.Writer) *logBuffer {
	b := &logBuffer{w: w}
	b.timer = time.AfterFunc(time.Hour, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.pending = false
		_ = b.flushLocked()
	})
	b.timer.Stop()
	return b
}

// Write keeps p until the next flush.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.w.Write(p)
	}
	if len(b.buf)+len(p) > logBufferMax {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > logBufferMax {
			return b.w.Write(p)
		}
	}
	b.buf = append(b.buf, p...)
	if !b.pending {
		b.pending = true
		b.timer.Reset(logFlushDelay)
	}
	return len(p), nil
}

// Flush writes what waits.
func (b *logBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *logBuffer) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	if cap(b.buf) > 4*logBufferMax {
		b.buf = nil
	}
	return err
}

// Close writes what waits; later writes go straight through.
func (b *logBuffer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.timer.Stop()
	b.pending = false
	return b.flushLocked()
}

// bufferedHandler writes the access lines of a handler over a logBuffer
// through the buffer, and flushes it after every other record. With fast
// set (the server's own handler and those of its WithAttrs, not of
// WithGroup), it writes the access lines that fit the access formatter
// (accessline.go) itself, as the handler would.
type bufferedHandler struct {
	slog.Handler
	buf  *logBuffer
	fast *accessFormat
}

// isAccessLine: the line httpapi writes for every request.
func isAccessLine(r slog.Record) bool {
	return r.Level == slog.LevelInfo && r.Message == "request"
}

// Handle implements slog.Handler.
func (h bufferedHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.fast != nil && isAccessLine(r) {
		if done, err := h.fast.write(h.buf, r); done {
			return err
		}
	}
	err := h.Handler.Handle(ctx, r)
	if !isAccessLine(r) {
		if ferr := h.buf.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

// WithAttrs implements slog.Handler.
func (h bufferedHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	nh := bufferedHandler{Handler: h.Handler.WithAttrs(attrs), buf: h.buf}
	if h.fast != nil {
		nh.fast = h.fast.with(attrs) // nil: an attribute the formatter does not write
	}
	return nh
}

// WithGroup implements slog.Handler.
func (h bufferedHandler) WithGroup(name string) slog.Handler {
	return bufferedHandler{Handler: h.Handler.WithGroup(name), buf: h.buf}
}
