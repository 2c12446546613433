package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/httpapi"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// instrumented wraps the env's store with every store metric.
func instrumented(t testing.TB) func(*envOptions) {
	return func(o *envOptions) {
		s, err := httpapi.InstrumentStore(o.store, o.reg)
		if err != nil {
			t.Fatal(err)
		}
		o.store = s
	}
}

// scrape reads /metrics into metric families.
func (e *testEnv) scrape(cred string, hdr ...string) (map[string]*dto.MetricFamily, string) {
	e.t.Helper()
	w := e.do(get, "/metrics", "", cred, hdr...)
	if w.Code != 200 {
		e.t.Fatalf("/metrics: %d %s", w.Code, w.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(w.Body.String()))
	if err != nil {
		e.t.Fatalf("/metrics is not the Prometheus text format: %v", err)
	}
	return fams, w.Body.String()
}

// value returns the value of the sample of family name whose labels include
// labels ("k=v" pairs); NaN when there is none.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := fams[name]
	if f == nil {
		return math.NaN()
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for _, kv := range labels {
			k, v, _ := strings.Cut(kv, "=")
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
	}
	return math.NaN()
}

// TestMetricsAfterWorkload runs a scripted workload and finds every family
// of the issue with the values the workload implies.
func TestMetricsAfterWorkload(t *testing.T) {
	e := newEnv(t, instrumented(t), withConfig(func(c *httpapiConfig) {
		c.Limiter = &fakeLimiter{deny: map[string]bool{"k:tenant-b/": true}}
	}))
	a := e.create("/v1/contexts", `{"title":"alpha","content":"replication of the write ahead log"}`, "writer")
	b := e.create("/v1/contexts", `{"title":"beta","content":"log shipping","relationships":[{"type":"RELATES_TO","targetId":"`+a+`"}]}`, "writer")
	e.mustJSON(201, post, "/v1/contexts/batch", `{"items":[{"title":"gamma log"},{"title":"delta"}]}`, "writer")
	rel := e.create("/v1/contexts/"+a+"/relationships", `{"type":"FOLLOWS","targetId":"`+b+`"}`, "writer")
	e.mustJSON(204, del, "/v1/relationships/"+rel, "", "writer")
	e.mustJSON(204, del, "/v1/contexts/"+b, "", "writer")
	e.mustJSON(201, post, "/v1/memories/batch", `{"items":[{"type":"fact","content":"likes tea","sessionId":"s1"},{"type":"fact","content":"likes coffee","sessionId":"s1"}]}`, "writer")
	mem := e.create("/v1/memories", `{"type":"fact","content":"likes water","sessionId":"s1"}`, "writer")
	e.mustJSON(204, del, "/v1/memories/"+mem, "", "writer")
	found := 0
	for _, q := range []string{"log", "replication"} {
		r := e.mustJSON(200, post, "/v1/search", `{"query":"`+q+`"}`, "reader")
		found += len(r["results"].([]any))
	}
	r := e.mustJSON(200, get, "/v1/search?q=delta", "", "reader")
	found += len(r["results"].([]any))
	if found != 4 { // log: alpha, gamma; replication: alpha; delta: delta
		t.Fatalf("the workload's searches found %d results, want 4", found)
	}
	e.mustJSON(200, post, "/v1/memories/search", `{"query":"likes","sessionId":"s1"}`, "reader")
	e.do(post, "/v1/search", `{"query":"x","mode":"semantic"}`, "reader") // refused by the Service: no embedder
	e.do(get, "/v1/contexts/missing", "", "reader")                       // 404 from the store
	e.do(get, "/v1/contexts", "", "")                                     // 401 missing
	e.do(get, "/v1/contexts", "", "raw:Bearer cx_not_a_key")              // 401 invalid
	e.do(get, "/v1/contexts", "", "raw:Basic abc")                        // 401 malformed
	e.do(post, "/v1/contexts", `{"title":"no"}`, "reader")                // 403
	e.do(get, "/v1/contexts", "", "writerB")                              // 429
	e.do(get, "/health", "", "")

	fams, body := e.scrape("")
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"contextd_contexts_created_total", nil, 4},
		{"contextd_contexts_deleted_total", nil, 1},
		{"contextd_relationships_created_total", nil, 2},
		{"contextd_relationships_deleted_total", nil, 1},
		{"contextd_memories_created_total", nil, 3},
		{"contextd_memories_deleted_total", nil, 1},
		{"contextd_searches_total", []string{"mode=fulltext"}, 3},
		{"contextd_searches_total", []string{"mode=memory"}, 1},
		{"contextd_searches_total", []string{"mode=semantic"}, 0},
		{"contextd_search_results_total", []string{"mode=fulltext"}, 4},
		{"contextd_search_results_total", []string{"mode=memory"}, 2},
		{"contextd_auth_failures_total", []string{"reason=missing"}, 1},
		{"contextd_auth_failures_total", []string{"reason=invalid_token"}, 1},
		{"contextd_auth_failures_total", []string{"reason=malformed"}, 1},
		{"contextd_auth_failures_total", []string{"reason=forbidden"}, 1},
		{"contextd_rate_limited_requests_total", nil, 1},
		{"contextd_http_requests_total", []string{"route=/v1/contexts", "method=POST", "status=201"}, 2},
		// The gateway refuses credentials before routing: such answers have no route.
		{"contextd_http_requests_total", []string{"route=/v1/contexts", "method=GET", "status=401"}, 3},
		{"contextd_http_requests_total", []string{"route=/health", "status=200"}, 1},
		{"contextd_http_request_duration_seconds", []string{"route=/v1/search", "method=POST"}, 3},
		{"contextd_store_operation_duration_seconds", []string{"op=create_contexts"}, 3},
		{"contextd_store_operation_duration_seconds", []string{"op=search_contexts"}, 3},
		{"contextd_store_errors_total", []string{"op=get_context", "code=not_found"}, 1},
		{"contextd_build_info", []string{"version=test"}, 1},
	} {
		if got := value(fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// Gauges read from the store on scrape, and the runtime.
	for _, name := range []string{"contextd_store_size_bytes", "contextd_store_index_size_bytes", "contextd_store_read_connections",
		"contextd_store_write_queue_capacity", "contextd_store_write_transactions_total", "contextd_store_write_jobs_total", "go_goroutines", "process_resident_memory_bytes"} {
		if got := value(fams, name); !(got > 0) {
			t.Errorf("%s = %v, want > 0", name, got)
		}
	}
	for _, name := range []string{"contextd_store_read_connections_in_use", "contextd_store_write_queue_length", "contextd_store_transaction_retries_total"} {
		if math.IsNaN(value(fams, name)) {
			t.Errorf("%s missing", name)
		}
	}
	// Bounded labels: no tenant and no id anywhere.
	for _, leak := range []string{"tenant-a", "tenant-b", a, b, rel, mem, "s1"} {
		if strings.Contains(body, leak) {
			t.Errorf("/metrics holds %q", leak)
		}
	}
}

func TestMetricsTokenAndSwitch(t *testing.T) {
	e := newEnv(t, withConfig(func(c *httpapiConfig) { c.MetricsToken = "scrape-secret" }))
	for _, cred := range []string{"", "raw:Bearer wrong", "raw:Basic scrape-secret"} {
		w := e.do(get, "/metrics", "", cred)
		if w.Code != 401 || w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("/metrics with %q: %d", cred, w.Code)
		}
		checkProblem(t, w)
	}
	fams, _ := e.scrape("raw:Bearer scrape-secret")
	if got := value(fams, "contextd_auth_failures_total", "reason=metrics_token"); got != 3 {
		t.Errorf("metrics token failures: %v", got)
	}

	off := newEnv(t, withConfig(func(c *httpapiConfig) { c.DisableMetrics = true }))
	if w := off.do(get, "/metrics", "", ""); w.Code != 404 {
		t.Errorf("/metrics switched off: %d", w.Code)
	}
}

