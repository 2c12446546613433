package mcpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/mcpapi"
	"github.com/contextd/contextd/sqlite"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

var ulidRe = regexp.MustCompile(`\b[0-9A-HJKMNP-TV-Z]{26}\b`)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// clock is a test clock that moves 1 ms on every reading, so that creation
// order is visible in timestamps and golden files are stable.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

type env struct {
	svc   *contextd.Service
	store contextd.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clk := &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	st, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// Opening read the clock once per migration: start the transcripts at the
	// same time however many migrations the store has.
	clk.mu.Lock()
	clk.t = time.Date(2025, 1, 2, 3, 4, 5, int(time.Millisecond), time.UTC)
	clk.mu.Unlock()
	svc := contextd.NewService(st)
	svc.Now = clk.Now
	return &env{svc: svc, store: st}
}

var admin = &contextd.Principal{Tenant: "default", Role: contextd.RoleAdmin, Subject: "test"}

// connect serves NewServer(opts) over in-memory transports and returns a client.
func (e *env) connect(t *testing.T, opts mcpapi.Options) *mcp.ClientSession {
	t.Helper()
	ctx := context.Background()
	srv := mcpapi.NewServer(e.svc, opts)
	st, ct := mcp.NewInMemoryTransports()
	ss, err := srv.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Close() })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

type result struct {
	IsError    bool            `json:"isError,omitempty"`
	Text       string          `json:"text"`
	Structured json.RawMessage `json:"structured,omitempty"`
}

func call(t *testing.T, cs *mcp.ClientSession, name string, args any) result {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var r result
	r.IsError = res.IsError
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			r.Text += tc.Text
		}
	}
	if res.StructuredContent != nil {
		b, err := json.Marshal(res.StructuredContent)
		if err != nil {
			t.Fatal(err)
		}
		r.Structured = b
	}
	return r
}

// ok calls a tool that must succeed and decodes its structured answer into out.
func ok(t *testing.T, cs *mcp.ClientSession, name string, args, out any) result {
	t.Helper()
	r := call(t, cs, name, args)
	if r.IsError {
		t.Fatalf("%s(%v): error %s", name, args, r.Text)
	}
	if out != nil {
		if err := json.Unmarshal(r.Structured, out); err != nil {
			t.Fatalf("%s: %v in %s", name, err, r.Structured)
		}
	}
	return r
}

// step is one line of a golden transcript.
type step struct {
	Tool   string `json:"tool"`
	Args   any    `json:"args"`
	Result result `json:"result"`
}

