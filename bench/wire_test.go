package bench_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/contextd/contextd/bench"
)

// TestWireConn: the load generator's own HTTP/1.1 client sends the path,
// the credential and the body, reads answers with a length, chunked ones
// and problem documents, keeps its connection, and dials again when the
// server closes it.
func TestWireConn(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer k1" {
			http.Error(w, "bad credential "+got, http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/small":
			_, _ = io.WriteString(w, `{"ok":true}`)
		case "/chunked":
			for range 100 {
				_, _ = io.WriteString(w, strings.Repeat("x", 1000))
				w.(http.Flusher).Flush()
			}
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			if r.Method != http.MethodPost || string(b) != `{"a":1}` || r.Header.Get("Content-Type") != "application/json" {
				http.Error(w, "bad echo", http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusCreated)
		case "/close":
			w.Header().Set("Connection", "close")
			_, _ = io.WriteString(w, "bye")
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/json":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":"a","tags":[]}`+"\n")
		case "/jsonchunked":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = io.WriteString(w, `[{"id":"a"},`)
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, `{"id":"b"}]`)
		case "/badjson":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":"a","content":"cut short`)
		case "/emptyjson":
			w.Header().Set("Content-Type", "application/json")
		default:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"title":"Not Found","status":404,"detail":"no route for `+r.URL.Path+`"}`)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	get := func(p string) bench.WireCall { return bench.WireCall{Method: http.MethodGet, Path: p} }
	res := bench.WireDo(context.Background(), srv.URL, "k1", []bench.WireCall{
		get("/small"), get("/chunked"), get("/nowhere"), get("/empty"),
		{Method: http.MethodPost, Path: "/echo", Body: []byte(`{"a":1}`)},
		get("/small"), get("/json"), get("/jsonchunked"), get("/badjson"), get("/emptyjson"), get("/json"),
		get("/close"), get("/small"),
	})
	want := []int{200, 200, 404, 204, 201, 200, 200, 200, 200, 200, 200, 200, 200}
	badBody := map[int]bool{8: true, 9: true} // a JSON answer cut short, an empty one
	for i, r := range res {
		if r.Status != want[i] {
			t.Errorf("call %d: status %d (%v), want %d", i, r.Status, r.Err, want[i])
		}
		if (r.Err != nil) != (want[i] >= 400 || badBody[i]) {
			t.Errorf("call %d: error %v", i, r.Err)
		}
		if badBody[i] && (r.Err == nil || !strings.Contains(r.Err.Error(), "malformed JSON body")) {
			t.Errorf("call %d: a malformed JSON answer passed: %v", i, r.Err)
		}
	}
	if err := res[2].Err; err == nil || !strings.Contains(err.Error(), "no route for /nowhere") {
		t.Errorf("the 404's error does not carry the problem's detail: %v", err)
	}
	// One connection until the server closed it, then a second one.
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}

	bad := bench.WireDo(context.Background(), srv.URL, "wrong", []bench.WireCall{get("/small")})
	if bad[0].Status != http.StatusUnauthorized || bad[0].Err == nil {
		t.Errorf("wrong credential: %d %v", bad[0].Status, bad[0].Err)
	}
}

// TestWireConnRedials: a kept-alive connection that the server closed while
// idle is dialled again and the read is sent again.
func TestWireConnRedials(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.IdleTimeout = 20 * time.Millisecond
	srv.Start()
	defer srv.Close()
	calls := []bench.WireCall{{Method: http.MethodGet, Path: "/a"}, {Method: http.MethodGet, Path: "/pause"}, {Method: http.MethodGet, Path: "/b"}}
	res := bench.WireDoPaused(context.Background(), srv.URL, "k", calls, "/pause", 200*time.Millisecond)
	for i, r := range res {
		if r.Err != nil || r.Status != http.StatusOK {
			t.Errorf("call %d: %d %v", i, r.Status, r.Err)
		}
	}
}