// fakeMonitor is a Monitor with fixed answers.
type fakeMonitor struct{ alerts []contextd.Alert }

func (m *fakeMonitor) Alerts(f contextd.AlertFilter) ([]contextd.Alert, string) {
	var out []contextd.Alert
	for _, a := range m.alerts {
		if f.Status == "" || a.Status == f.Status {
			out = append(out, a)
		}
	}
	return out, ""
}

func (m *fakeMonitor) SystemStats(context.Context) contextd.SystemStats {
	return contextd.SystemStats{ResidentBytes: 123 << 20, MemoryLimitBytes: 4 << 30, CPUSeconds: 1.5, CPUPercent: 12,
		DiskPath: "/data", DiskTotalBytes: 100 << 30, DiskFreeBytes: 40 << 30, DiskReadBytes: 7, DiskWriteBytes: 8,
		NetReceiveBytes: 9, NetTransmitBytes: 10}
}

func TestHealthDetailsAndAlerts(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	mon := &fakeMonitor{alerts: []contextd.Alert{
		{ID: "02", Rule: "store_unreachable", Severity: contextd.SeverityCritical, Status: contextd.AlertFiring, Summary: "down", StartsAt: now, UpdatedAt: now},
		{ID: "01", Rule: "started", Severity: contextd.SeverityInfo, Status: contextd.AlertEvent, Summary: "up", StartsAt: now, UpdatedAt: now},
	}}
	reqs := httpapi.NewRequestStats(0, nil)
	e := newEnv(t, instrumented(t), withConfig(func(c *httpapiConfig) { c.Monitor = mon; c.RequestStats = reqs }))
	e.create("/v1/contexts", `{"title":"x"}`, "writer")
	e.do(get, "/health", "", "") // a probe: not in the window

	d := e.mustJSON(200, get, "/health/details", "", "admin")
	var body struct {
		Memory struct{ ResidentBytes, LimitBytes, SysBytes int64 }
		CPU    struct{ Seconds, Percent float64 }
		Disk   struct {
			Path                  string
			FreeBytes, TotalBytes int64
		}
		Network  struct{ ReceiveBytes int64 }
		Requests contextd.RequestSummary
		Store    contextd.StoreStats
		Alerts   struct{ Firing, Critical int }
	}
	b, _ := json.Marshal(d)
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatal(err)
	}
	if body.Memory.ResidentBytes != 123<<20 || body.Memory.SysBytes == 0 || body.CPU.Percent != 12 || body.Disk.Path != "/data" ||
		body.Disk.FreeBytes != 40<<30 || body.Network.ReceiveBytes != 9 || body.Alerts.Firing != 1 || body.Alerts.Critical != 1 {
		t.Errorf("details from the monitor: %s", b)
	}
	if body.Store.Kind != "sqlite" || body.Store.SizeBytes <= 0 || body.Store.IndexSizeBytes <= 0 || body.Store.ReadConns == 0 {
		t.Errorf("store stats (through the decorator): %+v", body.Store)
	}
	// Key creation (5 keys, before the handler) is not a request; the create
	// and this details request are, minus the probe: 1 done when computed.
	if body.Requests.Requests != 1 || body.Requests.WindowSeconds <= 0 || body.Requests.P99Ms <= 0 {
		t.Errorf("requests: %+v", body.Requests)
	}

	l := e.mustJSON(200, get, "/v1/admin/alerts", "", "admin")
	if items := l["items"].([]any); len(items) != 2 || items[0].(map[string]any)["rule"] != "store_unreachable" {
		t.Errorf("alerts: %v", l)
	}
	l = e.mustJSON(200, get, "/v1/admin/alerts?status=event", "", "admin")
	if items := l["items"].([]any); len(items) != 1 || items[0].(map[string]any)["severity"] != "info" {
		t.Errorf("events: %v", l)
	}
	if w := e.do(get, "/v1/admin/alerts", "", "writer"); w.Code != 403 {
		t.Errorf("alerts for a writer: %d", w.Code)
	}
	if w := e.do(get, "/v1/admin/alerts?status=bogus", "", "admin"); w.Code != 422 && w.Code != 400 {
		t.Errorf("bad status: %d", w.Code)
	}

	// Without a monitor: an empty list, and details say what is missing.
	plain := newEnv(t)
	if l := plain.mustJSON(200, get, "/v1/admin/alerts", "", "admin"); fmt.Sprint(l["items"]) != "[]" {
		t.Errorf("alerts without a monitor: %v", l)
	}
	d = plain.mustJSON(200, get, "/health/details", "", "admin")
	if !strings.Contains(fmt.Sprint(d["notes"]), "no health monitor") || d["store"].(map[string]any)["sizeBytes"].(float64) <= 0 {
		t.Errorf("details without a monitor: %v", d)
	}
}