func golden(t *testing.T, name string, steps []step) {
	t.Helper()
	var b bytes.Buffer
	for _, s := range steps {
		line, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	// Server-made ids are random: the transcript shows where they are.
	b = *bytes.NewBuffer(ulidRe.ReplaceAll(b.Bytes(), []byte("<ULID>")))
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(want, b.Bytes()) {
		wl, gl := strings.Split(string(want), "\n"), strings.Split(b.String(), "\n")
		for i := range max(len(wl), len(gl)) {
			var w, g string
			if i < len(wl) {
				w = wl[i]
			}
			if i < len(gl) {
				g = gl[i]
			}
			if w != g {
				t.Fatalf("%s: transcript differs at line %d\nwant: %s\ngot:  %s\n(go test -update rewrites it)", path, i+1, w, g)
			}
		}
	}
}

// referenceSession is a scripted session of the reference memory server's
// nine tools. The answers in testdata/reference_session.jsonl were checked
// against the reference server's semantics (see the comments) and are
// compared with the reference server itself by tests/mcp-node.
var referenceSession = []struct {
	tool string
	args string
}{
	{"create_entities", `{"entities":[{"name":"Alice","entityType":"person","observations":["likes tea","works remotely"]},{"name":"Acme","entityType":"organization","observations":[]},{"name":"Alice","entityType":"person","observations":["duplicate in batch"]}]}`},
	{"create_entities", `{"entities":[{"name":"Alice","entityType":"person","observations":["exists already"]},{"name":"Bob","entityType":"person","observations":["Speaks <French> & \"German\""]}]}`},
	{"create_relations", `{"relations":[{"from":"Alice","to":"Acme","relationType":"works at"},{"from":"Bob","to":"Acme","relationType":"works_at"},{"from":"Alice","to":"Bob","relationType":"knows"},{"from":"Alice","to":"Acme","relationType":"works at"}]}`},
	{"create_relations", `{"relations":[{"from":"Alice","to":"Acme","relationType":"works at"},{"from":"Bob","to":"Alice","relationType":"works at"}]}`},
	{"create_relations", `{"relations":[{"from":"Alice","to":"Nobody","relationType":"knows"}]}`},
	{"add_observations", `{"observations":[{"entityName":"Alice","contents":["likes tea","likes chess","likes chess"]},{"entityName":"Acme","contents":["founded 1999"]},{"entityName":"Alice","contents":["likes chess","multi\nline"]}]}`},
	{"add_observations", `{"observations":[{"entityName":"Ghost","contents":["x"]}]}`},
	{"read_graph", `{}`},
	{"search_nodes", `{"query":"CHESS"}`},
	{"search_nodes", `{"query":"organization"}`},
	{"search_nodes", `{"query":"nothing matches this"}`},
	{"open_nodes", `{"names":["Bob","Alice","Ghost"]}`},
	{"delete_observations", `{"deletions":[{"entityName":"Alice","observations":["likes chess","never said"]},{"entityName":"Ghost","observations":["x"]}]}`},
	{"delete_observations", `{"deletions":[{"entityName":"Alice","observations":["works remotely"]}]}`},
	{"delete_relations", `{"relations":[{"from":"Alice","to":"Bob","relationType":"knows"},{"from":"Alice","to":"Bob","relationType":"hates"}]}`},
	{"delete_relations", `{"relations":[{"from":"Bob","to":"Alice","relationType":"works at"}]}`},
	{"delete_entities", `{"entityNames":["Bob","Ghost"]}`},
	{"delete_entities", `{"entityNames":["Acme"]}`},
	{"read_graph", `{}`},
}

func TestReferenceSession(t *testing.T) {
	e := newEnv(t)
	cs := e.connect(t, mcpapi.Options{Principal: admin})
	var steps []step
	for _, s := range referenceSession {
		var args map[string]any
		if err := json.Unmarshal([]byte(s.args), &args); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, step{Tool: s.tool, Args: args, Result: call(t, cs, s.tool, args)})
	}
	golden(t, "reference_session.jsonl", steps)

	// The reference server's semantics, spelled out.
	var g mcpapi.KnowledgeGraph
	_ = json.Unmarshal(steps[7].Result.Structured, &g)
	if got := names(g); got != "Alice,Acme,Bob" {
		t.Errorf("read_graph entities = %s, want creation order Alice,Acme,Bob", got)
	}
	if len(g.Entities) == 3 && strings.Join(g.Entities[0].Observations, "|") != "likes tea|works remotely|likes chess|likes chess|multi\nline" {
		t.Errorf("Alice's observations = %q", g.Entities[0].Observations)
	}
	if got := rels(g); got != "Alice-works at->Acme,Bob-works_at->Acme,Alice-knows->Bob,Bob-works at->Alice" {
		t.Errorf("read_graph relations = %s", got)
	}
	if !steps[4].Result.IsError || steps[4].Result.Text != "Entity with name Nobody not found" {
		t.Errorf("create_relations to a missing entity = %+v", steps[4].Result)
	}
	if !steps[6].Result.IsError || steps[6].Result.Text != "Entity with name Ghost not found" {
		t.Errorf("add_observations to a missing entity = %+v", steps[6].Result)
	}
	if got := steps[12].Result.Text; got != "Observations deleted successfully" {
		t.Errorf("delete_observations message = %q", got)
	}
	if got := steps[16].Result.Text; got != "Entities deleted successfully" {
		t.Errorf("delete_entities message = %q", got)
	}
	var last mcpapi.KnowledgeGraph
	_ = json.Unmarshal(steps[len(steps)-1].Result.Structured, &last)
	if names(last) != "Alice" || len(last.Relations) != 0 {
		t.Errorf("final graph = %s", steps[len(steps)-1].Result.Structured)
	}
}

func names(g mcpapi.KnowledgeGraph) string {
	var out []string
	for _, e := range g.Entities {
		out = append(out, e.Name)
	}
	return strings.Join(out, ",")
}

func rels(g mcpapi.KnowledgeGraph) string {
	var out []string
	for _, r := range g.Relations {
		out = append(out, r.From+"-"+r.RelationType+"->"+r.To)
	}
	return strings.Join(out, ",")
}

