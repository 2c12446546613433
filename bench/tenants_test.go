package bench_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/bench"
	"github.com/contextd/contextd/httpapi"
	"github.com/contextd/contextd/sqlite"
)

// TestBenchTenants runs a multi-tenant fill and search: the contexts are
// dealt out over the tenants, each reached with its own JWT.
func TestBenchTenants(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc := contextd.NewService(store)
	_, key, err := svc.NewAPIKey(ctx, contextd.KeyCreate{Tenant: "default", Role: contextd.RoleAdmin, Name: "bench"})
	if err != nil {
		t.Fatal(err)
	}
	const secret = "a-test-secret-of-at-least-32-bytes!!"
	h, err := httpapi.NewHandler(httpapi.Config{Service: svc, Logger: logger, JWTSecret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	var stdout, stderr bytes.Buffer
	err = bench.RunEnv(t.Context(), []string{"--url", srv.URL, "--api-key", key, "--tenants", "3", "--fill", "600", "--batch", "100",
		"--scenario", "search,create", "--concurrency", "2", "--duration", "300ms", "--warmup", "0"},
		func(k string) string {
			if k == "JWT_SECRET" {
				return secret
			}
			return ""
		}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("bench: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	for i := 1; i <= 3; i++ {
		tenant := "bench-000" + string(rune('0'+i))
		st, err := store.IndexStats(ctx, contextd.Scope{Tenant: tenant})
		if err != nil {
			t.Fatal(err)
		}
		if st.Documents < 200 {
			t.Errorf("%s holds %d contexts, want at least its 200 of the fill", tenant, st.Documents)
		}
	}
	if st, _ := store.IndexStats(ctx, contextd.Scope{Tenant: "default"}); st.Documents != 0 {
		t.Errorf("the key's own tenant got %d contexts", st.Documents)
	}

	// Scenarios that need existing ids are refused with --tenants.
	err = bench.RunEnv(t.Context(), []string{"--url", srv.URL, "--api-key", key, "--tenants", "3", "--jwt-secret", secret, "--scenario", "get"},
		func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "supports search, create and health") {
		t.Errorf("--tenants with get: %v", err)
	}
}
