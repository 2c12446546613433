package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the contextd binary built once for every end-to-end test.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "contextd-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "contextd")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building contextd: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running contextd process.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	key    string // the bootstrap admin key, when this start printed one
	dir    string
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan error
}

var (
	addrRe = regexp.MustCompile(`addr"?[=:]"?([^\s"]+)`) // text or JSON logs
	keyRe  = regexp.MustCompile(`(cxd_[a-z0-9]+)`)
)

// start runs contextd serve on DATA_DIR dir and waits until /health answers.
func start(t *testing.T, dir string, env ...string) *server {
	t.Helper()
	s := &server{t: t, dir: dir, done: make(chan error, 1)}
	s.cmd = exec.Command(binary, "serve")
	s.cmd.Dir = t.TempDir() // no config/ folder: built-in defaults and the environment only
	s.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "APP_ENV=test", "DATA_DIR=" + dir, "PORT=0", "LOG_LEVEL=info"}, env...)
	stdout, _ := s.cmd.StdoutPipe()
	stderr, _ := s.cmd.StderrPipe()
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrc, keyc := make(chan string, 1), make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := keyRe.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case keyc <- m[1]:
				default:
				}
			}
		}
	}()
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			s.stderr.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if m := addrRe.FindStringSubmatch(sc.Text()); m != nil && strings.Contains(sc.Text(), "listening") {
				addrc <- m[1]
			}
		}
	}()
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	select {
	case addr := <-addrc:
		s.url = "http://" + addr
	case err := <-s.done:
		t.Fatalf("contextd exited before listening: %v\n%s", err, s.log())
	case <-time.After(30 * time.Second):
		t.Fatalf("contextd did not start in 30s\n%s", s.log())
	}
	select {
	case s.key = <-keyc:
	case <-time.After(300 * time.Millisecond):
	}
	return s
}

func (s *server) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop() {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Fatalf("contextd exited with %v after SIGTERM\n%s", err, s.log())
		}
	case <-time.After(20 * time.Second):
		s.t.Fatal("contextd did not stop within 20s of SIGTERM")
	}
}