// Two clients writing at once lose nothing: entities, observations and
// relations from both are all there afterwards.
func TestConcurrentClients(t *testing.T) {
	e := newEnv(t)
	a := e.connect(t, mcpapi.Options{Principal: admin})
	b := e.connect(t, mcpapi.Options{Principal: admin})
	ok(t, a, "create_entities", map[string]any{"entities": []any{
		map[string]any{"name": "hub", "entityType": "thing", "observations": []string{}}}}, nil)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan string, 4*n)
	for ci, cs := range []*mcp.ClientSession{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				name := fmt.Sprintf("c%d-e%d", ci, i)
				steps := []struct {
					tool string
					args map[string]any
				}{
					{"create_entities", map[string]any{"entities": []any{map[string]any{"name": name, "entityType": "thing", "observations": []string{"o"}}}}},
					{"add_observations", map[string]any{"observations": []any{map[string]any{"entityName": "hub", "contents": []string{name}}}}},
					{"create_relations", map[string]any{"relations": []any{map[string]any{"from": name, "to": "hub", "relationType": "part of"}}}},
					{"remember", map[string]any{"content": "memory " + name, "sessionId": "s1"}},
				}
				for _, s := range steps {
					res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: s.tool, Arguments: s.args})
					if err != nil || res.IsError {
						errs <- fmt.Sprintf("%s %s: %v %v", s.tool, name, err, res)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	var hub mcpapi.KnowledgeGraph
	ok(t, a, "open_nodes", map[string]any{"names": []string{"hub"}}, &hub)
	if len(hub.Entities) != 1 || len(hub.Entities[0].Observations) != 2*n || len(hub.Relations) != 2*n {
		t.Fatalf("hub after concurrent writers: %d observations, %d relations; want %d each", len(hub.Entities[0].Observations), len(hub.Relations), 2*n)
	}
	var g mcpapi.KnowledgeGraph
	ok(t, b, "read_graph", map[string]any{}, &g)
	if len(g.Entities) != 2*n+1 {
		t.Fatalf("read_graph: %d entities, want %d", len(g.Entities), 2*n+1)
	}
	var page mcpapi.MemoryPage
	ok(t, a, "list_memories", map[string]any{"sessionId": "s1", "limit": 50}, &page)
	if len(page.Items) != 2*n {
		t.Fatalf("memories: %d, want %d", len(page.Items), 2*n)
	}
}

// The contextd tools: a transcript, plus checks of what matters.
func TestContextdTools(t *testing.T) {
	e := newEnv(t)
	cs := e.connect(t, mcpapi.Options{Principal: admin})
	var steps []step
	do := func(tool string, args map[string]any) result {
		r := call(t, cs, tool, args)
		steps = append(steps, step{Tool: tool, Args: args, Result: r})
		return r
	}
	do("remember", map[string]any{"content": "The user prefers dark roast coffee", "type": "preference", "importance": "high", "sessionId": "s1", "tags": []string{"coffee"}})
	do("remember", map[string]any{"content": "The user lives in Lisbon", "sessionId": "s1"})
	do("remember", map[string]any{"content": "bad type", "type": "opinion"})
	r := do("recall", map[string]any{"query": "what coffee does the user like", "sessionId": "s1"})
	if !strings.Contains(string(r.Structured), "dark roast") {
		t.Errorf("recall did not find the coffee memory: %s", r.Structured)
	}
	do("list_memories", map[string]any{"sessionId": "s1", "limit": 5})
	do("save_context", map[string]any{"id": "design", "title": "Design notes", "content": "We store contexts in SQLite with FTS5.", "tags": []string{"arch"}})
	do("save_context", map[string]any{"id": "impl", "title": "Implementation", "content": "The sqlite package implements the Store.", "relationships": []any{map[string]any{"type": "DERIVED_FROM", "targetId": "design"}}})
	do("get_context", map[string]any{"id": "design", "maxContentBytes": 8})
	do("update_context", map[string]any{"id": "design", "status": "archived", "ifVersion": 1})
	do("update_context", map[string]any{"id": "design", "status": "active", "ifVersion": 1})
	do("search_contexts", map[string]any{"query": "sqlite store"})
	do("link_contexts", map[string]any{"sourceId": "design", "targetId": "impl", "type": "INFLUENCES"})
	do("link_contexts", map[string]any{"sourceId": "design", "targetId": "missing", "type": "INFLUENCES"})
	do("get_graph", map[string]any{"id": "design", "depth": 2})
	do("list_sessions", map[string]any{})
	do("delete_context", map[string]any{"id": "impl"})
	do("get_context", map[string]any{"id": "impl"})
	r = do("forget", map[string]any{"id": "nope"})
	if !r.IsError || !strings.HasPrefix(r.Text, "not_found") {
		t.Errorf("forget of a missing memory = %+v", r)
	}
	golden(t, "contextd_tools.jsonl", steps)
}

