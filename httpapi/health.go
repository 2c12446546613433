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
	Status        string                 `json:"status" enum:"ok,unavailable"`
	Version       string                 `json:"version"`
	GoVersion     string                 `json:"goVersion"`
	StartedAt     time.Time              `json:"startedAt"`
	UptimeSeconds float64                `json:"uptimeSeconds"`
	Goroutines    int                    `json:"goroutines"`
	CPUs          int                    `json:"cpus"`
	Memory        memoryDetails          `json:"memory"`
	Store         storeDetails           `json:"store"`
	Components    map[string]checkResult `json:"components"`
}

type memoryDetails struct {
	AllocBytes     uint64 `json:"allocBytes" doc:"Live heap objects"`
	HeapInuseBytes uint64 `json:"heapInuseBytes"`
	SysBytes       uint64 `json:"sysBytes" doc:"Obtained from the OS"`
	NumGC          uint32 `json:"numGC"`
}

type storeDetails struct {
	Kind string `json:"kind" example:"sqlite"`
}

type detailsOutput struct {
	Body detailsBody
}

// healthDetails reports versions, uptime, resources and components to admins.
func (s *server) healthDetails(ctx context.Context, _ *struct{}) (*detailsOutput, error) {
	if err := principalOf(ctx).Require(contextd.RoleAdmin); err != nil {
		return nil, problemFor(ctx, err)
	}
	ready := s.runChecks(ctx)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	now := s.now()
	out := &detailsOutput{Body: detailsBody{
		Status:        ready.Status,
		Version:       s.version,
		GoVersion:     runtime.Version(),
		StartedAt:     s.startedAt.UTC(),
		UptimeSeconds: now.Sub(s.startedAt).Seconds(),
		Goroutines:    runtime.NumGoroutine(),
		CPUs:          runtime.GOMAXPROCS(0),
		Memory: memoryDetails{AllocBytes: ms.Alloc, HeapInuseBytes: ms.HeapInuse, SysBytes: ms.Sys,
			NumGC: ms.NumGC},
		Store:      storeDetails{Kind: s.svc.Store.Kind()},
		Components: ready.Checks,
	}}
	return out, nil
}