type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (s *server) do(method, path, key string, body any) resp {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v\n%s", method, path, err, s.log())
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, header: res.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

func (s *server) must(want int, method, path, key string, body any) resp {
	s.t.Helper()
	r := s.do(method, path, key, body)
	if r.status != want {
		s.t.Fatalf("%s %s: status %d, want %d: %s\n%s", method, path, r.status, want, r.raw, s.log())
	}
	return r
}

// cli runs a contextd sub-command against DATA_DIR dir and the store env
// names (the embedded one when env is empty).
func cli(t *testing.T, dir string, env []string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "APP_ENV=test", "DATA_DIR=" + dir}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// eachStore runs test on the embedded store and, when NEO4J_URI is set, on
// Neo4j, in a fresh namespace (env is the store's environment for start and cli).
func eachStore(t *testing.T, test func(t *testing.T, env []string)) {
	t.Run("sqlite", func(t *testing.T) { test(t, nil) })
	t.Run("neo4j", func(t *testing.T) { test(t, neo4jEnv(t, "")) })
}

func TestEndToEnd(t *testing.T) { eachStore(t, endToEnd) }

func endToEnd(t *testing.T, env []string) {
	dir := t.TempDir()
	s := start(t, dir, env...)
	if s.key == "" {
		t.Fatalf("first start printed no admin key\n%s", s.log())
	}
	admin := s.key

	s.must(200, "GET", "/health", "", nil)
	if r := s.must(200, "GET", "/health/ready", "", nil); r.body["status"] != "ok" {
		t.Fatalf("ready: %s", r.raw)
	}
	if r := s.do("GET", "/v1/contexts", "", nil); r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no credentials: %d %v", r.status, r.header)
	}
	if r := s.must(200, "GET", "/openapi.json", "", nil); r.body["openapi"] == nil {
		t.Fatalf("openapi: %.200s", r.raw)
	}

	// A writer key made by the CLI while the server runs.
	out, errOut, err := cli(t, dir, env, "keys", "create", "--tenant", "default", "--role", "writer", "--name", "e2e")
	if err != nil {
		t.Fatalf("keys create: %v %s", err, errOut)
	}
	writer := strings.TrimSpace(out)
	if !strings.HasPrefix(writer, "cxd_") || strings.Contains(writer, "\n") {
		t.Fatalf("keys create printed %q, want only the key", out)
	}

	a := s.must(201, "POST", "/v1/contexts", writer, map[string]any{
		"title": "Adoption plans", "content": "Caroline talked about the adoption agency she visited.",
		"tags": []string{"family"}, "metadata": map[string]any{"source": "chat"}})
	if a.header.Get("Location") == "" || a.header.Get("ETag") == "" {
		t.Fatalf("create headers: %v", a.header)
	}
	aid := a.body["id"].(string)
	b := s.must(201, "POST", "/v1/contexts", writer, map[string]any{
		"title": "Follow-up", "content": "Call the agency on Monday.",
		"relationships": []map[string]any{{"type": "FOLLOWS", "targetId": aid}}})
	bid := b.body["id"].(string)

	got := s.must(200, "GET", "/v1/contexts/"+aid, writer, nil)
	if rels, _ := got.body["relationships"].([]any); len(rels) != 1 {
		t.Fatalf("relationships of the target: %s", got.raw)
	}
	g := s.must(200, "GET", "/v1/contexts/"+bid+"/graph?depth=2", writer, nil)
	if nodes, _ := g.body["nodes"].([]any); len(nodes) != 2 {
		t.Fatalf("graph: %s", g.raw)
	}
	sr := s.must(200, "POST", "/v1/search", writer, map[string]any{
		"query": "what did Caroline say about the adoption agency?", "facets": []string{"tags"}, "highlight": true})
	if res, _ := sr.body["results"].([]any); len(res) == 0 || res[0].(map[string]any)["context"].(map[string]any)["id"] != aid {
		t.Fatalf("search: %s", sr.raw)
	}
	s.must(201, "POST", "/v1/memories", writer, map[string]any{
		"type": "preference", "content": "Prefers tea over coffee", "sessionId": "sess-1", "importance": "high"})
	ms := s.must(200, "POST", "/v1/memories/search", writer, map[string]any{"query": "tea"})
	if res, _ := ms.body["results"].([]any); len(res) != 1 {
		t.Fatalf("memory search: %s", ms.raw)
	}
	if ss := s.must(200, "GET", "/v1/sessions/sess-1", writer, nil); ss.body["memoryCount"] != float64(1) {
		t.Fatalf("session: %s", ss.raw)
	}

	// Errors from outside: bad input is a 4xx with a reason, never a 5xx.
	for _, tc := range []struct {
		body any
		want int
	}{
		{map[string]any{"title": ""}, 422},
		{map[string]any{"title": "x", "bogus": 1}, 422},
		{map[string]any{"title": "x", "status": "gone"}, 422},
	} {
		r := s.do("POST", "/v1/contexts", writer, tc.body)
		if r.status != tc.want || !strings.Contains(r.header.Get("Content-Type"), "problem+json") {
			t.Errorf("POST %v: %d %s, want %d problem+json", tc.body, r.status, r.raw, tc.want)
		}
	}

	// Revoking the writer stops it at once.
	list, _, err := cli(t, dir, env, "keys", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var keys []map[string]any
	if err := json.Unmarshal([]byte(list), &keys); err != nil || len(keys) != 2 {
		t.Fatalf("keys list: %v %s", err, list)
	}
	for _, k := range keys {
		if k["name"] == "e2e" {
			if _, errOut, err := cli(t, dir, env, "keys", "revoke", k["id"].(string)); err != nil {
				t.Fatalf("revoke: %v %s", err, errOut)
			}
		}
	}
	s.must(401, "GET", "/v1/contexts/"+aid, writer, nil)
	s.must(200, "GET", "/v1/contexts/"+aid, admin, nil)

	// SIGTERM drains and closes; a restart finds everything and prints no new key.
	s.stop()
	s2 := start(t, dir, env...)
	if s2.key != "" {
		t.Fatal("a restart printed a new bootstrap key")
	}
	s2.must(200, "GET", "/v1/contexts/"+bid, admin, nil)
	if r := s2.must(200, "GET", "/v1/search?q=agency", admin, nil); r.body["total"] != float64(2) {
		t.Fatalf("search after restart: %s", r.raw)
	}
	s2.stop()
}

func TestBadConfigStopsStartup(t *testing.T) {
	for _, tc := range []struct{ env, want string }{
		{"PORT=abc", "PORT"},
		{"STORE=mongo", "STORE"},
		{"LOG_LEVEL=loud", "LOG_LEVEL"},
		{"JWT_SECRET=short", "JWT_SECRET"},
		{"APP_ENV=staging", "APP_ENV"},
		{"NEO4J_MAX_POOL_SIZE=0", "NEO4J_MAX_POOL_SIZE"},
		{"NEO4J_TX_TIMEOUT=-1s", "NEO4J_TX_TIMEOUT"},
		{"NEO4J_NAMESPACE=a/b", "NEO4J_NAMESPACE"},
		{"CACHE=disk", "CACHE"},
		{"CACHE=redis", "REDIS_URL"},
	} {
		cmd := exec.Command(binary, "serve")
		cmd.Dir = t.TempDir()
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATA_DIR=" + t.TempDir(), tc.env}
		out, err := cmd.CombinedOutput()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if err == nil || len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
			t.Errorf("%s: err %v, output %q; want one line naming %s", tc.env, err, out, tc.want)
		}
	}
}

