package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// mcpOverPipes runs serveMCP on pipes and returns a client connected to it.
func mcpOverPipes(t *testing.T, args []string, env map[string]string) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	var stderr strings.Builder
	done := make(chan error, 1)
	go func() {
		done <- serveMCP(ctx, args, func(k string) string { return env[k] }, inR, outW, &stderr)
		outW.Close()
	}()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx,
		&mcp.IOTransport{Reader: outR, Writer: inW}, nil)
	if err != nil {
		cancel()
		t.Fatalf("connect: %v (stderr: %s)", err, stderr.String())
	}
	t.Cleanup(func() {
		cs.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serveMCP: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("serveMCP did not return after stdin closed")
		}
		cancel()
	})
	return cs
}

func TestMCPStdioLocalStore(t *testing.T) {
	env := map[string]string{"DATA_DIR": t.TempDir(), "APP_ENV": "test", "CONFIG_DIR": t.TempDir()}
	cs := mcpOverPipes(t, []string{"--tenant", "acme"}, env)
	ctx := context.Background()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "create_entities", Arguments: map[string]any{
		"entities": []any{map[string]any{"name": "Ada", "entityType": "person", "observations": []string{"wrote the first program"}}}}})
	if err != nil || res.IsError {
		t.Fatalf("create_entities: %v %+v", err, res)
	}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "search_nodes", Arguments: map[string]any{"query": "program"}})
	if err != nil || res.IsError {
		t.Fatalf("search_nodes: %v %+v", err, res)
	}
	b, _ := json.Marshal(res.StructuredContent)
	if !strings.Contains(string(b), `"name":"Ada"`) {
		t.Fatalf("search_nodes = %s", b)
	}
	if init := cs.InitializeResult(); init.ServerInfo.Name != "contextd" {
		t.Errorf("server info = %+v", init.ServerInfo)
	}
}

func TestMCPUsageErrors(t *testing.T) {
	var stderr strings.Builder
	env := map[string]string{"DATA_DIR": t.TempDir(), "CONFIG_DIR": t.TempDir()}
	getenv := func(k string) string { return env[k] }
	err := serveMCP(context.Background(), []string{"--url", "http://127.0.0.1:1"}, getenv, strings.NewReader(""), io.Discard, &stderr)
	if _, ok := err.(usageError); !ok {
		t.Errorf("--url without a key: %v", err)
	}
	err = serveMCP(context.Background(), []string{"--tenant", "bad/tenant"}, getenv, strings.NewReader(""), io.Discard, &stderr)
	if _, ok := err.(usageError); !ok {
		t.Errorf("bad tenant: %v", err)
	}
	err = serveMCP(context.Background(), []string{"--url", "http://127.0.0.1:1", "--api-key", "k"}, getenv, strings.NewReader(""), io.Discard, &stderr)
	if err == nil {
		t.Error("an unreachable --url served")
	}
}

func TestImportMCPMemory(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/memory.jsonl"
	if err := os.WriteFile(file, []byte(`{"type":"entity","name":"Ada","entityType":"person","observations":["wrote the first program"]}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATA_DIR": dir + "/data", "CONFIG_DIR": t.TempDir()}
	var stdout, stderr strings.Builder
	if err := runImportMCP(context.Background(), []string{"--format", "mcp-memory", "--tenant", "acme", file},
		func(k string) string { return env[k] }, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if got := strings.TrimSpace(stdout.String()); got != `{"entities":1,"observations":0,"relations":0,"skipped":0}` {
		t.Errorf("import printed %s", got)
	}
	cs := mcpOverPipes(t, []string{"--tenant", "acme"}, env)
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "open_nodes", Arguments: map[string]any{"names": []string{"Ada"}}})
	if err != nil || res.IsError {
		t.Fatalf("open_nodes: %v %+v", err, res)
	}
	if b, _ := json.Marshal(res.StructuredContent); !strings.Contains(string(b), "first program") {
		t.Errorf("open_nodes after import = %s", b)
	}
}
