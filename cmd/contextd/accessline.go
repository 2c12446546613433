package main

import (
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"
)

// The access line is the one record written for every request, and
// slog's handlers spend several microseconds on it: the generic walk over
// the record, a state per call, a json.Marshal per float in JSON. The
// access formatter writes that line itself, byte for byte as the server's
// handler (slog.NewTextHandler or slog.NewJSONHandler without options but
// the level) would, for the values an access line holds: strings of
// printable ASCII without quotes, backslashes or '=' (written as they are
// by both handlers; "" is quoted by both), integers, and floats that JSON
// writes without an exponent. A record with anything else goes to the
// handler. accessline_test.go compares both over many records.

// accessFormat writes access lines as the server's handler would, after
// the attributes the handler was given (WithAttrs, no groups).
type accessFormat struct {
	json bool
	pre  []slog.Attr // the handler's own attributes, written after the message
}

// with returns the formatter of the handler with attrs added, or nil when
// one of them does not fit.
func (f *accessFormat) with(attrs []slog.Attr) *accessFormat {
	for _, a := range attrs {
		if !fitsAttr(a) {
			return nil
		}
	}
	return &accessFormat{json: f.json, pre: append(f.pre[:len(f.pre):len(f.pre)], attrs...)}
}

// fitsAttr reports whether both handlers write a as the formatter does.
func fitsAttr(a slog.Attr) bool {
	if a.Equal(slog.Attr{}) { // elided by both handlers
		return true
	}
	if !plainKey(a.Key) {
		return false
	}
	switch v := a.Value; v.Kind() {
	case slog.KindString:
		return plainASCII(v.String())
	case slog.KindInt64:
		return true
	case slog.KindFloat64:
		x := math.Abs(v.Float64())
		// encoding/json's float format is strconv's 'f' in this range.
		return x == 0 || (x >= 1e-6 && x < 1e21)
	}
	return false
}

var accessBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// plainASCII reports whether s is written as it is by both handlers:
// printable ASCII but space, '"', '\\' and '='.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' || c == '=' {
			return false
		}
	}
	return true
}

// plainKey: a key both handlers write as it is (never "", unlike a value).
func plainKey(s string) bool { return s != "" && plainASCII(s) }

// fits reports whether the formatter writes r exactly as the handler.
func (f *accessFormat) fits(r slog.Record) bool {
	if !plainKey(r.Message) || r.Level.String() != "INFO" {
		return false
	}
	if y := r.Time.Year(); !r.Time.IsZero() && (y < 0 || y >= 10000) {
		return false
	}
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		ok = fitsAttr(a)
		return ok
	})
	return ok
}

// appendString writes a value or key that plainASCII accepts, or "".
func (f *accessFormat) appendString(b []byte, s string) []byte {
	if f.json || s == "" {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	return append(b, s...)
}

func (f *accessFormat) appendKey(b []byte, first bool, key string) []byte {
	if !first {
		if f.json {
			b = append(b, ',')
		} else {
			b = append(b, ' ')
		}
	}
	b = f.appendString(b, key)
	if f.json {
		return append(b, ':')
	}
	return append(b, '=')
}

// format appends the line of r, which fits.
func (f *accessFormat) format(b []byte, r slog.Record) []byte {
	if f.json {
		b = append(b, '{')
	}
	first := true
	if !r.Time.IsZero() {
		t := r.Time.Round(0)
		b = f.appendKey(b, first, slog.TimeKey)
		first = false
		if f.json {
			b = append(b, '"')
			b = t.AppendFormat(b, time.RFC3339Nano)
			b = append(b, '"')
		} else {
			b = appendRFC3339Millis(b, t)
		}
	}
	b = f.appendKey(b, first, slog.LevelKey)
	b = f.appendString(b, r.Level.String())
	b = f.appendKey(b, false, slog.MessageKey)
	b = f.appendString(b, r.Message)
	for _, a := range f.pre {
		b = f.appendAttr(b, a)
	}
	r.Attrs(func(a slog.Attr) bool {
		b = f.appendAttr(b, a)
		return true
	})
	if f.json {
		b = append(b, '}')
	}
	return append(b, '\n')
}

// appendAttr appends a, which fits, after the attributes before it.
func (f *accessFormat) appendAttr(b []byte, a slog.Attr) []byte {
	if a.Equal(slog.Attr{}) {
		return b
	}
	b = f.appendKey(b, false, a.Key)
	switch v := a.Value; v.Kind() {
	case slog.KindString:
		b = f.appendString(b, v.String())
	case slog.KindInt64:
		b = strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindFloat64:
		if f.json {
			b = strconv.AppendFloat(b, v.Float64(), 'f', -1, 64)
		} else {
			b = strconv.AppendFloat(b, v.Float64(), 'g', -1, 64)
		}
	}
	return b
}

// appendRFC3339Millis is slog's text time: RFC 3339 with milliseconds.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...) // drop the 4th digit
}

// write writes r to buf when it fits, and reports whether it did.
func (f *accessFormat) write(buf *logBuffer, r slog.Record) (bool, error) {
	if !f.fits(r) {
		return false, nil
	}
	bp := accessBufs.Get().(*[]byte)
	b := f.format((*bp)[:0], r)
	_, err := buf.Write(b)
	if cap(b) <= 4<<10 {
		*bp = b
		accessBufs.Put(bp)
	}
	return true, err
}
