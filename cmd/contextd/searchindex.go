package main

import (
	"fmt"
	"log/slog"

	"github.com/contextd/contextd/sqlite"
)

// SearchIndex is the settings of the embedded store's top-k full-text index
// (sqlite/topk.go).
type SearchIndex struct {
	// SEARCH_INDEX_MIN_CONTEXTS: tenants of at least this many contexts get
	// the index; 0 turns it off (every search on FTS5); default 5000.
	SearchIndexMinContexts int `json:"searchIndexMinContexts"`
	// SEARCH_INDEX_CACHE_MB: bound of the index's decoded posting lists in
	// memory, MiB; default 64.
	SearchIndexCacheMB int `json:"searchIndexCacheMb"`
}

func defaultSearchIndex() SearchIndex {
	return SearchIndex{SearchIndexMinContexts: 5000, SearchIndexCacheMB: 64}
}

var searchIndexSettings = []setting{
	{"SEARCH_INDEX_MIN_CONTEXTS", "search-index-min-contexts", "tenants of at least this many contexts get the top-k search index (0: off)", intSet(func(c *Config) *int { return &c.SearchIndexMinContexts })},
	{"SEARCH_INDEX_CACHE_MB", "search-index-cache-mb", "bound of the top-k search index's posting lists in memory, MiB", intSet(func(c *Config) *int { return &c.SearchIndexCacheMB })},
}

func (s SearchIndex) validate() error {
	switch {
	case s.SearchIndexMinContexts < 0:
		return &configError{"SEARCH_INDEX_MIN_CONTEXTS", fmt.Sprintf("must be 0 (off) or more (got %d)", s.SearchIndexMinContexts)}
	case s.SearchIndexCacheMB < 1 || s.SearchIndexCacheMB > 1<<16:
		return &configError{"SEARCH_INDEX_CACHE_MB", fmt.Sprintf("must be 1..65536 (got %d)", s.SearchIndexCacheMB)}
	}
	return nil
}

// sqliteOptions are the embedded store's options from the configuration.
func sqliteOptions(cfg *Config, logger *slog.Logger) sqlite.Options {
	minContexts := cfg.SearchIndexMinContexts
	if minContexts == 0 {
		minContexts = -1 // off
	}
	return sqlite.Options{CacheSizeMB: cfg.CacheSizeMB, Logger: logger, TopKMinContexts: minContexts, TopKCacheMB: cfg.SearchIndexCacheMB,
		EncryptionKey: cfg.keys().StoreKey(), VectorIndexMB: cfg.VectorIndexMB, VectorIndexPacked: cfg.VectorIndexPacked}
}
