package httpapi

import "github.com/prometheus/client_golang/prometheus"

// CacheMetrics counts the read cache's outcomes in
// contextd_cache_requests_total{op, result}: result is hit, miss, bypass or
// error (see package cache). It implements cache.Recorder.
type CacheMetrics struct {
	results *prometheus.CounterVec
}

// NewCacheMetrics registers the cache counters on reg (a second call on the
// same registry shares them).
func NewCacheMetrics(reg prometheus.Registerer) (*CacheMetrics, error) {
	c, err := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "contextd_cache_requests_total",
		Help: "Cacheable store reads by operation and result (hit, miss, bypass, error); the hit rate is hit / sum.",
	}, []string{"op", "result"}))
	if err != nil {
		return nil, err
	}
	return &CacheMetrics{results: c}, nil
}

// CacheResult counts one cacheable read.
func (m *CacheMetrics) CacheResult(op, result string) {
	m.results.WithLabelValues(op, result).Inc()
}
