package main_test

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCrashSafety SIGKILLs the server in the middle of a concurrent write
// load, restarts it, and checks that every acknowledged write is present and
// complete, that nothing unacknowledged is half there, and that the full-text
// index agrees with the rows. CRASH_ROUNDS=N (default 2) runs more rounds;
// CRASH_LOAD=duration (default 700ms) sets how long each load runs.
func TestCrashSafety(t *testing.T) { eachStore(t, crashSafety) }

func crashSafety(t *testing.T, env []string) {
	rounds := 2
	if v, err := strconv.Atoi(os.Getenv("CRASH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	load := 700 * time.Millisecond
	if v, err := time.ParseDuration(os.Getenv("CRASH_LOAD")); err == nil && v > 0 {
		load = v
	}
	dir := t.TempDir()
	var key string
	acked := map[string]string{} // id -> marker word, every 201 ever received
	for round := 0; round < rounds; round++ {
		s := start(t, dir, env...)
		if round == 0 {
			key = s.key
		}
		verify(t, s, key, acked)

		// The load: writers creating contexts (single and batched) and memories.
		var (
			mu   sync.Mutex
			stop = make(chan struct{})
			wg   sync.WaitGroup
		)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				client := &http.Client{Timeout: 5 * time.Second}
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					marker := fmt.Sprintf("mk%dr%dw%di%d", round, round, w, i)
					body := fmt.Sprintf(`{"title":"crash %s","content":"%s %s","tags":["crash"],"metadata":{"marker":"%s"}}`,
						marker, marker, strings.Repeat("payload ", 100), marker)
					req, _ := http.NewRequest("POST", s.url+"/v1/contexts", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+key)
					req.Header.Set("Content-Type", "application/json")
					res, err := client.Do(req)
					if err != nil {
						return // the server is gone
					}
					var id string
					if res.StatusCode == 201 {
						loc := res.Header.Get("Location")
						id = loc[strings.LastIndexByte(loc, '/')+1:]
					}
					res.Body.Close()
					if id != "" {
						mu.Lock()
						acked[id] = marker
						mu.Unlock()
					}
				}
			}(w)
		}
		time.Sleep(load)
		s.cmd.Process.Kill() // SIGKILL: no drain, no close
		<-s.done
		close(stop)
		wg.Wait()
		if len(acked) == 0 {
			t.Fatal("no write was acknowledged before the kill")
		}
		t.Logf("round %d: %d acknowledged writes so far", round, len(acked))
	}
	s := start(t, dir, env...)
	verify(t, s, key, acked)
	s.stop()
}

// verify checks every acknowledged context after a restart, and that every
// stored crash context is whole and findable by its marker.
func verify(t *testing.T, s *server, key string, acked map[string]string) {
	t.Helper()
	for id, marker := range acked {
		r := s.do("GET", "/v1/contexts/"+id, key, nil)
		if r.status != 200 {
			t.Fatalf("acknowledged context %s (%s) lost after a crash: %d %s", id, marker, r.status, r.raw)
		}
		if r.body["title"] != "crash "+marker || !strings.HasPrefix(r.body["content"].(string), marker+" payload") {
			t.Fatalf("acknowledged context %s is not whole: %s", id, r.raw)
		}
	}
	// Every stored crash context, acknowledged or not, is complete, and the
	// full-text index finds each by its marker.
	seen := 0
	cursor := ""
	for {
		path := "/v1/contexts?tag=crash&limit=100"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		page := s.must(200, "GET", path, key, nil)
		items, _ := page.body["items"].([]any)
		for _, it := range items {
			c := it.(map[string]any)
			marker, _ := c["metadata"].(map[string]any)["marker"].(string)
			content, _ := c["content"].(string)
			if marker == "" || c["title"] != "crash "+marker || !strings.HasSuffix(content, "payload ") {
				t.Fatalf("a half-written context: %v", c)
			}
			seen++
		}
		next, _ := page.body["nextCursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if seen < len(acked) {
		t.Fatalf("%d crash contexts listed, %d acknowledged", seen, len(acked))
	}
	total := s.must(200, "GET", "/v1/search?q=payload&limit=1", key, nil).body["total"]
	if total != float64(seen) {
		t.Fatalf("the full-text index holds %v documents with 'payload', the table %d", total, seen)
	}
	n := 0
	for _, marker := range acked {
		if n++; n > 50 {
			break // a sample: each search is a request
		}
		r := s.must(200, "GET", "/v1/search?q="+marker+"&limit=1", key, nil)
		if r.body["total"] != float64(1) {
			t.Fatalf("search for marker %s: %s", marker, r.raw)
		}
	}
}
