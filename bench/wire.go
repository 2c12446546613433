package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"
)

// wireConn sends the measured requests of one worker over its own
// keep-alive HTTP/1.1 connection, written and read in the worker's
// goroutine. net/http's client hands each request to two goroutines of the
// transport (a writer and a reader) and parses every header into a map: on
// the 2 cores the server shares with the load generator, that cost
// (about as much CPU per request as a health check takes in the server) is
// taken from the server being measured. The requests are the scenarios'
// simple ones (a path, a JSON body, a bearer credential), and the answers
// are only counted and drained, so a small client does.
type wireConn struct {
	c       *client
	addr    string // host:port to dial
	host    string // the Host header
	conn    net.Conn
	br      *bufio.Reader
	buf     []byte // the request being written
	stop    func() bool
	dialer  net.Dialer
	lineBuf []byte
	body    []byte // the answer being read
}

// maxCheckedBody is the largest answer whose body is kept and checked;
// a larger one is only drained.
const maxCheckedBody = 1 << 20

// badBodyError is a 2xx answer whose JSON body is not whole: empty, or not
// an object or array from its first byte to its last.
type badBodyError struct {
	status int
	length int
}

func (e *badBodyError) Error() string {
	return fmt.Sprintf("HTTP %d with a malformed JSON body (%d bytes)", e.status, e.length)
}

// jsonFramed reports whether b (a JSON answer) is one object or array as
// far as its ends tell: '{' or '[' first and the matching '}' or ']' last,
// ignoring white space. It does not parse what is between: the load
// generator checks that each answer came whole, at a cost far below the
// server's, and leaves the answers' content to the tests.
func jsonFramed(b []byte) bool {
	b = bytes.TrimSpace(b)
	if len(b) < 2 {
		return false
	}
	first, last := b[0], b[len(b)-1]
	return (first == '{' && last == '}') || (first == '[' && last == ']')
}

// wire returns a wireConn for c's server, or nil when its URL is not plain
// http (https goes through net/http).
func (c *client) wire() *wireConn {
	u, err := url.Parse(c.base)
	if err != nil || u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	return &wireConn{c: c, addr: addr, host: u.Host, dialer: net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}}
}

// close closes the connection.
func (w *wireConn) close() {
	if w.stop != nil {
		w.stop()
		w.stop = nil
	}
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}

// do is client.do without a decoded answer: it sends one request and reads
// the whole answer, returning its status and an error for a non-2xx status
// or a transport failure.
func (w *wireConn) do(ctx context.Context, method, path string, body []byte) (int, error) {
	status, err, retry := w.try(ctx, method, path, body)
	if retry {
		// The server closed a kept-alive connection before answering
		// (an idle timeout): a read is safe to send again, once.
		status, err, _ = w.try(ctx, method, path, body)
	}
	return status, err
}

func (w *wireConn) try(ctx context.Context, method, path string, body []byte) (status int, err error, retry bool) {
	if err := ctx.Err(); err != nil {
		return 0, err, false
	}
	reused := w.conn != nil
	if !reused {
		if err := w.dial(ctx); err != nil {
			return 0, err, false
		}
	}
	defer func() {
		if err != nil && status == 0 {
			w.close()
			if ce := ctx.Err(); ce != nil {
				err = ce
			}
		}
	}()
	if err := w.conn.SetDeadline(time.Now().Add(w.c.timeout)); err != nil {
		return 0, err, false
	}
	b := w.buf[:0]
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, w.host...)
	b = append(b, "\r\nUser-Agent: contextd-bench\r\n"...)
	if cred := w.c.credential(ctx); cred != "" {
		b = append(b, "Authorization: Bearer "...)
		b = append(b, cred...)
		b = append(b, "\r\n"...)
	}
	if body != nil {
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, body...)
	w.buf = b
	if _, err := w.conn.Write(b); err != nil {
		return 0, err, reused && idempotent(method)
	}
	status, length, chunked, closeAfter, isJSON, err := w.readHead()
	if err != nil {
		return 0, err, reused && idempotent(method) && errors.Is(err, io.EOF)
	}
	var rd io.Reader
	switch {
	case chunked:
		rd = httputil.NewChunkedReader(w.br)
	case length >= 0:
		rd = io.LimitReader(w.br, length)
	default: // no length: the body ends with the connection
		rd, closeAfter = w.br, true
	}
	var detail []byte
	check := false // a 2xx JSON answer: its body is read and checked
	switch {
	case status/100 != 2:
		detail, _ = io.ReadAll(io.LimitReader(rd, 4<<10))
	case isJSON && length <= maxCheckedBody && status != http.StatusNoContent:
		check = true
		if length >= 0 { // the usual answer: read it into the kept buffer
			if cap(w.body) < int(length) {
				w.body = make([]byte, length)
			}
			w.body = w.body[:length]
			if _, err := io.ReadFull(rd, w.body); err != nil {
				w.close()
				return status, err, false
			}
		} else {
			b := bytes.NewBuffer(w.body[:0])
			if _, err := b.ReadFrom(io.LimitReader(rd, maxCheckedBody+1)); err != nil {
				w.close()
				return status, err, false
			}
			w.body = b.Bytes()
			check = len(w.body) <= maxCheckedBody
		}
	}
	if _, err := io.Copy(io.Discard, rd); err != nil {
		w.close()
		return status, err, false
	}
	if chunked { // the trailer section, empty from our server
		for {
			line, err := w.readLine()
			if err != nil {
				w.close()
				return status, err, false
			}
			if len(line) == 0 {
				break
			}
		}
	}
	if closeAfter {
		w.close()
	}
	if status/100 != 2 {
		return status, &statusError{status: status, detail: problemDetail(detail)}, false
	}
	if check && !jsonFramed(w.body) {
		return status, &badBodyError{status: status, length: len(w.body)}, false
	}
	return status, nil, false
}

