package main

import "testing"

// TestGoMemoryLimit: the Go runtime's soft limit follows the budgets, and
// GOMEMLIMIT, when set, wins (no limit set by serve).
func TestGoMemoryLimit(t *testing.T) {
	c := defaultConfig()
	cfg := &c
	cfg.Store, cfg.VectorIndexMB, cfg.SearchIndexCacheMB = "sqlite", 300, 50
	none := func(string) string { return "" }
	if got, want := goMemoryLimit(cfg, none), int64(300+50+goHeapSlackMB)<<20; got != want {
		t.Fatalf("limit %d, want %d", got, want)
	}
	set := func(k string) string {
		if k == "GOMEMLIMIT" {
			return "1GiB"
		}
		return ""
	}
	if got := goMemoryLimit(cfg, set); got != 0 {
		t.Fatalf("with GOMEMLIMIT set: limit %d, want 0 (left to the runtime)", got)
	}
	cfg.VectorIndexMB = 8
	if err := cfg.Memory.validate(); err == nil {
		t.Fatal("VECTOR_INDEX_MB 8 accepted")
	}
}
