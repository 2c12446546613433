package monitor

import (
	"errors"
	"time"

	"github.com/contextd/contextd"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the monitor's Prometheus metrics. Without a registry they are
// kept in memory only.
type metrics struct {
	firing        *prometheus.GaugeVec
	up            *prometheus.GaugeVec
	integrityOK   prometheus.Gauge
	integrityAt   prometheus.Gauge
	integrityDur  prometheus.Gauge
	notifications *prometheus.CounterVec
	lastTick      prometheus.Gauge
	diskFree      prometheus.Gauge
	diskSize      prometheus.Gauge
	memLimit      prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, dataDir string) (*metrics, error) {
	m := &metrics{
		firing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "contextd_alerts_firing",
			Help: "Alerts of the health monitor firing now, by severity.",
		}, []string{"severity"}),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "contextd_component_up",
			Help: "1 when the component answered the monitor's last check, else 0.",
		}, []string{"component"}),
		integrityOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "contextd_integrity_check_ok",
			Help: "1 when the last integrity check passed, 0 when it failed or could not run.",
		}),
		integrityAt: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "contextd_integrity_check_timestamp_seconds",
			Help: "When the last integrity check ran (Unix time).",
		}),
		integrityDur: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "contextd_integrity_check_duration_seconds",
			Help: "How long the last integrity check took.",
		}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contextd_alert_notifications_total",
			Help: "Alert notifications, by target (webhook, alertmanager) and result (ok, failed, dropped).",
		}, []string{"target", "result"}),
		lastTick: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "contextd_monitor_last_tick_timestamp_seconds",
			Help: "When the health monitor last evaluated its rules (Unix time).",
		}),
		diskFree: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "contextd_data_dir_free_bytes",
			Help: "Bytes available on the file system of DATA_DIR, at the monitor's last tick.",
		}),
		diskSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "contextd_data_dir_size_bytes",
			Help: "Size of the file system of DATA_DIR.",
		}),
		memLimit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "contextd_memory_limit_bytes",
			Help: "The memory limit the memory_high rule compares the resident set with (cgroup limit, else the machine's memory).",
		}),
	}
	for _, s := range []string{contextd.SeverityCritical, contextd.SeverityWarning} {
		m.firing.WithLabelValues(s)
	}
	for _, t := range []string{"webhook", "alertmanager"} {
		for _, r := range []string{"ok", "failed", "dropped"} {
			m.notifications.WithLabelValues(t, r)
		}
	}
	if reg == nil {
		return m, nil
	}
	cs := []prometheus.Collector{m.firing, m.up, m.integrityOK, m.integrityAt, m.integrityDur, m.notifications, m.lastTick, m.memLimit}
	if dataDir != "" {
		cs = append(cs, m.diskFree, m.diskSize)
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *metrics) component(name string, up bool) {
	v := 0.0
	if up {
		v = 1
	}
	m.up.WithLabelValues(name).Set(v)
}

func (m *metrics) integrityRun(at time.Time, rep *contextd.CheckReport) {
	m.integrityAt.Set(float64(at.Unix()))
	if rep == nil {
		m.integrityOK.Set(0)
		return
	}
	ok := 0.0
	if rep.OK {
		ok = 1
	}
	m.integrityOK.Set(ok)
	m.integrityDur.Set(rep.DurationMs / 1000)
}

func (m *metrics) system(s contextd.SystemStats) {
	if s.DiskTotalBytes > 0 {
		m.diskFree.Set(float64(s.DiskFreeBytes))
		m.diskSize.Set(float64(s.DiskTotalBytes))
	}
	if s.MemoryLimitBytes > 0 {
		m.memLimit.Set(float64(s.MemoryLimitBytes))
	}
}

func (m *metrics) notified(target, result string) {
	m.notifications.WithLabelValues(target, result).Inc()
}

func (m *metrics) tick(at time.Time) { m.lastTick.Set(float64(at.Unix())) }

// updateGauges counts the firing alerts. Called with Monitor.mu held.
func (mo *Monitor) updateGauges() {
	counts := map[string]float64{contextd.SeverityCritical: 0, contextd.SeverityWarning: 0}
	for _, a := range mo.active {
		counts[a.Severity]++
	}
	for s, n := range counts {
		mo.metrics.firing.WithLabelValues(s).Set(n)
	}
}
