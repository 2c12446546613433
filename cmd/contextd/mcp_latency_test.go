package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestMCPToolLatency measures tool calls of `contextd mcp` on an existing
// store: MCP_LATENCY_DATA_DIR names a data directory (for example one that
// `contextd bench --fill 100000` filled) and MCP_LATENCY_TENANT its tenant
// (default "default"). It prints p50/p99 per tool; it asserts nothing about
// time (this machine is shared), only that every call succeeds.
//
//	MCP_LATENCY_DATA_DIR=/tmp/perf/data go test -run TestMCPToolLatency -v ./cmd/contextd/
func TestMCPToolLatency(t *testing.T) {
	dir := os.Getenv("MCP_LATENCY_DATA_DIR")
	if dir == "" {
		t.Skip("MCP_LATENCY_DATA_DIR not set")
	}
	tenant := os.Getenv("MCP_LATENCY_TENANT")
	if tenant == "" {
		tenant = "default"
	}
	cs := mcpOverPipes(t, []string{"--tenant", tenant}, map[string]string{"DATA_DIR": dir, "CONFIG_DIR": t.TempDir(), "LOG_LEVEL": "warn"})
	ctx := context.Background()
	call := func(name string, args map[string]any) *mcp.CallToolResult {
		t.Helper()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
		if err != nil || res.IsError {
			t.Fatalf("%s: %v %+v", name, err, res)
		}
		return res
	}
	// An id to read: the newest context.
	search := call("search_contexts", map[string]any{"query": "system data", "limit": 1})
	hits, _ := search.StructuredContent.(map[string]any)["results"].([]any)
	if len(hits) == 0 {
		t.Fatalf("the store has no context matching 'system data': fill it first")
	}
	id := hits[0].(map[string]any)["id"].(string)
	// Queries: pairs of the longer (so rarer) words of a few contexts, like
	// the mid-frequency words of `contextd bench`. A query of the commonest
	// words ranks most of the store (see docs/performance.md).
	var words []string
	for _, h := range call("search_contexts", map[string]any{"query": "project team", "limit": 10}).StructuredContent.(map[string]any)["results"].([]any) {
		title, _ := h.(map[string]any)["title"].(string)
		for _, w := range strings.Fields(title) {
			if len(w) >= 8 {
				words = append(words, w)
			}
		}
	}
	if len(words) < 2 {
		t.Fatalf("no long words in the titles of the store")
	}
	var queries []string
	for i := 0; i+1 < len(words); i += 2 {
		queries = append(queries, words[i]+" "+words[i+1])
	}
	t.Logf("queries: %q", queries)
	tools := []struct {
		name string
		args func(i int) map[string]any
	}{
		{"get_context", func(int) map[string]any { return map[string]any{"id": id, "maxContentBytes": 2048} }},
		{"search_contexts", func(i int) map[string]any { return map[string]any{"query": queries[i%len(queries)], "limit": 10} }},
		{"remember", func(i int) map[string]any {
			return map[string]any{"content": fmt.Sprintf("latency probe %d prefers %s", i, queries[i%len(queries)]), "type": "preference", "sessionId": "mcp-latency"}
		}},
		{"recall", func(i int) map[string]any { return map[string]any{"query": queries[i%len(queries)], "limit": 10} }},
		{"list_memories", func(int) map[string]any { return map[string]any{"limit": 20} }},
		{"get_graph", func(int) map[string]any { return map[string]any{"id": id, "depth": 2} }},
		{"search_nodes", func(i int) map[string]any { return map[string]any{"query": queries[i%len(queries)]} }},
		{"read_graph", func(int) map[string]any { return map[string]any{} }},
	}
	const n = 200
	for _, tool := range tools {
		lat := make([]time.Duration, 0, n)
		for i := 0; i < n+20; i++ {
			start := time.Now()
			call(tool.name, tool.args(i))
			if i >= 20 { // warm-up
				lat = append(lat, time.Since(start))
			}
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		t.Logf("%-16s p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms", tool.name,
			ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100]), ms(lat[len(lat)-1]))
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
