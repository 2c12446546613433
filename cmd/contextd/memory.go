package main

import (
	"fmt"
	"log/slog"
	"runtime/debug"
)

// Memory is the settings bounding the server's memory besides the embedded
// store's page cache (CACHE_SIZE_MB) and the top-k index's lists
// (SEARCH_INDEX_CACHE_MB). See docs/performance.md, "Resident memory".
type Memory struct {
	// VECTOR_INDEX_MB: bound of the embedded store's in-memory index of
	// semantic search, all tenants together, MiB; default 512.
	VectorIndexMB int `json:"vectorIndexMb"`
	// VECTOR_INDEX_PACKED: tenants of 20k vectors or more hold 4-bit
	// vectors and read the best candidates back from the store for exact
	// scores (less memory, slower semantic search on an uncached file);
	// default false.
	VectorIndexPacked bool `json:"vectorIndexPacked"`
}

func defaultMemory() Memory { return Memory{VectorIndexMB: 512} }

var memorySettings = []setting{
	{"VECTOR_INDEX_MB", "vector-index-mb", "bound of the embedded store's in-memory semantic search index, all tenants together, MiB", intSet(func(c *Config) *int { return &c.VectorIndexMB })},
	{"VECTOR_INDEX_PACKED", "vector-index-packed", "tenants of 20k vectors or more hold 4-bit vectors in memory and read the best candidates back from the store", boolSet(func(c *Config) *bool { return &c.VectorIndexPacked })},
}

func (m Memory) validate() error {
	if m.VectorIndexMB < 16 || m.VectorIndexMB > 1<<20 {
		return &configError{"VECTOR_INDEX_MB", fmt.Sprintf("must be 16..1048576 (got %d)", m.VectorIndexMB)}
	}
	return nil
}

// goHeapSlackMB is the Go memory the soft limit allows beyond the budgets of
// the caches held in Go's heap: requests, responses, the embedder's table,
// the top-k index's merges.
const goHeapSlackMB = 192

// goMemoryLimit is the soft memory limit of the Go runtime that serve sets
// from the configured budgets when GOMEMLIMIT is not set: the vector index
// and the top-k lists (both in Go's heap) plus goHeapSlackMB. SQLite's page
// cache is not Go memory (it has its own bound). 0 when GOMEMLIMIT is set.
func goMemoryLimit(cfg *Config, getenv func(string) string) int64 {
	if getenv("GOMEMLIMIT") != "" {
		return 0
	}
	mb := cfg.SearchIndexCacheMB + goHeapSlackMB
	if cfg.Store == "sqlite" {
		mb += cfg.VectorIndexMB
	} else {
		mb += 1024 // the Neo4j store's vector index is bounded by its vector count
	}
	return int64(mb) << 20
}

// setGoMemoryLimit applies goMemoryLimit, so that the heap does not grow to
// twice its live size (GOGC=100) before a collection when that would pass
// the budgets. It is a soft limit: a live heap above it is not an error,
// the collector only runs more often.
func setGoMemoryLimit(cfg *Config, getenv func(string) string, logger *slog.Logger) {
	if limit := goMemoryLimit(cfg, getenv); limit > 0 {
		debug.SetMemoryLimit(limit)
		logger.Info("Go memory limit set from the budgets", "limitMiB", limit>>20, "vectorIndexMiB", cfg.VectorIndexMB,
			"searchIndexCacheMiB", cfg.SearchIndexCacheMB)
	}
}
