// Package monitor is contextd's health monitor: a loop that, every
// HEALTH_CHECK_INTERVAL, evaluates rules over the store, the recent requests
// and the machine into alerts, logs them, keeps them for
// GET /v1/admin/alerts, and sends them to webhooks (generic JSON and
// Alertmanager) once per change: firing, then resolved.
//
// Rules (see rules.go):
//
//	critical  store_unreachable       the store does not answer a ping
//	critical  integrity_check_failed  the full-text indexes disagree with the rows
//	critical  disk_full               DATA_DIR's file system is about to refuse writes
//	warning   error_rate_high         too many 5xx answers in the request window
//	warning   latency_high            p99 latency over its threshold
//	warning   disk_space_low          DATA_DIR's file system is filling up
//	warning   memory_high             resident memory near the memory limit
//	warning   backup_overdue          no recent backup (a no-op until backups exist)
//	info      started, version_changed, config_changed   events at start-up
//
// The package also sets up OpenTelemetry tracing (tracing.go) and gives the
// readiness probe its disk check (DiskCheck).
package monitor

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/contextd/contextd"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults.
const (
	DefaultInterval          = 30 * time.Second
	DefaultIntegrityInterval = time.Hour
	DefaultRequestWindow     = 5 * time.Minute
	// historySize bounds the alerts kept for the list (firing ones are
	// always kept).
	historySize = 500
)

// RequestSummarizer describes recent requests (httpapi.RequestStats).
type RequestSummarizer interface {
	Summary(window time.Duration) contextd.RequestSummary
}

// BackupStatus tells when the last good backup was made. Backups do not
// exist yet: until a backup package implements this, the backup_overdue
// rule does nothing.
type BackupStatus interface {
	LastBackup(ctx context.Context) (time.Time, error)
}

// Thresholds of the warning rules. Zero fields take the defaults.
type Thresholds struct {
	ErrorRate     float64       // error_rate_high above this share of 5xx; default 0.05
	MinRequests   int64         // no error-rate or latency verdict on fewer requests in the window; default 20
	LatencyP99    time.Duration // latency_high above this p99; default 1s
	DiskFreeRatio float64       // disk_space_low below this share free; default 0.10
	DiskFreeBytes int64         // ... or below this many bytes free; default 1 GiB
	DiskFullBytes int64         // disk_full (critical) below this many bytes free; default 64 MiB
	MemoryRatio   float64       // memory_high above this share of the memory limit; default 0.90
	BackupMaxAge  time.Duration // backup_overdue beyond this age; default 26h
}

func (t *Thresholds) defaults() {
	def := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&t.ErrorRate, 0.05)
	def(&t.DiskFreeRatio, 0.10)
	def(&t.MemoryRatio, 0.90)
	if t.MinRequests <= 0 {
		t.MinRequests = 20
	}
	if t.LatencyP99 <= 0 {
		t.LatencyP99 = time.Second
	}
	if t.DiskFreeBytes <= 0 {
		t.DiskFreeBytes = 1 << 30
	}
	if t.DiskFullBytes <= 0 {
		t.DiskFullBytes = DefaultMinFreeBytes
	}
	if t.BackupMaxAge <= 0 {
		t.BackupMaxAge = 26 * time.Hour
	}
}

// Config configures a Monitor. Only Store is required.
type Config struct {
	// Store is pinged every tick and checked for integrity when it (or a
	// store it decorates) implements contextd.Checker. Required.
	Store contextd.Store
	// Requests is the HTTP request window (give it the handler's
	// httpapi.RequestStats). nil means no error-rate or latency rules.
	Requests RequestSummarizer
	// RequestWindow is the window of the error-rate and latency rules.
	// 0 means DefaultRequestWindow (5 min).
	RequestWindow time.Duration
	// DataDir is the folder whose file system the disk rules watch. ""
	// means no disk rules.
	DataDir string
	// Version is the version serving, reported at start-up.
	Version string
	// ConfigDigest identifies the running configuration without its
	// secrets (see Digest); a change since the last run is an info alert.
	// "" skips that rule.
	ConfigDigest string
	// StateFile is where the monitor remembers the last run's version and
	// configuration digest. "" means no memory: no version_changed or
	// config_changed alerts.
	StateFile string
	// Interval is the time between ticks (HEALTH_CHECK_INTERVAL). 0 means
	// DefaultInterval; negative means Run evaluates nothing (tests drive
	// Tick themselves).
	Interval time.Duration
	// IntegrityInterval is the time between read-only integrity checks of
	// the store; the first runs at the first tick. 0 means
	// DefaultIntegrityInterval (1 h); negative means never.
	IntegrityInterval time.Duration
	// Integrity are the options of the scheduled check: VectorModel and
	// VectorDims of the configured embedder, so that it checks the vectors.
	// Its Full is ignored (the scheduled check only reads).
	Integrity contextd.CheckOptions
	// Webhooks receive every alert change as a generic JSON POST
	// (ALERT_WEBHOOK_URLS).
	Webhooks []string
	// AlertmanagerURL receives alerts in Alertmanager's /api/v2/alerts
	// format (ALERTMANAGER_URL; "/api/v2/alerts" is added unless present).
	AlertmanagerURL string
	// Instance names this process in notifications. "" means the host name.
	Instance string
	// Thresholds of the warning rules; zero fields take the defaults.
	Thresholds Thresholds
	// Backups tells when the last backup was made; nil makes the
	// backup_overdue rule a no-op (there are no backups yet).
	Backups BackupStatus
	// Logger receives the alerts and the monitor's own troubles. nil means
	// slog.Default().
	Logger *slog.Logger
	// Registry receives the monitor's metrics (alerts firing, component
	// states, integrity checks, disk space, notifications). nil means none.
	Registry prometheus.Registerer
	// HTTPClient sends the notifications. nil means a client with a 5 s
	// timeout.
	HTTPClient *http.Client
	// RetryBackoff is the wait before the second attempt of a failed
	// notification (doubled for the third and last). 0 means 1 s.
	RetryBackoff time.Duration
	// Now is the clock. nil means time.Now.
	Now func() time.Time
	// System samples the process and machine. nil reads them (on Linux,
	// from /proc, cgroups and statfs).
	System func(ctx context.Context) contextd.SystemStats
}

