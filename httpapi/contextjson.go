package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/contextd/contextd"
	"github.com/danielgtaylor/huma/v2"
)

// A context is the body of the most frequent answers (a get, a create, an
// update). encoding/json spends most of its time on one by reflection: the
// struct's fields, each string, and time.Time's MarshalJSON, which makes a
// new slice per timestamp. marshalJSON writes a *contextd.Context with an
// encoder of its own that gives the very same bytes as huma's
// (encoding/json without HTML escaping, then a newline), in one Write as
// before; metadata and properties, free-form JSON objects, still go through
// encoding/json. Any value it is not sure to write the same way (a time
// outside RFC 3339, a metadata value encoding/json refuses) is left to
// huma's encoder whole, so errors are unchanged too.
func marshalJSON(w io.Writer, v any) error {
	if c, ok := v.(*contextd.Context); ok && c != nil {
		e := contextEncoders.Get().(*contextEncoder)
		defer e.release()
		if b, ok := e.appendContext(e.buf[:0], c); ok {
			e.buf = append(b, '\n')
			_, err := w.Write(e.buf)
			return err
		}
	}
	return huma.DefaultJSONFormat.Marshal(w, v)
}

// contextEncoder holds the buffers of one encoding, reused through a pool.
type contextEncoder struct {
	buf  []byte
	obj  bytes.Buffer  // an object encoded by enc
	enc  *json.Encoder // into obj, without HTML escaping, like huma's
	keys []string      // an object's keys, sorted (appendFlatObject)
}

// maxPooledEncoderBytes bounds the buffers a pooled encoder keeps (a context
// holds up to 1 MiB of content; such a rare buffer is left to the GC).
const maxPooledEncoderBytes = 64 << 10

var contextEncoders = sync.Pool{New: func() any {
	e := &contextEncoder{}
	e.enc = json.NewEncoder(&e.obj)
	e.enc.SetEscapeHTML(false)
	return e
}}

func (e *contextEncoder) release() {
	if cap(e.buf) > maxPooledEncoderBytes || e.obj.Cap() > maxPooledEncoderBytes {
		return
	}
	e.buf = e.buf[:0]
	e.obj.Reset()
	contextEncoders.Put(e)
}

// appendContext appends c as encoding/json writes a contextd.Context, and
// false when it cannot be sure to.
func (e *contextEncoder) appendContext(b []byte, c *contextd.Context) ([]byte, bool) {
	var ok bool
	b = append(b, `{"id":`...)
	b = appendJSONString(b, c.ID)
	b = append(b, `,"title":`...)
	b = appendJSONString(b, c.Title)
	b = append(b, `,"content":`...)
	b = appendJSONString(b, c.Content)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, c.Type)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, c.Status)
	b = append(b, `,"createdAt":`...)
	if b, ok = appendJSONTime(b, c.CreatedAt); !ok {
		return b, false
	}
	b = append(b, `,"updatedAt":`...)
	if b, ok = appendJSONTime(b, c.UpdatedAt); !ok {
		return b, false
	}
	b = append(b, `,"userId":`...)
	b = appendJSONString(b, c.UserID)
	if c.SessionID != "" { // omitempty
		b = append(b, `,"sessionId":`...)
		b = appendJSONString(b, c.SessionID)
	}
	b = append(b, `,"tags":`...)
	if c.Tags == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, t := range c.Tags {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, t)
		}
		b = append(b, ']')
	}
	b = append(b, `,"metadata":`...)
	if b, ok = e.appendObject(b, c.Metadata); !ok {
		return b, false
	}
	b = append(b, `,"relationships":`...)
	if c.Relationships == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, r := range c.Relationships {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = e.appendRelationship(b, r); !ok {
				return b, false
			}
		}
		b = append(b, ']')
	}
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, c.Version, 10)
	return append(b, '}'), true
}

// appendRelationship appends r as encoding/json writes a
// *contextd.Relationship.
func (e *contextEncoder) appendRelationship(b []byte, r *contextd.Relationship) ([]byte, bool) {
	if r == nil {
		return append(b, "null"...), true
	}
	var ok bool
	b = append(b, `{"id":`...)
	b = appendJSONString(b, r.ID)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, r.Type)
	b = append(b, `,"sourceId":`...)
	b = appendJSONString(b, r.SourceID)
	b = append(b, `,"targetId":`...)
	b = appendJSONString(b, r.TargetID)
	b = append(b, `,"properties":`...)
	if b, ok = e.appendObject(b, r.Properties); !ok {
		return b, false
	}
	b = append(b, `,"createdAt":`...)
	if b, ok = appendJSONTime(b, r.CreatedAt); !ok {
		return b, false
	}
	return append(b, '}'), true
}

// appendObject appends a free-form object through encoding/json (sorted
// keys, its number formats), without its newline.
func (e *contextEncoder) appendObject(b []byte, m map[string]any) ([]byte, bool) {
	switch {
	case m == nil:
		return append(b, "null"...), true
	case len(m) == 0:
		return append(b, "{}"...), true
	}
	if out, ok := e.appendFlatObject(b, m); ok { // contextjson_object.go
		return out, true
	}
	e.obj.Reset()
	if err := e.enc.Encode(m); err != nil {
		return b, false
	}
	out := e.obj.Bytes()
	return append(b, out[:len(out)-1]...), true // Encode ends with '\n'
}

// appendJSONTime appends t as time.Time's MarshalJSON does, for the times
// it writes without an error: a UTC offset of zero (the stores' times) and
// a year of four digits. Anything else is false.
func appendJSONTime(b []byte, t time.Time) ([]byte, bool) {
	if _, off := t.Zone(); off != 0 {
		return b, false
	}
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as encoding/json does without HTML
// escaping: \" \\ \b \f \n \r \t, other control bytes as \u00XX, invalid
// UTF-8 as \ufffd, U+2028 and U+2029 escaped, everything else as is.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
