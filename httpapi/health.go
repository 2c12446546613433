package httpapi

import (
	"context"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/contextd/contextd"
)

type healthOutput struct {
	Body struct {
		Status string `json:"status" example:"ok"`
	} `nameHint:"Health"`
}

var okHealth = func() *healthOutput {
	h := &healthOutput{}
	h.Body.Status = "ok"
	return h
}()

// health answers without any I/O.
func (s *server) health(context.Context, *struct{}) (*healthOutput, error) {
	return okHealth, nil
}

// checkResult is the outcome of one readiness check.
type checkResult struct {
	Status    string  `json:"status" enum:"ok,unavailable"`
	LatencyMs float64 `json:"latencyMs"`
	Error     string  `json:"error,omitempty" doc:"Why the component is unavailable"`
}

type readyBody struct {
	Status string                 `json:"status" enum:"ok,unavailable"`
	Checks map[string]checkResult `json:"checks"`
}

type readyOutput struct {
	Status int
	Body   readyBody
}

// runChecks runs every readiness check concurrently, each with its timeout.
func (s *server) runChecks(ctx context.Context) readyBody {
	out := readyBody{Status: "ok", Checks: make(map[string]checkResult, len(s.checks))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range s.checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, s.readyTimeout)
			defer cancel()
			start := time.Now()
			err := check(cctx)
			r := checkResult{Status: "ok", LatencyMs: float64(time.Since(start).Microseconds()) / 1000}
			if err != nil {
				r.Status = "unavailable"
				r.Error = contextd.ErrorMessage(err)
				if contextd.ErrorCode(err) == contextd.EINTERNAL {
					r.Error = "check failed"
					loggerFrom(ctx).Warn("readiness check failed", "check", name, "error", err)
				}
			}
			mu.Lock()
			out.Checks[name] = r
			if err != nil {
				out.Status = "unavailable"
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// ready answers 200 when every check passes and 503 otherwise.
func (s *server) ready(ctx context.Context, _ *struct{}) (*readyOutput, error) {
	out := &readyOutput{Status: http.StatusOK, Body: s.runChecks(ctx)}
	if out.Body.Status != "ok" {
		out.Status = http.StatusServiceUnavailable
	}
	return out, nil
}

type detailsBody struct {
	Status        string                  `json:"status" enum:"ok,unavailable" doc:"ok when every readiness check passes"`
	Version       string                  `json:"version"`
	GoVersion     string                  `json:"goVersion"`
	StartedAt     time.Time               `json:"startedAt"`
	UptimeSeconds float64                 `json:"uptimeSeconds"`
	Goroutines    int                     `json:"goroutines"`
	CPUs          int                     `json:"cpus" doc:"GOMAXPROCS"`
	Memory        memoryDetails           `json:"memory"`
	CPU           *cpuDetails             `json:"cpu,omitempty" doc:"With a health monitor"`
	Disk          *diskDetails            `json:"disk,omitempty" doc:"With a health monitor: the file system of DATA_DIR and the process's I/O"`
	Network       *networkDetails         `json:"network,omitempty" doc:"With a health monitor"`
	Requests      contextd.RequestSummary `json:"requests" doc:"Requests of the last minutes, probes (/health, /health/ready, /metrics) left out"`
	Store         contextd.StoreStats     `json:"store" doc:"sizeBytes is the store on disk, indexSizeBytes its full-text indexes"`
	Components    map[string]checkResult  `json:"components" doc:"The readiness checks"`
	Alerts        alertCounts             `json:"alerts" doc:"Alerts firing now (GET /v1/admin/alerts lists them)"`
	Notes         []string                `json:"notes,omitempty" doc:"What could not be measured here, and why"`
}

type memoryDetails struct {
	ResidentBytes  int64  `json:"residentBytes" doc:"Resident set (RSS) of the process: Go heap, SQLite's page caches and everything else; 0 when unknown"`
	LimitBytes     int64  `json:"limitBytes" doc:"The cgroup memory limit, else the machine's memory; 0 when unknown"`
	AllocBytes     uint64 `json:"allocBytes" doc:"Live heap objects"`
	HeapInuseBytes uint64 `json:"heapInuseBytes"`
	SysBytes       uint64 `json:"sysBytes" doc:"Obtained from the OS by the Go runtime"`
	NumGC          uint32 `json:"numGC"`
}

type cpuDetails struct {
	Seconds float64 `json:"seconds" doc:"User and system CPU time of the process"`
	Percent float64 `json:"percent" doc:"Since the previous sample, in percent of one core"`
}

type diskDetails struct {
	Path       string `json:"path"`
	TotalBytes int64  `json:"totalBytes"`
	FreeBytes  int64  `json:"freeBytes" doc:"Available to the process"`
	ReadBytes  int64  `json:"readBytes" doc:"Read from storage by the process"`
	WriteBytes int64  `json:"writeBytes" doc:"Written to storage by the process"`
}

type networkDetails struct {
	ReceiveBytes  int64 `json:"receiveBytes" doc:"Every interface but loopback, since boot (of the network namespace)"`
	TransmitBytes int64 `json:"transmitBytes"`
}

type alertCounts struct {
	Firing   int `json:"firing"`
	Critical int `json:"critical"`
	Warning  int `json:"warning"`
}

type detailsOutput struct {
	Body detailsBody
}

// healthDetails reports versions, uptime, resources, recent requests, the
// store and components to admins.
func (s *server) healthDetails(ctx context.Context, _ *struct{}) (*detailsOutput, error) {
	if err := principalOf(ctx).Need(contextd.PermAdminOps); err != nil {
		return nil, problemFor(ctx, err)
	}
	ready := s.runChecks(ctx)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	now := s.now()
	b := detailsBody{
		Status:        ready.Status,
		Version:       s.version,
		GoVersion:     runtime.Version(),
		StartedAt:     s.startedAt.UTC(),
		UptimeSeconds: now.Sub(s.startedAt).Seconds(),
		Goroutines:    runtime.NumGoroutine(),
		CPUs:          runtime.GOMAXPROCS(0),
		Memory: memoryDetails{AllocBytes: ms.Alloc, HeapInuseBytes: ms.HeapInuse, SysBytes: ms.Sys,
			NumGC: ms.NumGC},
		Requests:   s.ops.requests.Summary(0),
		Store:      contextd.StoreStats{Kind: s.svc.Store.Kind(), SizeBytes: -1, IndexSizeBytes: -1},
		Components: ready.Checks,
	}
	if r, ok := contextd.StoreAs[contextd.StatsReporter](s.svc.Store); ok {
		sctx, cancel := context.WithTimeout(ctx, s.readyTimeout)
		st, err := r.Stats(sctx)
		cancel()
		if err != nil {
			b.Notes = append(b.Notes, "store stats: "+contextd.ErrorMessage(err))
		} else {
			b.Store = *st
		}
	} else {
		b.Notes = append(b.Notes, "store stats: the "+b.Store.Kind+" store does not report them")
	}
	if m := s.ops.monitor; m != nil {
		sys := m.SystemStats(ctx)
		b.Memory.ResidentBytes = max(sys.ResidentBytes, 0)
		b.Memory.LimitBytes = sys.MemoryLimitBytes
		b.CPU = &cpuDetails{Seconds: sys.CPUSeconds, Percent: sys.CPUPercent}
		b.Disk = &diskDetails{Path: sys.DiskPath, TotalBytes: sys.DiskTotalBytes, FreeBytes: sys.DiskFreeBytes,
			ReadBytes: sys.DiskReadBytes, WriteBytes: sys.DiskWriteBytes}
		b.Network = &networkDetails{ReceiveBytes: sys.NetReceiveBytes, TransmitBytes: sys.NetTransmitBytes}
		b.Notes = append(b.Notes, sys.Notes...)
		firing, _ := m.Alerts(contextd.AlertFilter{Status: contextd.AlertFiring, Limit: 100})
		for _, a := range firing {
			b.Alerts.Firing++
			switch a.Severity {
			case contextd.SeverityCritical:
				b.Alerts.Critical++
			case contextd.SeverityWarning:
				b.Alerts.Warning++
			}
		}
	} else {
		b.Notes = append(b.Notes, "system resources and alerts: no health monitor is configured")
	}
	return &detailsOutput{Body: b}, nil
}