func TestRequestStats(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	r := httpapi.NewRequestStats(time.Minute, clock)
	if s := r.Summary(0); s.Requests != 0 || s.ErrorRate != 0 || s.P99Ms != 0 {
		t.Fatalf("empty: %+v", s)
	}
	for i := 1; i <= 1000; i++ { // 1..1000 ms, every tenth one a 500
		status := 200
		if i%10 == 0 {
			status = 500
		}
		r.Observe(status, time.Duration(i)*time.Millisecond)
	}
	advance(15 * time.Second)
	s := r.Summary(0)
	if s.Requests != 1000 || s.Errors != 100 || s.ErrorRate != 0.1 {
		t.Fatalf("counts: %+v", s)
	}
	for _, c := range []struct{ got, want float64 }{{s.P50Ms, 500}, {s.P95Ms, 950}, {s.P99Ms, 990}} {
		if c.got < c.want || c.got > c.want*1.13 {
			t.Errorf("percentile %v, want %v within 12.5%%: %+v", c.got, c.want, s)
		}
	}
	if s.WindowSeconds != 15 || s.RequestsPerSecond < 66 || s.RequestsPerSecond > 67 { // since the stats began
		t.Errorf("window: %+v", s)
	}
	if s := r.Summary(10 * time.Second); s.Requests != 0 {
		t.Errorf("a 10 s window holds only the current slot: %+v", s)
	}
	r.Observe(200, 300*time.Microsecond)
	advance(50 * time.Second) // the first thousand leave the window
	if s := r.Summary(0); s.Requests != 1 || s.Errors != 0 || s.P50Ms < 0.3 || s.P50Ms > 0.34 || s.WindowSeconds != 55 {
		t.Errorf("after a minute: %+v", s)
	}
	advance(time.Hour)
	if s := r.Summary(0); s.Requests != 0 {
		t.Errorf("after an hour: %+v", s)
	}
}

