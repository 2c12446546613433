package httpapi

import (
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The request metrics of a route, method and status are looked up once and
// kept: WithLabelValues hashes its label values and formats the status on
// every call, which the gateway would pay on every request.

// routeKey is a series of contextd_http_requests_total; the duration
// histogram's series is the same without the status.
type routeKey struct {
	route, method string
	status        int
}

type routeSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// maxSeriesCache bounds the kept series. Labels are bounded already (route
// patterns, known methods, statuses); past the bound they are looked up
// each time, as before.
const maxSeriesCache = 4096

type seriesCache struct {
	mu sync.RWMutex
	m  map[routeKey]routeSeries
}

// observe counts one request and its duration.
func (m *httpMetrics) observe(route, method string, status int, d time.Duration) {
	k := routeKey{route, method, status}
	m.series.mu.RLock()
	rs, ok := m.series.m[k]
	m.series.mu.RUnlock()
	if !ok {
		rs = routeSeries{
			requests: m.requests.WithLabelValues(route, method, strconv.Itoa(status)),
			duration: m.duration.WithLabelValues(route, method),
		}
		m.series.mu.Lock()
		if m.series.m == nil {
			m.series.m = map[routeKey]routeSeries{}
		}
		if len(m.series.m) < maxSeriesCache {
			m.series.m[k] = rs
		}
		m.series.mu.Unlock()
	}
	rs.requests.Inc()
	rs.duration.Observe(d.Seconds())
}

// traceAttr is the access log's traceId, or nothing for an untraced
// request (handlers drop an empty Attr).
func traceAttr(traceID string) slog.Attr {
	if traceID == "" {
		return slog.Attr{}
	}
	return slog.String("traceId", traceID)
}

// The values of the headers every response carries, shared by all
// responses. A header's value slice is replaced (Set) or grown (Add, which
// copies a full slice) by net/http and by handlers, never written in place,
// so sharing them is safe; the capacity of 1 makes an Add copy.
var (
	hdrNosniff     = []string{"nosniff"}[:1:1]
	hdrDeny        = []string{"DENY"}[:1:1]
	hdrNoReferrer  = []string{"no-referrer"}[:1:1]
	hdrSameOrigin  = []string{"same-origin"}[:1:1]
	hdrPermissions = []string{"camera=(), microphone=(), geolocation=()"}[:1:1]
	hdrHSTS        = []string{"max-age=31536000; includeSubDomains"}[:1:1]
	hdrAPICSP      = []string{apiCSP}[:1:1]
	hdrNoStore     = []string{"no-store"}[:1:1]
)