func idempotent(method string) bool { return method == http.MethodGet || method == http.MethodHead }

func (w *wireConn) dial(ctx context.Context) error {
	conn, err := w.dialer.DialContext(ctx, "tcp", w.addr)
	if err != nil {
		return err
	}
	w.conn = conn
	if w.br == nil {
		w.br = bufio.NewReaderSize(conn, 64<<10)
	} else {
		w.br.Reset(conn)
	}
	// An interrupted run (Ctrl-C) ends the request in flight at once.
	w.stop = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	return nil
}

// readLine reads one CRLF-terminated line without its end.
func (w *wireConn) readLine() ([]byte, error) {
	line, err := w.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		// A line longer than the buffer: keep it whole (headers are short).
		w.lineBuf = append(w.lineBuf[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = w.br.ReadSlice('\n')
			w.lineBuf = append(w.lineBuf, line...)
		}
		line = w.lineBuf
	}
	if err != nil {
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), nil
}

// readHead reads the status line and the headers of an answer. length is
// -1 when the answer gives none; isJSON says its Content-Type is JSON
// (application/json, application/problem+json).
func (w *wireConn) readHead() (status int, length int64, chunked, closeAfter, isJSON bool, err error) {
	for {
		line, err := w.readLine()
		if err != nil {
			return 0, 0, false, false, false, err
		}
		// "HTTP/1.1 200 OK"
		proto, rest, ok := bytes.Cut(line, []byte(" "))
		code, _, _ := bytes.Cut(rest, []byte(" "))
		if !ok || !bytes.HasPrefix(proto, []byte("HTTP/1.")) || len(code) != 3 {
			return 0, 0, false, false, false, fmt.Errorf("malformed HTTP status line %q", line)
		}
		status, err = strconv.Atoi(string(code))
		if err != nil {
			return 0, 0, false, false, false, fmt.Errorf("malformed HTTP status line %q", line)
		}
		length = -1
		closeAfter = bytes.Equal(proto, []byte("HTTP/1.0"))
		for {
			h, err := w.readLine()
			if err != nil {
				return 0, 0, false, false, false, err
			}
			if len(h) == 0 {
				break
			}
			name, value, ok := bytes.Cut(h, []byte(":"))
			if !ok {
				return 0, 0, false, false, false, fmt.Errorf("malformed HTTP header %q", h)
			}
			value = bytes.TrimSpace(value)
			switch {
			case bytes.EqualFold(name, []byte("Content-Length")):
				n, err := strconv.ParseInt(string(value), 10, 64)
				if err != nil || n < 0 {
					return 0, 0, false, false, false, fmt.Errorf("malformed Content-Length %q", value)
				}
				length = n
			case bytes.EqualFold(name, []byte("Transfer-Encoding")):
				chunked = bytes.EqualFold(value, []byte("chunked"))
			case bytes.EqualFold(name, []byte("Content-Type")):
				mt, _, _ := bytes.Cut(value, []byte(";"))
				mt = bytes.TrimSpace(mt)
				isJSON = bytes.EqualFold(mt, []byte("application/json")) || bytes.EqualFold(mt, []byte("application/problem+json"))
			case bytes.EqualFold(name, []byte("Connection")):
				if bytes.EqualFold(value, []byte("close")) {
					closeAfter = true
				}
			}
		}
		if status >= 200 || status == http.StatusSwitchingProtocols {
			break
		}
		// 1xx interim answers (100 Continue) come before the real one.
	}
	if status == http.StatusNoContent || status == http.StatusNotModified {
		length, chunked = 0, false
	}
	return status, length, chunked, closeAfter, isJSON, nil
}
