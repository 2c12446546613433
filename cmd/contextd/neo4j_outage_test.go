package main_test

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// neo4jNamespace is a namespace no earlier run used: a contextd on it finds
// an empty store in the shared Neo4j database (the community edition has
// one), prints a bootstrap key, and collides with nobody.
func neo4jNamespace(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	return "e2e-" + hex.EncodeToString(b)
}

// neo4jEnv is the environment that points contextd at the Neo4j of
// NEO4J_URI (uri overrides it when not empty), in a fresh namespace.
func neo4jEnv(t *testing.T, uri string) []string {
	t.Helper()
	if os.Getenv("NEO4J_URI") == "" {
		t.Skip("NEO4J_URI is not set; run tools/neo4j-test-server/test.sh ./cmd/contextd/")
	}
	if uri == "" {
		uri = os.Getenv("NEO4J_URI")
	}
	env := []string{"STORE=neo4j", "NEO4J_URI=" + uri, "NEO4J_NAMESPACE=" + neo4jNamespace(t)}
	for _, name := range []string{"NEO4J_USERNAME", "NEO4J_PASSWORD", "NEO4J_DATABASE"} {
		if v := os.Getenv(name); v != "" {
			env = append(env, name+"="+v)
		}
	}
	return env
}

// boltProxy forwards TCP between contextd and Neo4j and plays outages: down
// (connections cut, new ones closed at once, as when Neo4j is stopped) and
// paused (connections stay open but nothing moves, as when Neo4j hangs or
// the network drops packets).
type boltProxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	cond   *sync.Cond
	state  string // "up", "down", "paused"
	conns  map[net.Conn]bool
	closed bool
}

func newBoltProxy(t *testing.T, target string) *boltProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &boltProxy{ln: ln, target: target, state: "up", conns: map[net.Conn]bool{}}
	p.cond = sync.NewCond(&p.mu)
	go p.accept()
	t.Cleanup(func() {
		p.mu.Lock()
		p.closed = true
		p.cond.Broadcast()
		p.mu.Unlock()
		ln.Close()
		p.cut()
	})
	return p
}

func (p *boltProxy) addr() string { return p.ln.Addr().String() }

func (p *boltProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.state == "down" || p.closed {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.mu.Unlock()
		go p.serve(c)
	}
}

func (p *boltProxy) serve(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	go p.pipe(up, c)
	p.pipe(c, up)
}

// pipe copies src to dst, holding the bytes while the proxy is paused.
func (p *boltProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.state == "paused" && !p.closed {
				p.cond.Wait()
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil { // EOF or a cut connection: close both sides
			return
		}
	}
}

// cut closes every forwarded connection.
func (p *boltProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *boltProxy) set(state string) {
	p.mu.Lock()
	p.state = state
	p.cond.Broadcast()
	p.mu.Unlock()
	if state == "down" {
		p.cut()
	}
}

// TestNeo4jOutage takes Neo4j away from a running contextd twice, once
// refusing connections and once silent, and checks that routes and
// readiness answer 503 problem+json within the configured timeouts instead
// of hanging, and that contextd serves again, without a restart, once Neo4j
// is back.
func TestNeo4jOutage(t *testing.T) {
	neo4jEnv(t, "") // skips without NEO4J_URI
	target := strings.TrimPrefix(strings.TrimPrefix(os.Getenv("NEO4J_URI"), "bolt://"), "neo4j://")
	if i := strings.IndexAny(target, "/?"); i >= 0 {
		target = target[:i]
	}
	if strings.Contains(os.Getenv("NEO4J_URI"), "+s") {
		t.Skip("the outage proxy speaks plain Bolt only")
	}
	proxy := newBoltProxy(t, target)
	// bolt:// (direct): neo4j:// would route around the proxy to the
	// server's advertised address.
	env := append(neo4jEnv(t, "bolt://"+proxy.addr()), "NEO4J_CONNECT_TIMEOUT=1s", "NEO4J_ACQUIRE_TIMEOUT=2s", "NEO4J_TX_TIMEOUT=4s",
		"NEO4J_MAX_RETRY_TIME=1s", "REQUEST_TIMEOUT=20s")
	s := start(t, t.TempDir(), env...)
	if s.key == "" {
		t.Fatalf("no bootstrap key on a fresh namespace\n%s", s.log())
	}
	k := s.key
	c := s.must(201, "POST", "/v1/contexts", k, map[string]any{"title": "before the outage", "content": "kept"})
	id := c.body["id"].(string)
	r := s.must(200, "GET", "/health/ready", "", nil)
	if st, _ := r.body["checks"].(map[string]any)["store"].(map[string]any); st["status"] != "ok" || st["latencyMs"] == nil {
		t.Fatalf("ready: %s", r.raw)
	}

	// Bound: NEO4J_TX_TIMEOUT + NEO4J_MAX_RETRY_TIME (5 s), plus slack for a
	// machine shared with other test runs.
	const bound = 10 * time.Second
	unavailable := func(what string) {
		t.Helper()
		for _, req := range []struct{ method, path string }{
			{"GET", "/v1/contexts/" + id}, {"GET", "/v1/search?q=kept"}, {"POST", "/v1/contexts"},
		} {
			var body any
			if req.method == "POST" {
				body = map[string]any{"title": "during the outage"}
			}
			began := time.Now()
			r := s.do(req.method, req.path, k, body)
			took := time.Since(began)
			if r.status != 503 || !strings.Contains(r.header.Get("Content-Type"), "problem+json") {
				t.Errorf("%s: %s %s: %d %s, want 503 problem+json", what, req.method, req.path, r.status, r.raw)
			}
			if took > bound {
				t.Errorf("%s: %s %s took %v, want at most %v", what, req.method, req.path, took, bound)
			}
		}
		began := time.Now()
		r := s.do("GET", "/health/ready", "", nil)
		if st, _ := r.body["checks"].(map[string]any)["store"].(map[string]any); r.status != 503 || st["status"] != "unavailable" {
			t.Errorf("%s: ready: %d %s, want 503 with the store unavailable", what, r.status, r.raw)
		}
		if took := time.Since(began); took > bound {
			t.Errorf("%s: ready took %v", what, took)
		}
	}
	recovers := func(what string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			r := s.do("GET", "/v1/contexts/"+id, k, nil)
			if r.status == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: contextd did not recover within 30 s: %d %s\n%s", what, r.status, r.raw, s.log())
			}
			time.Sleep(200 * time.Millisecond)
		}
		s.must(201, "POST", "/v1/contexts", k, map[string]any{"title": "after " + what})
		s.must(200, "GET", "/health/ready", "", nil)
	}

	proxy.set("down")
	unavailable("Neo4j down")
	proxy.set("up")
	recovers("Neo4j down")

	proxy.set("paused")
	unavailable("Neo4j silent")
	proxy.set("down") // the held connections are dead for good, as after a network partition
	proxy.set("up")
	recovers("Neo4j silent")

	if r := s.must(200, "GET", "/v1/search?q=after", k, nil); r.body["total"] != float64(2) {
		t.Fatalf("writes after the outages: %s\n%s", r.raw, s.log())
	}
	s.stop()
}
