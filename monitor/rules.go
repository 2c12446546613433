package monitor

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/contextd/contextd"
)

// finding is a condition a rule found to hold.
type finding struct {
	rule, severity       string
	summary, description string
	labels               map[string]string
}

// result is a rule's verdict: known false when the rule cannot tell (no
// data, not due, not configured), else firing non-nil when its condition
// holds.
type result struct {
	rule   string
	known  bool
	firing *finding
}

func holds(f finding) result     { return result{rule: f.rule, known: true, firing: &f} }
func cleared(rule string) result { return result{rule: rule, known: true} }
func unknown(rule string) result { return result{rule: rule} }

// Timeouts of the checks a tick runs.
const (
	maxPingTimeout   = 5 * time.Second
	integrityTimeout = 10 * time.Minute
)

// evaluate runs every rule.
func (m *Monitor) evaluate(ctx context.Context) []result {
	out := []result{m.storeRule(ctx), m.integrityRule(ctx)}
	out = append(out, m.requestRules()...)
	sys := m.SystemStats(ctx)
	m.metrics.system(sys)
	out = append(out, m.diskRules(sys)...)
	out = append(out, m.memoryRule(sys), m.backupRule(ctx))
	return out
}

// storeRule: critical store_unreachable when the store does not answer a ping.
func (m *Monitor) storeRule(ctx context.Context) result {
	const rule = "store_unreachable"
	timeout := maxPingTimeout
	if m.cfg.Interval > 0 && m.cfg.Interval < timeout {
		timeout = m.cfg.Interval
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	err := m.cfg.Store.Ping(pctx)
	if ctx.Err() != nil {
		return unknown(rule)
	}
	m.metrics.component("store", err == nil)
	if err == nil {
		return cleared(rule)
	}
	if contextd.ErrorCode(err) == contextd.EINTERNAL {
		m.log.Warn("store ping failed", "err", err)
	}
	return holds(finding{
		rule: rule, severity: contextd.SeverityCritical,
		summary: "the " + m.cfg.Store.Kind() + " store is unreachable",
		description: fmt.Sprintf("A ping of the store failed after %s: %s. Reads and writes fail until it answers.",
			time.Since(start).Round(time.Millisecond), contextd.ErrorMessage(err)),
		labels: map[string]string{"store": m.cfg.Store.Kind()},
	})
}

// integrityRule: critical integrity_check_failed when the last read-only
// integrity check found the indexes disagreeing with the rows. The check
// runs at the first tick, then every IntegrityInterval; its verdict holds
// in between.
func (m *Monitor) integrityRule(ctx context.Context) result {
	const rule = "integrity_check_failed"
	if m.checker == nil || m.cfg.IntegrityInterval < 0 {
		return unknown(rule)
	}
	now := m.now()
	m.mu.Lock()
	due := m.lastIntegrity.IsZero() || now.Sub(m.lastIntegrity) >= m.cfg.IntegrityInterval
	m.mu.Unlock()
	if due {
		cctx, cancel := context.WithTimeout(ctx, integrityTimeout)
		opts := m.cfg.Integrity
		opts.Full = false
		rep, err := m.checker.Check(cctx, opts)
		cancel()
		if ctx.Err() != nil {
			return unknown(rule)
		}
		m.mu.Lock()
		m.lastIntegrity = now
		m.mu.Unlock()
		if err != nil {
			m.log.Warn("integrity check could not run", "err", err)
			m.metrics.integrityRun(now, nil)
			return unknown(rule)
		}
		m.metrics.integrityRun(now, rep)
		var bad *finding
		if !rep.OK {
			var failed []string
			for _, it := range rep.Items {
				if !it.OK {
					failed = append(failed, it.Name+": "+it.Detail)
				}
			}
			bad = &finding{
				rule: rule, severity: contextd.SeverityCritical,
				summary: "integrity check failed: the store's indexes, change log or vectors disagree with its rows",
				description: strings.Join(failed, "; ") +
					". Searches may miss or return stale contexts, history and point-in-time restores may be wrong;" +
					" run `contextd check --full` for the whole picture, and `contextd reindex` for missing vectors.",
			}
		} else {
			m.log.Info("integrity check passed", "durationMs", rep.DurationMs)
		}
		m.mu.Lock()
		m.integrityBad = bad
		m.mu.Unlock()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lastIntegrity.IsZero() {
		return unknown(rule)
	}
	if m.integrityBad != nil {
		return holds(*m.integrityBad)
	}
	return cleared(rule)
}

// requestRules: warnings error_rate_high and latency_high over the request
// window. With fewer than MinRequests requests there is no verdict to hold
// an alert up, so both clear.
func (m *Monitor) requestRules() []result {
	const errRule, latRule = "error_rate_high", "latency_high"
	if m.cfg.Requests == nil {
		return []result{unknown(errRule), unknown(latRule)}
	}
	s := m.cfg.Requests.Summary(m.cfg.RequestWindow)
	t := m.cfg.Thresholds
	if s.Requests < t.MinRequests {
		return []result{cleared(errRule), cleared(latRule)}
	}
	window := time.Duration(s.WindowSeconds * float64(time.Second)).Round(time.Second)
	out := []result{cleared(errRule), cleared(latRule)}
	if s.ErrorRate > t.ErrorRate {
		out[0] = holds(finding{
			rule: errRule, severity: contextd.SeverityWarning,
			summary: fmt.Sprintf("error rate %.1f%% over the last %s", 100*s.ErrorRate, window),
			description: fmt.Sprintf("%d of %d requests answered 5xx (threshold %.1f%%).",
				s.Errors, s.Requests, 100*t.ErrorRate),
		})
	}
	if p99 := time.Duration(s.P99Ms * float64(time.Millisecond)); p99 > t.LatencyP99 {
		out[1] = holds(finding{
			rule: latRule, severity: contextd.SeverityWarning,
			summary: fmt.Sprintf("p99 latency %.0f ms over the last %s", s.P99Ms, window),
			description: fmt.Sprintf("p50 %.1f ms, p95 %.1f ms, p99 %.1f ms over %d requests (threshold p99 %s).",
				s.P50Ms, s.P95Ms, s.P99Ms, s.Requests, t.LatencyP99),
		})
	}
	return out
}

// diskRules: critical disk_full and warning disk_space_low for DATA_DIR's
// file system.
func (m *Monitor) diskRules(sys contextd.SystemStats) []result {
	const fullRule, lowRule = "disk_full", "disk_space_low"
	if m.cfg.DataDir == "" || sys.DiskTotalBytes <= 0 {
		return []result{unknown(fullRule), unknown(lowRule)}
	}
	t := m.cfg.Thresholds
	free, total := sys.DiskFreeBytes, sys.DiskTotalBytes
	desc := fmt.Sprintf("%s free of %s on the file system of %s.", bytesText(free), bytesText(total), m.cfg.DataDir)
	out := []result{cleared(fullRule), cleared(lowRule)}
	if free < t.DiskFullBytes {
		out[0] = holds(finding{
			rule: fullRule, severity: contextd.SeverityCritical,
			summary:     "the disk of DATA_DIR is full: writes are about to fail",
			description: desc + fmt.Sprintf(" Below %s the store cannot commit safely.", bytesText(t.DiskFullBytes)),
		})
	}
	if float64(free) < t.DiskFreeRatio*float64(total) || free < t.DiskFreeBytes {
		out[1] = holds(finding{
			rule: lowRule, severity: contextd.SeverityWarning,
			summary:     fmt.Sprintf("the disk of DATA_DIR is %.0f%% full", 100*(1-float64(free)/float64(total))),
			description: desc + fmt.Sprintf(" Threshold: %.0f%% or %s free.", 100*t.DiskFreeRatio, bytesText(t.DiskFreeBytes)),
		})
	}
	return out
}

// memoryRule: warning memory_high when the resident set nears the limit.
func (m *Monitor) memoryRule(sys contextd.SystemStats) result {
	const rule = "memory_high"
	if sys.ResidentBytes <= 0 || sys.MemoryLimitBytes <= 0 {
		return unknown(rule)
	}
	ratio := float64(sys.ResidentBytes) / float64(sys.MemoryLimitBytes)
	if ratio <= m.cfg.Thresholds.MemoryRatio {
		return cleared(rule)
	}
	return holds(finding{
		rule: rule, severity: contextd.SeverityWarning,
		summary: fmt.Sprintf("resident memory at %.0f%% of the limit", 100*ratio),
		description: fmt.Sprintf("%s resident of %s (threshold %.0f%%); Go heap in use %s. Lower CACHE_SIZE_MB or raise the limit.",
			bytesText(sys.ResidentBytes), bytesText(sys.MemoryLimitBytes), 100*m.cfg.Thresholds.MemoryRatio, bytesText(heapInuse())),
	})
}

// backupRule: warning backup_overdue when the last backup is too old. A
// no-op while contextd has no backups (Config.Backups nil).
func (m *Monitor) backupRule(ctx context.Context) result {
	const rule = "backup_overdue"
	if m.cfg.Backups == nil {
		return unknown(rule)
	}
	last, err := m.cfg.Backups.LastBackup(ctx)
	if err != nil {
		m.log.Warn("reading the last backup time", "err", err)
		return unknown(rule)
	}
	age := m.now().Sub(last)
	if !last.IsZero() && age <= m.cfg.Thresholds.BackupMaxAge {
		return cleared(rule)
	}
	desc := "No backup has been made."
	if !last.IsZero() {
		desc = "The last backup was made " + age.Round(time.Minute).String() + " ago, at " + last.UTC().Format(time.RFC3339) + "."
	}
	return holds(finding{
		rule: rule, severity: contextd.SeverityWarning,
		summary:     "backup overdue",
		description: desc + " Threshold: " + m.cfg.Thresholds.BackupMaxAge.String() + ".",
	})
}

func heapInuse() int64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

// bytesText writes n in binary units.
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