// TestTracing follows one request into a server span with the request id
// and a child span per store call, continuing the caller's trace.
func TestTracing(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	e := newEnv(t, func(o *envOptions) {
		s, err := httpapi.InstrumentStoreWith(o.store, httpapi.StoreInstrumentation{TracerProvider: tp})
		if err != nil {
			t.Fatal(err)
		}
		o.store = s
		o.cfg.TracerProvider = tp
	})
	id := e.create("/v1/contexts", `{"title":"traced"}`, "writer")
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	w := e.do(get, "/v1/contexts/"+id, "", "reader", "X-Request-ID", "req-trace-1", "traceparent", parent)
	if w.Code != 200 {
		t.Fatalf("get: %d", w.Code)
	}
	var server, store sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
			continue
		}
		switch s.Name() {
		case "GET /v1/contexts/{id}":
			server = s
		case "store.get_context":
			store = s
		}
	}
	if server == nil || store == nil {
		var names []string
		for _, s := range rec.Ended() {
			names = append(names, s.Name())
		}
		t.Fatalf("spans of the traced request missing: %v", names)
	}
	attrs := map[string]string{}
	for _, kv := range server.Attributes() {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	if attrs["contextd.request_id"] != "req-trace-1" || attrs["http.route"] != "/v1/contexts/{id}" ||
		attrs["http.response.status_code"] != "200" || server.Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("server span: %v, parent %v", attrs, server.Parent().SpanID())
	}
	if store.Parent().SpanID() != server.SpanContext().SpanID() {
		t.Errorf("the store span is not a child of the request's")
	}
	if !strings.Contains(e.logs.String(), "traceId=4bf92f3577b34da6a3ce929d0e0e4736") {
		t.Errorf("the access log has no trace id: %s", e.logs)
	}
}

func TestCacheMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := httpapi.NewCacheMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := httpapi.NewCacheMetrics(reg); err != nil || again == nil {
		t.Fatalf("a second registration: %v", err)
	}
	m.CacheResult("get_context", "hit")
	m.CacheResult("get_context", "hit")
	m.CacheResult("get_context", "miss")
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP contextd_cache_requests_total Cacheable store reads by operation and result (hit, miss, bypass, error); the hit rate is hit / sum.
# TYPE contextd_cache_requests_total counter
contextd_cache_requests_total{op="get_context",result="hit"} 2
contextd_cache_requests_total{op="get_context",result="miss"} 1
`), "contextd_cache_requests_total"); err != nil {
		t.Fatal(err)
	}
}
