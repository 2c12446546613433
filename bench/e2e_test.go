package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/bench"
	"github.com/contextd/contextd/embed"
	"github.com/contextd/contextd/httpapi"
	"github.com/contextd/contextd/sqlite"
)

// startServer serves the v1 API on an embedded store in a temporary
// directory, on a loopback port, and returns its URL, an admin key and the
// directory.
func startServer(t *testing.T) (url, key, dir string) {
	t.Helper()
	return startServerWith(t, nil)
}

// startServerWith is startServer with an embedder (nil: none).
func startServerWith(t *testing.T, e contextd.Embedder) (url, key, dir string) {
	t.Helper()
	ctx := context.Background()
	dir = t.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := sqlite.Open(ctx, dir, sqlite.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc := contextd.NewService(store)
	if e != nil {
		svc.SetEmbedder(e)
	}
	_, key, err = svc.NewAPIKey(ctx, contextd.KeyCreate{Tenant: "default", Role: contextd.RoleAdmin, Name: "bench"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpapi.NewHandler(httpapi.Config{Service: svc, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL, key, dir
}

// report is the part of the --json report the test reads.
type report struct {
	Fills []struct {
		Kind  string `json:"kind"`
		Items int64  `json:"items"`
		Batch struct {
			Errors map[string]int64 `json:"errors"`
		} `json:"batch"`
	} `json:"fills"`
	Phases []struct {
		Scenario    string `json:"scenario"`
		Concurrency int    `json:"concurrency"`
		Operations  []struct {
			Op     string           `json:"op"`
			Count  int64            `json:"count"`
			Errors map[string]int64 `json:"errors"`
			P50Ms  float64          `json:"p50Ms"`
			P99Ms  float64          `json:"p99Ms"`
		} `json:"operations"`
		Server struct {
			ResidentBytes int64 `json:"residentBytes"`
			StoreBytes    int64 `json:"storeBytes"`
			Contexts      int64 `json:"contexts"`
		} `json:"server"`
	} `json:"phases"`
}

func TestBenchSemanticScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: loads a server for a few seconds")
	}
	emb, err := embed.NewBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	url, key, dir := startServerWith(t, emb)
	out := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	err = bench.RunEnv(t.Context(), []string{
		"--url", url, "--fill", "300", "--scenario", "semantic,hybrid", "--concurrency", "2",
		"--duration", "300ms", "--warmup", "0", "--data-dir", dir, "--json", out,
	}, func(k string) string {
		if k == "CONTEXTD_API_KEY" {
			return key
		}
		return ""
	}, &stdout, &stderr)
	t.Logf("stdout:\n%s", stdout.String())
	if err != nil {
		t.Fatalf("bench: %v\nstderr:\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Phases) != 2 || rep.Phases[0].Scenario != "semantic" || rep.Phases[1].Scenario != "hybrid" {
		t.Fatalf("phases %+v, want semantic then hybrid", rep.Phases)
	}
	for _, p := range rep.Phases {
		if len(p.Operations) != 1 || p.Operations[0].Op != p.Scenario {
			t.Fatalf("%s: operations %+v", p.Scenario, p.Operations)
		}
		if o := p.Operations[0]; o.Count == 0 || len(o.Errors) > 0 || o.P50Ms <= 0 {
			t.Errorf("%s: %+v, want requests without errors", p.Scenario, o)
		}
	}
}

func TestBenchEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: loads a server for a few seconds")
	}
	url, key, dir := startServer(t)
	out := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	err := bench.RunEnv(t.Context(), []string{
		"--url", url, "--fill", "2000", "--scenario", "all,search@1", "--concurrency", "2",
		"--duration", "500ms", "--warmup", "0", "--data-dir", dir, "--json", out,
	}, func(k string) string {
		if k == "CONTEXTD_API_KEY" {
			return key
		}
		return ""
	}, &stdout, &stderr)
	t.Logf("stdout:\n%s", stdout.String())
	if err != nil {
		t.Fatalf("bench: %v\nstderr:\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Fills) == 0 || rep.Fills[0].Kind != "contexts" || rep.Fills[0].Items != 2000 || len(rep.Fills[0].Batch.Errors) > 0 {
		t.Errorf("fill: %+v, want 2000 contexts without errors", rep.Fills)
	}
	want := []string{"health", "create", "get", "update", "list", "search", "memory-write", "memory-search", "graph", "mixed", "search"}
	if len(rep.Phases) != len(want) {
		t.Fatalf("%d phases, want %d", len(rep.Phases), len(want))
	}
	for i, p := range rep.Phases {
		wantConc := 2
		if i == len(want)-1 {
			wantConc = 1 // search@1
		}
		if p.Scenario != want[i] || p.Concurrency != wantConc {
			t.Errorf("phase %d is %s at %d, want %s at %d", i, p.Scenario, p.Concurrency, want[i], wantConc)
		}
		if len(p.Operations) == 0 {
			t.Errorf("%s: no operations", p.Scenario)
		}
		for _, o := range p.Operations {
			if o.Count == 0 || len(o.Errors) > 0 || o.P50Ms <= 0 || o.P99Ms < o.P50Ms {
				t.Errorf("%s/%s: %+v, want requests without errors", p.Scenario, o.Op, o)
			}
		}
		if p.Server.ResidentBytes <= 0 || p.Server.StoreBytes <= 0 || p.Server.Contexts < 2000 {
			t.Errorf("%s: server %+v, want its memory, store size and at least 2000 contexts", p.Scenario, p.Server)
		}
	}
	mixed := rep.Phases[len(rep.Phases)-2]
	if len(mixed.Operations) < 5 {
		t.Errorf("mixed ran %d operations, want a blend", len(mixed.Operations))
	}
	if !strings.Contains(stdout.String(), "p99 ms") {
		t.Errorf("no table on stdout:\n%s", stdout.String())
	}
}

func TestBenchFlags(t *testing.T) {
	env := func(string) string { return "" }
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--scenario", "get"}, "--api-key"},
		{[]string{"--api-key", "k", "--scenario", "nope"}, "unknown scenario"},
		{[]string{"--api-key", "k", "--scenario", "get", "--concurrency", "0"}, "--concurrency"},
		{[]string{"--api-key", "k", "--scenario", "get", "--batch", "1001"}, "--batch"},
		{[]string{"--api-key", "k", "--scenario", "get", "--url", "http://192.0.2.1:3000"}, "--allow-remote"},
		{[]string{"--api-key", "k", "--scenario", ","}, "nothing to do"},
		{[]string{"--api-key", "k", "--scenario", "search@x"}, "after @"},
		{[]string{"--api-key", "k", "extra"}, "no arguments"},
	} {
		var stderr bytes.Buffer
		err := bench.RunEnv(t.Context(), tc.args, env, io.Discard, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one mentioning %s", tc.args, err, tc.want)
		}
	}
}
