package monitor_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/httpapi"
	"github.com/contextd/contextd/monitor"
	"github.com/contextd/contextd/sqlite"
	"github.com/prometheus/client_golang/prometheus"
)

// faultyStore fails Ping while broken, as a store whose disk or server went
// away would.
type faultyStore struct {
	contextd.Store
	mu     sync.Mutex
	broken bool
}

func (s *faultyStore) Ping(ctx context.Context) error {
	s.mu.Lock()
	broken := s.broken
	s.mu.Unlock()
	if broken {
		return contextd.Errorf(contextd.EUNAVAILABLE, "the database file is unreachable")
	}
	return s.Store.Ping(ctx)
}

func (s *faultyStore) Unwrap() contextd.Store { return s.Store }

func (s *faultyStore) set(broken bool) {
	s.mu.Lock()
	s.broken = broken
	s.mu.Unlock()
}

// TestStoreFailure makes the store fail and recover under the real handler
// and monitor: the readiness probe goes 503, a critical alert reaches the
// webhook, the alert list and the metrics show it, and a resolve notice
// follows the recovery.
// stack is the real handler, store and monitor, wired as serve does.
type stack struct {
	faulty *faultyStore
	mon    *monitor.Monitor
	hook   *receiver
	dir    string // the SQLite store's DATA_DIR
	get    func(path string, auth bool) (int, string)
	metric func(line string) bool
}