// Every tool has schemas and the annotations the contract promises.
func TestToolList(t *testing.T) {
	e := newEnv(t)
	cs := e.connect(t, mcpapi.Options{Principal: admin})
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{ // name -> read-only
		"remember": false, "recall": true, "forget": false, "list_memories": true, "save_context": false,
		"get_context": true, "update_context": false, "delete_context": false, "search_contexts": true,
		"link_contexts": false, "get_graph": true, "list_sessions": true,
		"create_entities": false, "create_relations": false, "add_observations": false, "delete_entities": false,
		"delete_observations": false, "delete_relations": false, "read_graph": true, "search_nodes": true, "open_nodes": true,
	}
	got := map[string]bool{}
	for _, tool := range res.Tools {
		got[tool.Name] = true
		ro, known := want[tool.Name]
		if !known {
			t.Errorf("unexpected tool %s", tool.Name)
			continue
		}
		if tool.InputSchema == nil || tool.OutputSchema == nil || tool.Annotations == nil {
			t.Errorf("%s: missing schema or annotations", tool.Name)
			continue
		}
		if tool.Annotations.ReadOnlyHint != ro {
			t.Errorf("%s: readOnlyHint = %v", tool.Name, tool.Annotations.ReadOnlyHint)
		}
		if tool.Annotations.DestructiveHint == nil {
			t.Errorf("%s: no destructiveHint", tool.Name)
		}
	}
	for name := range want {
		if !got[name] {
			t.Errorf("missing tool %s", name)
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res.Tools); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "tools.json")
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if want, err := os.ReadFile(path); err != nil || !bytes.Equal(want, b.Bytes()) {
		t.Errorf("tool list differs from %s (go test -update rewrites it)", path)
	}
}

func TestResourcesAndPrompt(t *testing.T) {
	e := newEnv(t)
	cs := e.connect(t, mcpapi.Options{Principal: admin})
	ctx := context.Background()
	ok(t, cs, "save_context", map[string]any{"id": "c1", "title": "One", "content": "first"}, nil)
	ok(t, cs, "remember", map[string]any{"content": "likes green tea", "sessionId": "s9", "importance": "critical"}, nil)
	ok(t, cs, "remember", map[string]any{"content": "owns a cat", "sessionId": "s9", "importance": "low"}, nil)

	rr, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: mcpapi.ContextURI("c1")})
	if err != nil {
		t.Fatal(err)
	}
	if len(rr.Contents) != 1 || !strings.Contains(rr.Contents[0].Text, `"title": "One"`) {
		t.Errorf("context resource = %+v", rr.Contents)
	}
	if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: mcpapi.ContextURI("nope")}); err == nil {
		t.Error("reading a missing context resource succeeded")
	}
	tmpl, err := cs.ListResourceTemplates(ctx, nil)
	if err != nil || len(tmpl.ResourceTemplates) != 1 {
		t.Errorf("templates = %+v, %v", tmpl, err)
	}
	if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "memory://knowledge-graph"}); err != nil {
		t.Error(err)
	}

	pr, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "session_memories", Arguments: map[string]string{"sessionId": "s9"}})
	if err != nil {
		t.Fatal(err)
	}
	text := pr.Messages[0].Content.(*mcp.TextContent).Text
	if i, j := strings.Index(text, "green tea"), strings.Index(text, "cat"); i < 0 || j < 0 || i > j {
		t.Errorf("prompt should list the critical memory first:\n%s", text)
	}
	if _, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "session_memories", Arguments: map[string]string{"sessionId": "none"}}); err == nil {
		t.Error("prompt for a missing session succeeded")
	}
}

