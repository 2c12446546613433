package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the timer's goroutine.
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLogBufferBatchesAccessLines: access lines wait (and are written
// together, within the flush delay); any other record is written at once,
// after the access lines before it; Close writes what waits; nothing is
// lost or reordered, also from many goroutines.
func TestLogBufferBatchesAccessLines(t *testing.T) {
	out := &lockedBuffer{}
	buf := newLogBuffer(out)
	log := slog.New(bufferedHandler{Handler: slog.NewTextHandler(buf, nil), buf: buf}).With("component", "http")
	for i := range 3 {
		log.Info("request", "n", i)
	}
	if out.String() != "" {
		t.Fatalf("access lines written at once: %q", out.String())
	}
	log.Warn("something", "n", 3)
	if got := strings.Count(out.String(), "\n"); got != 4 || !strings.Contains(out.String(), "msg=something") {
		t.Fatalf("a warning did not flush the waiting lines: %q", out.String())
	}
	log.Info("request", "n", 4)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "n=4") {
		if time.Now().After(deadline) {
			t.Fatal("an access line was never flushed by the timer")
		}
		time.Sleep(10 * time.Millisecond)
	}
	log.Info("contextd listening") // an info line that is not an access line: at once
	if !strings.Contains(out.String(), "contextd listening") {
		t.Fatal("a non-access info line waited")
	}

	// Many goroutines, then Close: every line, each whole, in per-goroutine order.
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				log.Info("request", "g", g, "i", i, "pad", strings.Repeat("x", i%200))
			}
		}()
	}
	wg.Wait()
	writesBefore := out.writes
	if err := buf.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	next := map[string]int{}
	n := 0
	for _, l := range lines {
		var g, i int
		idx := strings.Index(l, " g=")
		if idx < 0 {
			continue
		}
		if _, err := fmt.Sscanf(l[idx:], " g=%d i=%d", &g, &i); err != nil {
			t.Fatalf("a broken line %q: %v", l, err)
		}
		key := fmt.Sprint(g)
		if i != next[key] {
			t.Fatalf("goroutine %d: line %d after %d", g, i, next[key]-1)
		}
		next[key]++
		n++
	}
	if n != 8*2000 {
		t.Fatalf("%d access lines, want %d", n, 8*2000)
	}
	if writesBefore >= 8*2000/4 {
		t.Fatalf("%d writes for %d lines: not batched", writesBefore, n)
	}
	log.Info("request", "after", "close")
	if !strings.Contains(out.String(), "after=close") {
		t.Fatal("a line after Close waited")
	}
}

// TestLogBufferLargeRecord: a record larger than the buffer is written
// whole, after what waited.
func TestLogBufferLargeRecord(t *testing.T) {
	out := &lockedBuffer{}
	buf := newLogBuffer(out)
	defer buf.Close()
	_, _ = buf.Write([]byte("first\n"))
	big := strings.Repeat("y", logBufferMax+10) + "\n"
	_, _ = buf.Write([]byte(big))
	if out.String() != "first\n"+big {
		t.Fatalf("got %d bytes, want the first line then the big one", len(out.String()))
	}
}
