package monitor_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/monitor"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeStore answers Ping with err, and Check with report when set.
type fakeStore struct {
	contextd.Store
	mu     sync.Mutex
	err    error
	report *contextd.CheckReport
	checks int
	opts   contextd.CheckOptions // of the last check
}

func (s *fakeStore) Kind() string { return "fake" }

func (s *fakeStore) Ping(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *fakeStore) setErr(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

func (s *fakeStore) setReport(r *contextd.CheckReport) {
	s.mu.Lock()
	s.report = r
	s.mu.Unlock()
}

func (s *fakeStore) Check(_ context.Context, opts contextd.CheckOptions) (*contextd.CheckReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks++
	s.opts = opts
	if s.report == nil {
		return &contextd.CheckReport{OK: true}, nil
	}
	return s.report, nil
}

// receiver is a webhook endpoint that records what it is sent, failing the
// first fail requests with 500.
type receiver struct {
	url  string
	ch   chan []byte
	fail atomic.Int32
	hits atomic.Int32
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{ch: make(chan []byte, 100)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
			t.Errorf("webhook got %s with %q", req.Method, req.Header.Get("Content-Type"))
		}
		if r.fail.Load() > 0 {
			r.fail.Add(-1)
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		b, _ := io.ReadAll(req.Body)
		r.ch <- b
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

func (r *receiver) next(t *testing.T) []byte {
	t.Helper()
	select {
	case b := <-r.ch:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("no notification arrived")
		return nil
	}
}

// webhook returns the next generic notification.
func (r *receiver) webhook(t *testing.T) monitor.WebhookPayload {
	t.Helper()
	var p monitor.WebhookPayload
	if err := json.Unmarshal(r.next(t), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// alertmanager returns the next Alertmanager post.
func (r *receiver) alertmanager(t *testing.T) []monitor.AlertmanagerAlert {
	t.Helper()
	var l []monitor.AlertmanagerAlert
	if err := json.Unmarshal(r.next(t), &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// summary is a fixed request summary.
type summary struct {
	mu sync.Mutex
	s  contextd.RequestSummary
}

func (s *summary) Summary(time.Duration) contextd.RequestSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.s
}

func (s *summary) set(v contextd.RequestSummary) {
	s.mu.Lock()
	s.s = v
	s.mu.Unlock()
}

// system is a settable SystemStats source.
type system struct {
	mu sync.Mutex
	s  contextd.SystemStats
}

func (s *system) get(context.Context) contextd.SystemStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.s
}

func (s *system) set(f func(*contextd.SystemStats)) {
	s.mu.Lock()
	f(&s.s)
	s.mu.Unlock()
}

const gib = 1 << 30

func healthySystem() contextd.SystemStats {
	return contextd.SystemStats{ResidentBytes: 100 << 20, MemoryLimitBytes: 4 * gib, DiskTotalBytes: 100 * gib, DiskFreeBytes: 50 * gib}
}

type fixture struct {
	m     *monitor.Monitor
	clock *clock
	store *fakeStore
	reqs  *summary
	sys   *system
	hook  *receiver
	am    *receiver
}

func newFixture(t *testing.T, edit ...func(*monitor.Config)) *fixture {
	t.Helper()
	f := &fixture{clock: newClock(), store: &fakeStore{}, reqs: &summary{}, sys: &system{s: healthySystem()},
		hook: newReceiver(t), am: newReceiver(t)}
	cfg := monitor.Config{
		Store: f.store, Requests: f.reqs, DataDir: t.TempDir(), Version: "v1.2.3", Interval: time.Minute,
		Webhooks: []string{f.hook.url}, AlertmanagerURL: f.am.url, Instance: "test-1",
		Now: f.clock.Now, System: f.sys.get, RetryBackoff: time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, e := range edit {
		e(&cfg)
	}
	m, err := monitor.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	f.m = m
	return f
}

func TestStoreUnreachableFiresOnceAndResolves(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)

	f.m.Start(ctx)
	if p := f.hook.webhook(t); p.Status != contextd.AlertEvent || p.Alert.Rule != "started" ||
		p.Alert.Severity != contextd.SeverityInfo || !strings.Contains(p.Alert.Summary, "v1.2.3") ||
		p.Source != "contextd" || p.Instance != "test-1" || p.Version != "v1.2.3" {
		t.Fatalf("start-up event: %+v", p)
	}
	if l := f.am.alertmanager(t); len(l) != 1 || l[0].Labels["alertname"] != "started" || l[0].Labels["severity"] != "info" ||
		!l[0].EndsAt.Equal(l[0].StartsAt.Add(time.Hour)) {
		t.Fatalf("start-up event to Alertmanager: %+v", l)
	}

	f.m.Tick(ctx) // healthy: nothing to say

	f.store.setErr(contextd.Errorf(contextd.EUNAVAILABLE, "the store is closed"))
	f.clock.Add(time.Minute)
	f.m.Tick(ctx)
	fired := f.hook.webhook(t)
	a := fired.Alert
	if fired.Status != contextd.AlertFiring || a.Rule != "store_unreachable" || a.Severity != contextd.SeverityCritical ||
		a.Status != contextd.AlertFiring || a.EndsAt != nil || !a.StartsAt.Equal(f.clock.Now()) ||
		!strings.Contains(a.Description, "the store is closed") || a.Labels["store"] != "fake" {
		t.Fatalf("firing: %+v", fired)
	}
	l := f.am.alertmanager(t)
	if len(l) != 1 || l[0].Labels["alertname"] != "store_unreachable" || l[0].Labels["severity"] != "critical" ||
		l[0].Labels["service"] != "contextd" || l[0].Labels["instance"] != "test-1" || l[0].Annotations["summary"] == "" ||
		!l[0].EndsAt.Equal(f.clock.Now().Add(4*time.Minute)) {
		t.Fatalf("firing to Alertmanager: %+v", l)
	}
	if l := f.am.alertmanager(t); len(l) != 1 || l[0].Labels["alertname"] != "store_unreachable" {
		t.Fatalf("the refresh of the tick: %+v", l) // every tick re-sends what fires
	}

	// Still failing: no second webhook notification, a refresh for Alertmanager.
	f.clock.Add(time.Minute)
	f.m.Tick(ctx)
	if l := f.am.alertmanager(t); len(l) != 1 || !l[0].EndsAt.Equal(f.clock.Now().Add(4*time.Minute)) || !l[0].StartsAt.Equal(a.StartsAt) {
		t.Fatalf("refresh: %+v", l)
	}
	active, _ := f.m.Alerts(contextd.AlertFilter{Status: contextd.AlertFiring})
	if len(active) != 1 || active[0].ID != a.ID || !active[0].UpdatedAt.Equal(f.clock.Now()) {
		t.Fatalf("active alerts: %+v", active)
	}

	f.store.setErr(nil)
	f.clock.Add(time.Minute)
	f.m.Tick(ctx)
	resolved := f.hook.webhook(t) // the next webhook notification: none came in between
	r := resolved.Alert
	if resolved.Status != contextd.AlertResolved || r.ID != a.ID || r.EndsAt == nil || !r.EndsAt.Equal(f.clock.Now()) ||
		!r.StartsAt.Equal(a.StartsAt) {
		t.Fatalf("resolved: %+v", resolved)
	}
	if l := f.am.alertmanager(t); len(l) != 1 || !l[0].EndsAt.Equal(f.clock.Now()) {
		t.Fatalf("resolved to Alertmanager: %+v", l)
	}

	// The list: newest first, filters, pages.
	all, next := f.m.Alerts(contextd.AlertFilter{})
	if len(all) != 2 || next != "" || all[0].Rule != "store_unreachable" || all[0].Status != contextd.AlertResolved || all[1].Rule != "started" {
		t.Fatalf("alerts: %+v %q", all, next)
	}
	page, next := f.m.Alerts(contextd.AlertFilter{Limit: 1})
	if len(page) != 1 || next != page[0].ID {
		t.Fatalf("page 1: %+v %q", page, next)
	}
	page, next = f.m.Alerts(contextd.AlertFilter{Limit: 1, Cursor: next})
	if len(page) != 1 || page[0].Rule != "started" || next != "" {
		t.Fatalf("page 2: %+v %q", page, next)
	}
	if l, _ := f.m.Alerts(contextd.AlertFilter{Status: contextd.AlertFiring}); len(l) != 0 {
		t.Fatalf("firing after resolve: %+v", l)
	}

	// It fires again as a new alert.
	f.store.setErr(errors.New("boom"))
	f.m.Tick(ctx)
	if p := f.hook.webhook(t); p.Status != contextd.AlertFiring || p.Alert.ID == a.ID || strings.Contains(p.Alert.Description, "boom") {
		t.Fatalf("second firing (internal errors are not shown): %+v", p)
	}
}

func TestWarningRules(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, func(c *monitor.Config) { c.AlertmanagerURL = "" })

	f.reqs.set(contextd.RequestSummary{WindowSeconds: 300, Requests: 10, Errors: 10, ErrorRate: 1, P99Ms: 5000})
	f.m.Tick(ctx) // too few requests to judge
	f.reqs.set(contextd.RequestSummary{WindowSeconds: 300, Requests: 200, Errors: 20, ErrorRate: 0.1, P50Ms: 3, P95Ms: 900, P99Ms: 2500})
	f.sys.set(func(s *contextd.SystemStats) {
		s.DiskFreeBytes = 5 * gib / 10 // under 1 GiB and 10%
		s.ResidentBytes = 38 * gib / 10
	})
	f.m.Tick(ctx)
	got := map[string]monitor.WebhookPayload{}
	for range 4 {
		p := f.hook.webhook(t)
		got[p.Alert.Rule] = p
	}
	for rule, want := range map[string]string{"error_rate_high": "error rate 10.0%", "latency_high": "p99 latency 2500 ms",
		"disk_space_low": "% full", "memory_high": "resident memory at 95%"} {
		p, ok := got[rule]
		if !ok || p.Status != contextd.AlertFiring || p.Alert.Severity != contextd.SeverityWarning || !strings.Contains(p.Alert.Summary, want) {
			t.Errorf("%s: %+v", rule, p.Alert)
		}
	}

	// The disk fills up: disk_full is critical.
	f.sys.set(func(s *contextd.SystemStats) { s.DiskFreeBytes = 10 << 20 })
	f.m.Tick(ctx)
	if p := f.hook.webhook(t); p.Alert.Rule != "disk_full" || p.Alert.Severity != contextd.SeverityCritical {
		t.Fatalf("disk full: %+v", p)
	}
	if l, _ := f.m.Alerts(contextd.AlertFilter{Status: contextd.AlertFiring}); len(l) != 5 {
		t.Fatalf("firing: %d %+v", len(l), l)
	}

	// Everything recovers; traffic stops: every alert resolves.
	f.reqs.set(contextd.RequestSummary{})
	f.sys.set(func(s *contextd.SystemStats) { *s = healthySystem() })
	f.m.Tick(ctx)
	resolved := map[string]bool{}
	for range 5 {
		p := f.hook.webhook(t)
		if p.Status != contextd.AlertResolved {
			t.Fatalf("not a resolve notice: %+v", p)
		}
		resolved[p.Alert.Rule] = true
	}
	if len(resolved) != 5 {
		t.Fatalf("resolved: %v", resolved)
	}
}

func TestIntegrityRule(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, func(c *monitor.Config) {
		c.AlertmanagerURL = ""
		c.IntegrityInterval = time.Hour
		c.Integrity = contextd.CheckOptions{Full: true, VectorModel: "model-v1", VectorDims: 384}
	})
	f.store.setReport(&contextd.CheckReport{OK: false, Items: []contextd.CheckItem{
		{Name: "contexts_fts rows", OK: false, Detail: "3 rows of contexts are not indexed and 0 indexed rows have no row"},
		{Name: "memories_fts rows", OK: true},
	}})
	f.m.Tick(ctx)
	if o := f.store.opts; o.Full || o.VectorModel != "model-v1" || o.VectorDims != 384 {
		t.Errorf("the scheduled check reads only, with the embedder's model: %+v", o)
	}
	p := f.hook.webhook(t)
	if p.Alert.Rule != "integrity_check_failed" || p.Alert.Severity != contextd.SeverityCritical ||
		!strings.Contains(p.Alert.Description, "contexts_fts rows: 3 rows") || strings.Contains(p.Alert.Description, "memories_fts") {
		t.Fatalf("integrity alert: %+v", p)
	}
	// Not due again for an hour: the verdict holds without checking again.
	f.store.setReport(nil)
	f.clock.Add(30 * time.Minute)
	f.m.Tick(ctx)
	if l, _ := f.m.Alerts(contextd.AlertFilter{Status: contextd.AlertFiring}); len(l) != 1 || f.store.checks != 1 {
		t.Fatalf("between checks: %d checks, firing %+v", f.store.checks, l)
	}
	f.clock.Add(30 * time.Minute)
	f.m.Tick(ctx)
	if p := f.hook.webhook(t); p.Status != contextd.AlertResolved || p.Alert.Rule != "integrity_check_failed" || f.store.checks != 2 {
		t.Fatalf("after a passing check: %d checks, %+v", f.store.checks, p)
	}
}

func TestStartupEvents(t *testing.T) {
	ctx := context.Background()
	state := filepath.Join(t.TempDir(), "monitor-state.json")
	run := func(version, digest string) []string {
		f := newFixture(t, func(c *monitor.Config) {
			c.AlertmanagerURL, c.Version, c.ConfigDigest, c.StateFile = "", version, digest, state
		})
		f.m.Start(ctx)
		f.m.Close()
		var rules []string
		for {
			select {
			case b := <-f.hook.ch:
				var p monitor.WebhookPayload
				json.Unmarshal(b, &p)
				rules = append(rules, p.Alert.Rule+":"+p.Alert.Summary)
			default:
				return rules
			}
		}
	}
	if got := run("v1", "aaa"); len(got) != 1 || got[0] != "started:contextd v1 started" {
		t.Fatalf("first run: %v", got)
	}
	if got := run("v1", "aaa"); len(got) != 1 {
		t.Fatalf("same version and configuration: %v", got)
	}
	got := run("v2", "bbb")
	if len(got) != 3 || got[1] != "version_changed:new version serving: v1 -> v2" || !strings.HasPrefix(got[2], "config_changed:") {
		t.Fatalf("new version and configuration: %v", got)
	}
	if monitor.Digest(map[string]int{"a": 1}) == monitor.Digest(map[string]int{"a": 2}) || len(monitor.Digest(1)) != 16 {
		t.Error("Digest does not tell configurations apart")
	}
}

func TestNotificationRetries(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, func(c *monitor.Config) { c.AlertmanagerURL = "" })
	f.hook.fail.Store(2) // two failures, then success: the third attempt delivers
	f.m.Start(ctx)
	if p := f.hook.webhook(t); p.Alert.Rule != "started" || f.hook.hits.Load() != 3 {
		t.Fatalf("after retries: %d hits, %+v", f.hook.hits.Load(), p)
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := monitor.New(monitor.Config{}); err == nil {
		t.Error("no store accepted")
	}
	for _, c := range []monitor.Config{
		{Store: &fakeStore{}, Webhooks: []string{"ftp://x"}},
		{Store: &fakeStore{}, AlertmanagerURL: "not a url"},
	} {
		if _, err := monitor.New(c); err == nil {
			t.Errorf("accepted %+v", c)
		}
	}
}

func TestRunStopsWithItsContext(t *testing.T) {
	f := newFixture(t, func(c *monitor.Config) { c.Interval = 5 * time.Millisecond; c.AlertmanagerURL = "" })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.m.Run(ctx) }()
	if p := f.hook.webhook(t); p.Alert.Rule != "started" {
		t.Fatalf("%+v", p)
	}
	time.Sleep(20 * time.Millisecond) // a few ticks
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
}