// A reader may read but not write; tenants do not see each other's graph.
func TestRolesAndTenants(t *testing.T) {
	e := newEnv(t)
	a := e.connect(t, mcpapi.Options{Principal: admin})
	reader := e.connect(t, mcpapi.Options{Principal: &contextd.Principal{Tenant: "default", Role: contextd.RoleReader, Subject: "r"}})
	other := e.connect(t, mcpapi.Options{Principal: &contextd.Principal{Tenant: "other", Role: contextd.RoleAdmin, Subject: "o"}})
	none := e.connect(t, mcpapi.Options{})

	ok(t, a, "create_entities", map[string]any{"entities": []any{map[string]any{"name": "X", "entityType": "t", "observations": []string{"secret"}}}}, nil)
	if r := call(t, reader, "create_entities", map[string]any{"entities": []any{}}); !r.IsError || !strings.HasPrefix(r.Text, "forbidden") {
		t.Errorf("reader create_entities = %+v", r)
	}
	var g mcpapi.KnowledgeGraph
	ok(t, reader, "read_graph", map[string]any{}, &g)
	if len(g.Entities) != 1 {
		t.Errorf("reader sees %d entities", len(g.Entities))
	}
	ok(t, other, "search_nodes", map[string]any{"query": "secret"}, &g)
	if len(g.Entities) != 0 {
		t.Errorf("another tenant sees %s", names(g))
	}
	// The same name in another tenant is another entity.
	var created mcpapi.EntitiesOutput
	ok(t, other, "create_entities", map[string]any{"entities": []any{map[string]any{"name": "X", "entityType": "t", "observations": []string{}}}}, &created)
	if len(created.Entities) != 1 {
		t.Errorf("other tenant could not create X: %+v", created)
	}
	if r := call(t, none, "read_graph", map[string]any{}); !r.IsError || !strings.HasPrefix(r.Text, "unauthorized") {
		t.Errorf("no principal: %+v", r)
	}
}

// read_graph and search_nodes are bounded and paged: every entity comes
// exactly once across the pages.
func TestReadGraphPaging(t *testing.T) {
	e := newEnv(t)
	cs := e.connect(t, mcpapi.Options{Principal: admin, MaxResultBytes: 4 << 10})
	var ents []any
	for i := range 250 {
		ents = append(ents, map[string]any{"name": fmt.Sprintf("e%03d", i), "entityType": "n",
			"observations": []string{strings.Repeat("x", 50)}})
	}
	ok(t, cs, "create_entities", map[string]any{"entities": ents}, nil)
	ok(t, cs, "create_relations", map[string]any{"relations": []any{map[string]any{"from": "e000", "to": "e249", "relationType": "r"}}}, nil)
	seen := map[string]bool{}
	cursor, pages, relations := "", 0, 0
	for {
		var g mcpapi.KnowledgeGraph
		r := ok(t, cs, "read_graph", map[string]any{"cursor": cursor}, &g)
		if len(r.Text) > 8<<10 {
			t.Fatalf("page of %d bytes", len(r.Text))
		}
		pages++
		relations += len(g.Relations)
		for _, en := range g.Entities {
			if seen[en.Name] {
				t.Fatalf("%s twice", en.Name)
			}
			seen[en.Name] = true
		}
		if g.NextCursor == "" {
			break
		}
		cursor = g.NextCursor
	}
	if len(seen) != 250 || pages < 3 || relations != 1 {
		t.Fatalf("%d entities in %d pages, %d relations", len(seen), pages, relations)
	}
	var g mcpapi.KnowledgeGraph
	ok(t, cs, "search_nodes", map[string]any{"query": "e24", "limit": 5}, &g)
	if names(g) != "e240,e241,e242,e243,e244" || g.NextCursor == "" {
		t.Fatalf("search page = %s next %q", names(g), g.NextCursor)
	}
	next := g.NextCursor
	g = mcpapi.KnowledgeGraph{}
	ok(t, cs, "search_nodes", map[string]any{"query": "e24", "cursor": next}, &g)
	if names(g) != "e245,e246,e247,e248,e249" || g.NextCursor != "" || len(g.Relations) != 1 {
		t.Fatalf("second search page = %s next %q relations %d", names(g), g.NextCursor, len(g.Relations))
	}
	g = mcpapi.KnowledgeGraph{}
	ok(t, cs, "search_nodes", map[string]any{"query": "e007", "mode": "ranked"}, &g)
	if names(g) != "e007" {
		t.Fatalf("ranked search = %s", names(g))
	}
}

// gateway stands in for httpapi's authentication: a bearer API key becomes
// the principal in the request context.
func gateway(svc *contextd.Service, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if p, err := svc.Authenticate(r.Context(), key); err == nil {
			r = r.WithContext(contextd.WithPrincipal(r.Context(), p))
		}
		next.ServeHTTP(w, r)
	})
}