// Monitor evaluates the rules and keeps the alerts. Its methods are safe
// for concurrent use.
type Monitor struct {
	cfg     Config
	log     *slog.Logger
	checker contextd.Checker // nil: no integrity rule
	notify  *notifier
	metrics *metrics

	tickMu sync.Mutex // one evaluation at a time

	mu            sync.Mutex
	active        map[string]*contextd.Alert // firing alerts by rule
	history       []*contextd.Alert          // every alert, oldest first
	lastIntegrity time.Time
	integrityBad  *finding // the last integrity check's failure, nil when it passed
	cpuAt         time.Time
	cpuSeconds    float64
}

// New returns a monitor; Run starts it.
func New(cfg Config) (*Monitor, error) {
	if cfg.Store == nil {
		return nil, errors.New("monitor: Config.Store is required")
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.IntegrityInterval == 0 {
		cfg.IntegrityInterval = DefaultIntegrityInterval
	}
	if cfg.RequestWindow <= 0 {
		cfg.RequestWindow = DefaultRequestWindow
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Instance == "" {
		cfg.Instance, _ = os.Hostname()
	}
	cfg.Thresholds.defaults()
	m := &Monitor{cfg: cfg, log: cfg.Logger.With("component", "monitor"), active: map[string]*contextd.Alert{}}
	if c, ok := contextd.StoreAs[contextd.Checker](cfg.Store); ok {
		m.checker = c
	}
	var err error
	if m.metrics, err = newMetrics(cfg.Registry, cfg.DataDir); err != nil {
		return nil, err
	}
	if m.notify, err = newNotifier(cfg, m.log, m.metrics); err != nil {
		return nil, err
	}
	return m, nil
}

// Run reports the start-up events, then evaluates the rules every Interval
// until ctx is done, and returns once the queued notifications are sent
// (or after a few seconds of trying). Wait for it before closing the store,
// or the last tick may find the store closed.
func (m *Monitor) Run(ctx context.Context) error {
	defer m.Close()
	m.Start(ctx)
	if m.cfg.Interval < 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	m.Tick(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			m.Tick(ctx)
		}
	}
}

// Close stops the notifications after sending the queued ones (giving up
// after a few seconds). Run calls it; tests that drive Tick call it.
func (m *Monitor) Close() error {
	m.notify.close()
	return nil
}

// Start raises the start-up events: started (with the version), and, when
// a state file remembers the last run, version_changed and config_changed.
func (m *Monitor) Start(ctx context.Context) {
	now := m.now()
	events := []finding{{
		rule: "started", severity: contextd.SeverityInfo,
		summary:     "contextd " + m.cfg.Version + " started",
		description: "The server started and serves version " + m.cfg.Version + ".",
		labels:      map[string]string{"version": m.cfg.Version},
	}}
	if m.cfg.StateFile != "" {
		prev, err := readState(m.cfg.StateFile)
		switch {
		case err != nil:
			m.log.Warn("reading the monitor state", "file", m.cfg.StateFile, "err", err)
		case prev == nil: // the first run here
		default:
			if prev.Version != "" && prev.Version != m.cfg.Version {
				events = append(events, finding{
					rule: "version_changed", severity: contextd.SeverityInfo,
					summary:     "new version serving: " + prev.Version + " -> " + m.cfg.Version,
					description: "The previous run served " + prev.Version + " (until " + prev.UpdatedAt.Format(time.RFC3339) + ").",
					labels:      map[string]string{"version": m.cfg.Version},
				})
			}
			if m.cfg.ConfigDigest != "" && prev.ConfigDigest != "" && prev.ConfigDigest != m.cfg.ConfigDigest {
				events = append(events, finding{
					rule: "config_changed", severity: contextd.SeverityInfo,
					summary:     "configuration changed since the last run",
					description: "The digest of the configuration (secrets left out) is " + m.cfg.ConfigDigest + ", was " + prev.ConfigDigest + ".",
				})
			}
		}
		if err := writeState(m.cfg.StateFile, state{Version: m.cfg.Version, ConfigDigest: m.cfg.ConfigDigest, UpdatedAt: now}); err != nil {
			m.log.Warn("writing the monitor state", "file", m.cfg.StateFile, "err", err)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range events {
		m.event(f, now)
	}
}

// Tick evaluates every rule once and applies the changes: new alerts fire,
// alerts whose condition no longer holds resolve. A rule that cannot tell
// (no data) leaves its alert as it is. If ctx ends during the evaluation,
// nothing changes.
func (m *Monitor) Tick(ctx context.Context) {
	m.tickMu.Lock()
	defer m.tickMu.Unlock()
	results := m.evaluate(ctx)
	if ctx.Err() != nil {
		return // shutting down: a failed ping now says nothing about the store
	}
	now := m.now()
	m.mu.Lock()
	for _, r := range results {
		m.apply(r, now)
	}
	m.updateGauges()
	firing := make([]contextd.Alert, 0, len(m.active))
	for _, a := range m.active {
		firing = append(firing, *a)
	}
	m.mu.Unlock()
	m.notify.refresh(firing, now) // Alertmanager forgets alerts not sent again
	m.metrics.tick(now)
}

// apply turns one rule's verdict into an alert change. Called with m.mu held.
func (m *Monitor) apply(r result, now time.Time) {
	if !r.known {
		return
	}
	a := m.active[r.rule]
	switch {
	case r.firing != nil && a == nil:
		f := r.firing
		a = &contextd.Alert{
			ID: contextd.NewID(now), Rule: f.rule, Severity: f.severity, Status: contextd.AlertFiring,
			Summary: f.summary, Description: f.description, Labels: f.labels, StartsAt: now.UTC(), UpdatedAt: now.UTC(),
		}
		m.active[r.rule] = a
		m.remember(a)
		level := slog.LevelWarn
		if a.Severity == contextd.SeverityCritical {
			level = slog.LevelError
		}
		m.log.Log(context.Background(), level, "alert firing", alertAttrs(a)...)
		m.notify.send(*a)
	case r.firing != nil:
		a.Summary, a.Description, a.Labels, a.UpdatedAt = r.firing.summary, r.firing.description, r.firing.labels, now.UTC()
	case a != nil:
		end := now.UTC()
		a.Status, a.EndsAt, a.UpdatedAt = contextd.AlertResolved, &end, end
		delete(m.active, r.rule)
		m.log.Info("alert resolved", alertAttrs(a)...)
		m.notify.send(*a)
	}
}

// event records and sends an info alert. Called with m.mu held.
func (m *Monitor) event(f finding, now time.Time) {
	a := &contextd.Alert{
		ID: contextd.NewID(now), Rule: f.rule, Severity: f.severity, Status: contextd.AlertEvent,
		Summary: f.summary, Description: f.description, Labels: f.labels, StartsAt: now.UTC(), UpdatedAt: now.UTC(),
	}
	m.remember(a)
	m.log.Info("alert event", alertAttrs(a)...)
	m.notify.send(*a)
}

func alertAttrs(a *contextd.Alert) []any {
	return []any{"alert", a.Rule, "severity", a.Severity, "status", a.Status, "summary", a.Summary, "id", a.ID}
}

// remember adds a to the history, dropping the oldest alerts that are not
// firing beyond historySize. Called with m.mu held.
func (m *Monitor) remember(a *contextd.Alert) {
	m.history = append(m.history, a)
	for i := 0; len(m.history) > historySize && i < len(m.history); {
		if m.history[i].Status == contextd.AlertFiring {
			i++
			continue
		}
		m.history = slices.Delete(m.history, i, i+1)
	}
}

// Alerts lists alerts, newest first, and the cursor of the next page.
func (m *Monitor) Alerts(f contextd.AlertFilter) ([]contextd.Alert, string) {
	limit := f.Limit
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []contextd.Alert
	for i := len(m.history) - 1; i >= 0; i-- {
		a := m.history[i]
		if f.Cursor != "" && a.ID >= f.Cursor {
			continue
		}
		if f.Status != "" && a.Status != f.Status {
			continue
		}
		if len(out) == limit {
			return out, out[len(out)-1].ID
		}
		out = append(out, *a)
	}
	return out, ""
}

// SystemStats samples the process and its machine; CPUPercent is over the
// time since the previous sample.
func (m *Monitor) SystemStats(ctx context.Context) contextd.SystemStats {
	var st contextd.SystemStats
	if m.cfg.System != nil {
		st = m.cfg.System(ctx)
	} else {
		st = ReadSystemStats(m.cfg.DataDir)
	}
	now := m.now()
	m.mu.Lock()
	if !m.cpuAt.IsZero() && now.After(m.cpuAt) && st.CPUSeconds >= m.cpuSeconds {
		st.CPUPercent = 100 * (st.CPUSeconds - m.cpuSeconds) / now.Sub(m.cpuAt).Seconds()
	}
	m.cpuAt, m.cpuSeconds = now, st.CPUSeconds
	m.mu.Unlock()
	return st
}

func (m *Monitor) now() time.Time { return m.cfg.Now() }