func newStack(t *testing.T) *stack {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	faulty := &faultyStore{Store: st}
	reg := prometheus.NewRegistry()
	store, err := httpapi.InstrumentStore(faulty, reg)
	if err != nil {
		t.Fatal(err)
	}
	svc := contextd.NewService(store)
	_, key, err := svc.NewAPIKey(ctx, contextd.KeyCreate{Tenant: "ops", Role: contextd.RoleAdmin, Name: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	reqs := httpapi.NewRequestStats(0, nil)
	hook := newReceiver(t)
	mon, err := monitor.New(monitor.Config{
		Store: store, Requests: reqs, DataDir: dir, Version: "test", Interval: -1, Registry: reg,
		Webhooks: []string{hook.url}, Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mon.Close() })
	h, err := httpapi.NewHandler(httpapi.Config{
		Service: svc, Registry: reg, Logger: quiet, Monitor: mon, RequestStats: reqs, Version: "test",
		Checks: map[string]func(context.Context) error{"store": store.Ping, "disk": monitor.DiskCheck(dir, 1)},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{faulty: faulty, mon: mon, hook: hook, dir: dir}
	s.get = func(path string, auth bool) (int, string) {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if auth {
			r.Header.Set("Authorization", "Bearer "+key)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	s.metric = func(line string) bool {
		t.Helper()
		_, body := s.get("/metrics", false)
		return strings.Contains(body, "\n"+line+"\n")
	}
	return s
}

func TestStoreFailure(t *testing.T) {
	ctx := context.Background()
	s := newStack(t)
	faulty, mon, hook, get, metric := s.faulty, s.mon, s.hook, s.get, s.metric

	if code, body := get("/health/ready", false); code != 200 || !strings.Contains(body, `"disk":{"status":"ok"`) {
		t.Fatalf("ready: %d %s", code, body)
	}
	mon.Tick(ctx) // the first integrity check runs and passes; nothing fires
	if !metric(`contextd_component_up{component="store"} 1`) || !metric("contextd_integrity_check_ok 1") {
		t.Error("metrics of a healthy tick missing")
	}

	faulty.set(true)
	code, body := get("/health/ready", false)
	if code != http.StatusServiceUnavailable {
		t.Fatalf("ready with a failing store: %d %s", code, body)
	}
	var ready struct {
		Status string
		Checks map[string]struct{ Status, Error string }
	}
	if err := json.Unmarshal([]byte(body), &ready); err != nil || ready.Status != "unavailable" ||
		ready.Checks["store"].Status != "unavailable" || ready.Checks["disk"].Status != "ok" {
		t.Fatalf("ready body: %v %s", err, body)
	}

	mon.Tick(ctx)
	fired := hook.webhook(t)
	if fired.Status != contextd.AlertFiring || fired.Alert.Rule != "store_unreachable" ||
		fired.Alert.Severity != contextd.SeverityCritical || !strings.Contains(fired.Alert.Description, "unreachable") {
		t.Fatalf("webhook: %+v", fired)
	}
	code, body = get("/v1/admin/alerts?status=firing", true)
	if code != 200 || !strings.Contains(body, `"id":"`+fired.Alert.ID+`"`) || !strings.Contains(body, `"severity":"critical"`) {
		t.Fatalf("alert list: %d %s", code, body)
	}
	if !metric(`contextd_alerts_firing{severity="critical"} 1`) || !metric(`contextd_component_up{component="store"} 0`) {
		t.Error("metrics of a failing store missing")
	}
	code, body = get("/health/details", true)
	if code != 200 || !strings.Contains(body, `"critical":1`) || !strings.Contains(body, `"status":"unavailable"`) {
		t.Fatalf("details: %d %s", code, body)
	}

	faulty.set(false)
	if code, body := get("/health/ready", false); code != 200 {
		t.Fatalf("ready after recovery: %d %s", code, body)
	}
	mon.Tick(ctx)
	resolved := hook.webhook(t) // the next notification: no repeat of the firing one came first
	if resolved.Status != contextd.AlertResolved || resolved.Alert.ID != fired.Alert.ID || resolved.Alert.EndsAt == nil {
		t.Fatalf("resolve notice: %+v", resolved)
	}
	if !metric(`contextd_alerts_firing{severity="critical"} 0`) {
		t.Error("the alert still counts as firing")
	}
	code, body = get("/v1/admin/alerts", true)
	if code != 200 || !strings.Contains(body, `"status":"resolved"`) || !strings.Contains(body, `"nextCursor":null`) {
		t.Fatalf("alert list after recovery: %d %s", code, body)
	}
}

// TestChangeLogFailureAlerts breaks the change log of the real store (a
// change removed from the middle, as a bad edit or a lost page would): the
// scheduled integrity check fails and fires a critical alert naming it.
func TestChangeLogFailureAlerts(t *testing.T) {
	ctx := context.Background()
	s := newStack(t)
	sc := contextd.Scope{Tenant: "t"}
	for i := range 3 {
		c := contextd.ContextCreate{Title: "title", Content: "content", UserID: "u"}
		if err := c.Normalize("body"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.faulty.CreateContexts(ctx, sc, []contextd.ContextCreate{c}); err != nil {
			t.Fatalf("context %d: %v", i, err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.dir, sqlite.FileName)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM changes WHERE seq = (SELECT min(seq) + 1 FROM changes)`); err != nil {
		t.Fatal(err)
	}
	s.mon.Tick(ctx)
	p := s.hook.webhook(t)
	if p.Status != contextd.AlertFiring || p.Alert.Rule != "integrity_check_failed" || p.Alert.Severity != contextd.SeverityCritical ||
		!strings.Contains(p.Alert.Description, "change log continuity: 1 changes missing between seq") {
		t.Fatalf("integrity alert: %+v", p)
	}
	if !s.metric("contextd_integrity_check_ok 0") {
		t.Error("the integrity metric does not show the failure")
	}
}

// TestDeployFilesUseRealMetrics keeps the alert rules and the dashboard in
// step with the code: every contextd metric they name is served.
func TestDeployFilesUseRealMetrics(t *testing.T) {
	s := newStack(t)
	s.mon.Tick(context.Background())
	s.get("/v1/contexts/missing", true) // a request, a store error: the labelled families appear
	_, body := s.get("/metrics", false)
	served := map[string]bool{}
	for _, line := range strings.Split(body, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			served[f[2]] = true
		}
	}
	nameRe := regexp.MustCompile(`\b(?:contextd|process|go)_[a-z0-9_]+`)
	for _, file := range []string{"../deploy/prometheus/alerts.yml", "../deploy/grafana/contextd-dashboard.json"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, n := range nameRe.FindAllString(string(b), -1) {
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				if base := strings.TrimSuffix(n, suffix); base != n && served[base] {
					n = base
				}
			}
			names[n] = true
		}
		if len(names) < 10 {
			t.Fatalf("%s: only %d metric names found", file, len(names))
		}
		for n := range names {
			if !served[n] {
				t.Errorf("%s names %s, which /metrics does not serve", file, n)
			}
		}
	}
}