func TestHTTPAndRemote(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mux := http.NewServeMux()
	mux.Handle("/mcp", gateway(e.svc, mcpapi.NewHTTPHandler(e.svc, mcpapi.Options{Principal: admin})))
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	_, writerKey, err := e.svc.NewAPIKey(ctx, contextd.KeyCreate{Tenant: "t1", Role: contextd.RoleWriter, Name: "w"})
	if err != nil {
		t.Fatal(err)
	}
	_, readerKey, err := e.svc.NewAPIKey(ctx, contextd.KeyCreate{Tenant: "t1", Role: contextd.RoleReader, Name: "r"})
	if err != nil {
		t.Fatal(err)
	}

	// No principal: 401, whatever Options.Principal says.
	resp, err := http.Post(ts.URL+"/mcp", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no credentials: %d %v", resp.StatusCode, resp.Header)
	}

	// A client through the remote proxy (what "contextd mcp --url" serves).
	connectRemote := func(key string) *mcp.ClientSession {
		srv, remote, err := mcpapi.NewRemoteServer(ctx, mcpapi.RemoteOptions{URL: ts.URL, APIKey: key})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { remote.Close() })
		st, ct := mcp.NewInMemoryTransports()
		ss, err := srv.Connect(ctx, st, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ss.Close() })
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, ct, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cs.Close() })
		return cs
	}
	w := connectRemote(writerKey)
	ok(t, w, "create_entities", map[string]any{"entities": []any{map[string]any{"name": "N", "entityType": "t", "observations": []string{"o1"}}}}, nil)
	var g mcpapi.KnowledgeGraph
	ok(t, w, "read_graph", map[string]any{}, &g)
	if names(g) != "N" {
		t.Fatalf("remote read_graph = %s", names(g))
	}
	tools, err := w.ListTools(ctx, nil)
	if err != nil || len(tools.Tools) != 21 {
		t.Fatalf("remote tools: %d, %v", len(tools.Tools), err)
	}
	if _, err := w.GetPrompt(ctx, &mcp.GetPromptParams{Name: "session_memories", Arguments: map[string]string{"sessionId": "nope"}}); err == nil {
		t.Error("prompt of a missing session succeeded through the proxy")
	}

	r := connectRemote(readerKey)
	if res := call(t, r, "remember", map[string]any{"content": "x"}); !res.IsError || !strings.HasPrefix(res.Text, "forbidden") {
		t.Errorf("reader remember = %+v", res)
	}
	ok(t, r, "read_graph", map[string]any{}, &g)
	// The tenant wall: the admin of "default" (in-process) sees nothing of t1.
	local := e.connect(t, mcpapi.Options{Principal: admin})
	g = mcpapi.KnowledgeGraph{}
	ok(t, local, "read_graph", map[string]any{}, &g)
	if len(g.Entities) != 0 {
		t.Errorf("tenant default sees %s", names(g))
	}

	if _, _, err := mcpapi.NewRemoteServer(ctx, mcpapi.RemoteOptions{URL: ts.URL, APIKey: "cxd_wrong"}); err == nil {
		t.Error("a bad key connected")
	}
}

func TestImportMemoryJSONL(t *testing.T) {
	e := newEnv(t)
	file := `{"type":"entity","name":"Alice","entityType":"person","observations":["likes tea","multi\nline"]}
{"type":"entity","name":"Acme","entityType":"organization","observations":[]}
not json
{"type":"relation","from":"Alice","to":"Acme","relationType":"works at"}
{"type":"relation","from":"Alice","to":"Ghost","relationType":"knows"}
{"type":"entity","name":"Alice","entityType":"person","observations":["likes tea","plays go"]}
`
	st, err := mcpapi.ImportMemoryJSONL(context.Background(), e.svc, admin, strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if st != (mcpapi.ImportStats{Entities: 2, Observations: 1, Relations: 1, Skipped: 2}) {
		t.Errorf("first import: %+v", st)
	}
	st, err = mcpapi.ImportMemoryJSONL(context.Background(), e.svc, admin, strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if st.Entities+st.Observations+st.Relations != 0 {
		t.Errorf("second import changed things: %+v", st)
	}
	cs := e.connect(t, mcpapi.Options{Principal: admin})
	var g mcpapi.KnowledgeGraph
	ok(t, cs, "read_graph", map[string]any{}, &g)
	if names(g) != "Alice,Acme" || rels(g) != "Alice-works at->Acme" ||
		strings.Join(g.Entities[0].Observations, "|") != "likes tea|multi\nline|plays go" {
		t.Errorf("imported graph: %+v", g)
	}
}