func TestVersionAndHelp(t *testing.T) {
	out, err := exec.Command(binary, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "contextd ") {
		t.Fatalf("version: %v %q", err, out)
	}
	if err := exec.Command(binary, "nonsense").Run(); err == nil {
		t.Fatal("an unknown command should fail")
	}
}

// TestEveryRoute walks every route of the contract against the real binary,
// checking status codes and the shapes a client relies on.
func TestEveryRoute(t *testing.T) { eachStore(t, everyRoute) }

func everyRoute(t *testing.T, env []string) {
	s := start(t, t.TempDir(), env...)
	k := s.key
	id := func(r resp) string { return r.body["id"].(string) }
	items := func(r resp) []any { v, _ := r.body["items"].([]any); return v }

	s.must(200, "GET", "/health", "", nil)
	s.must(200, "GET", "/health/ready", "", nil)
	s.must(200, "GET", "/health/details", k, nil)
	if r := s.must(200, "GET", "/metrics", "", nil); !strings.Contains(r.raw, "contextd_http_requests_total") {
		t.Fatalf("metrics lack request counters: %.300s", r.raw)
	}
	s.must(200, "GET", "/docs", "", nil)
	s.must(200, "GET", "/openapi.json", "", nil)

	// Keys.
	nk := s.must(201, "POST", "/v1/admin/api-keys", k, map[string]any{"role": "reader", "name": "ro"})
	reader := nk.body["key"].(string)
	if n := len(items(s.must(200, "GET", "/v1/admin/api-keys", k, nil))); n != 2 {
		t.Fatalf("api-keys list has %d keys, want 2", n)
	}
	s.must(403, "POST", "/v1/contexts", reader, map[string]any{"title": "no"})

	// Contexts, batch, relationships, graph.
	a := s.must(201, "POST", "/v1/contexts", k, map[string]any{"title": "alpha", "content": "first", "tags": []string{"x"}, "sessionId": "s1"})
	batch := s.must(201, "POST", "/v1/contexts/batch", k, map[string]any{"items": []map[string]any{
		{"title": "beta", "content": "second"}, {"title": "gamma", "content": "third", "type": "doc"}}})
	bi := items(batch)
	if len(bi) != 2 {
		t.Fatalf("batch: %s", batch.raw)
	}
	bID, cID := bi[0].(map[string]any)["id"].(string), bi[1].(map[string]any)["id"].(string)
	s.must(422, "POST", "/v1/contexts/batch", k, map[string]any{"items": []map[string]any{{"title": "ok"}, {"title": ""}}})
	if n := len(items(s.must(200, "GET", "/v1/contexts?limit=100", k, nil))); n != 3 {
		t.Fatalf("a failed batch stored something: %d contexts", n)
	}
	if n := len(items(s.must(200, "GET", "/v1/contexts?type=doc", k, nil))); n != 1 {
		t.Fatalf("type filter: %d", n)
	}
	page := s.must(200, "GET", "/v1/contexts?limit=2&order=asc", k, nil)
	if cur, _ := page.body["nextCursor"].(string); cur == "" {
		t.Fatalf("no next cursor: %s", page.raw)
	} else if n := len(items(s.must(200, "GET", "/v1/contexts?limit=2&order=asc&cursor="+cur, k, nil))); n != 1 {
		t.Fatalf("second page has %d", n)
	}
	s.must(200, "GET", "/v1/contexts/"+id(a), k, nil)
	s.must(200, "PATCH", "/v1/contexts/"+id(a), k, map[string]any{"title": "alpha 2"})
	rel := s.must(201, "POST", "/v1/contexts/"+id(a)+"/relationships", k, map[string]any{"type": "CONTAINS", "targetId": bID})
	s.must(201, "POST", "/v1/contexts/"+bID+"/relationships", k, map[string]any{"type": "CONTAINS", "targetId": cID})
	s.must(409, "POST", "/v1/contexts/"+cID+"/relationships", k, map[string]any{"type": "CONTAINS", "targetId": id(a)})
	s.must(409, "POST", "/v1/contexts/"+id(a)+"/relationships", k, map[string]any{"type": "CONTAINS", "targetId": bID})
	s.must(404, "POST", "/v1/contexts/"+id(a)+"/relationships", k, map[string]any{"type": "RELATES_TO", "targetId": "nope"})
	if n := len(items(s.must(200, "GET", "/v1/contexts/"+bID+"/relationships?direction=in", k, nil))); n != 1 {
		t.Fatalf("incoming relationships: %d", n)
	}
	g := s.must(200, "GET", "/v1/contexts/"+id(a)+"/graph?depth=2&types=CONTAINS&direction=out", k, nil)
	if nodes, _ := g.body["nodes"].([]any); len(nodes) != 3 {
		t.Fatalf("graph depth 2: %s", g.raw)
	}
	s.must(204, "DELETE", "/v1/relationships/"+id(rel), k, nil)

	// Search.
	s.must(200, "GET", "/v1/search?q=second&type=note", k, nil)
	sr := s.must(200, "POST", "/v1/search", k, map[string]any{"query": "", "facets": []string{"type"}})
	if sr.body["total"] != float64(3) {
		t.Fatalf("browse search: %s", sr.raw)
	}
	s.must(200, "GET", "/v1/search/stats", k, nil)

	// Memories and sessions.
	m := s.must(201, "POST", "/v1/memories", k, map[string]any{"type": "fact", "content": "the sky is blue", "sessionId": "s1"})
	s.must(201, "POST", "/v1/memories/batch", k, map[string]any{"items": []map[string]any{
		{"type": "instruction", "content": "answer briefly", "sessionId": "s2"}}})
	s.must(200, "GET", "/v1/memories?sessionId=s1", k, nil)
	s.must(200, "GET", "/v1/memories/"+id(m), k, nil)
	s.must(200, "PATCH", "/v1/memories/"+id(m), k, map[string]any{"importance": "critical"})
	s.must(200, "POST", "/v1/memories/search", k, map[string]any{"query": "sky", "minImportance": "high"})
	s.must(201, "POST", "/v1/sessions", k, map[string]any{"id": "s3", "title": "third"})
	if n := len(items(s.must(200, "GET", "/v1/sessions", k, nil))); n != 3 {
		t.Fatalf("sessions: %d", n)
	}
	if ss := s.must(200, "GET", "/v1/sessions/s1", k, nil); ss.body["contextCount"] != float64(1) || ss.body["memoryCount"] != float64(1) {
		t.Fatalf("session counts: %s", ss.raw)
	}
	s.must(200, "GET", "/v1/sessions/s1/memories", k, nil)
	s.must(200, "GET", "/v1/sessions/s1/contexts", k, nil)
	s.must(204, "DELETE", "/v1/memories/"+id(m), k, nil)
	s.must(404, "GET", "/v1/memories/"+id(m), k, nil)
	s.must(204, "DELETE", "/v1/sessions/s2", k, nil)
	s.must(404, "GET", "/v1/sessions/s2", k, nil)
	s.must(200, "GET", "/v1/contexts/"+id(a), k, nil) // contexts outlive sessions

	s.must(204, "DELETE", "/v1/contexts/"+id(a), k, nil)
	s.must(404, "GET", "/v1/contexts/"+id(a), k, nil)
	s.must(204, "DELETE", "/v1/admin/api-keys/"+id(nk), k, nil)
	s.must(401, "GET", "/v1/contexts", reader, nil)
	s.stop()
}
