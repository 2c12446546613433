package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/cache"
	"github.com/contextd/contextd/httpapi"
	"github.com/prometheus/client_golang/prometheus"
)

// cacheMode is the read cache CACHE asks for: its value, else redis when
// REDIS_URL is set, else off. CACHE_TTL=0 turns it off.
func cacheMode(cfg *Config) string {
	switch {
	case cfg.CacheTTL == 0:
		return "off"
	case cfg.Cache != "":
		return cfg.Cache
	case cfg.RedisURL != "":
		return "redis"
	}
	return "off"
}

// cachePrefix names the store in Redis keys, so deployments sharing one
// Redis never read each other's entries: the Neo4j address, database and
// namespace, or the host and folder of the embedded store.
func cachePrefix(cfg *Config) string {
	id := cfg.Store + "\x00"
	if cfg.Store == "neo4j" {
		id += cfg.Neo4jURI + "\x00" + cfg.Neo4jDatabase + "\x00" + cfg.Neo4jNamespace
	} else {
		host, _ := os.Hostname()
		dir, err := filepath.Abs(cfg.DataDir)
		if err != nil {
			dir = cfg.DataDir
		}
		id += host + "\x00" + dir
	}
	sum := sha256.Sum256([]byte(id))
	return "cxd:" + hex.EncodeToString(sum[:6]) + ":"
}

// withCache puts the configured read cache in front of s. It returns the
// store to serve, a readiness check of the cache (nil when there is none to
// check) and a function releasing the cache (not s).
func withCache(ctx context.Context, cfg *Config, s contextd.Store, reg prometheus.Registerer, logger *slog.Logger) (contextd.Store, func(context.Context) error, func(), error) {
	mode := cacheMode(cfg)
	if mode == "off" {
		return s, nil, func() {}, nil
	}
	var backend cache.Backend
	var check func(context.Context) error
	switch mode {
	case "memory":
		backend = cache.NewMemory(int64(cfg.CacheMemoryMB) << 20)
		if cfg.Store == "neo4j" {
			logger.Warn("CACHE=memory serves one process: with several contextd replicas on this Neo4j, use CACHE=redis or CACHE=off")
		}
	case "redis":
		r, err := cache.NewRedis(ctx, cache.RedisOptions{URL: cfg.RedisURL, Prefix: cachePrefix(cfg),
			WriteLease: max(2*time.Minute, 2*time.Duration(cfg.RequestTimeout))})
		if err != nil {
			return nil, nil, nil, &configError{"REDIS_URL", err.Error()}
		}
		backend, check = r, r.Ping
	}
	var rec cache.Recorder
	if reg != nil && cfg.MetricsCollection {
		m, err := httpapi.NewCacheMetrics(reg)
		if err != nil {
			backend.Close()
			return nil, nil, nil, err
		}
		rec = m
	}
	logger.Info("read cache on", "cache", mode, "ttl", time.Duration(cfg.CacheTTL).String())
	c := cache.Wrap(s, backend, cache.Options{TTL: time.Duration(cfg.CacheTTL), Recorder: rec, Logger: logger})
	return c, check, func() { backend.Close() }, nil
}
