package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// The load generator shares the machine with the server, and a shared
// machine with whatever else runs on it: each phase says where the CPU time
// went, so that a number can be read for what it is.

// clockTicks is USER_HZ, the unit of /proc CPU times: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// cpuUsage is the average number of busy cores during a phase.
type cpuUsage struct {
	Cores  int     `json:"cores"`           // of the machine
	Server float64 `json:"server"`          // the server (process_cpu_seconds_total of /metrics)
	Bench  float64 `json:"bench"`           // this load generator
	Others float64 `json:"others"`          // every other process of the machine
	Idle   float64 `json:"idle"`            // cores left idle, waiting for I/O or not
	IOWait float64 `json:"iowait"`          // part of Idle: idle while some I/O was pending
	Steal  float64 `json:"steal,omitempty"` // taken by the hypervisor
}

// cpuSample is a reading of the counters cpuUsage is made from.
type cpuSample struct {
	at           time.Time
	server       float64 // seconds; -1 when unknown
	self         float64 // seconds; -1 when unknown
	busy, idle   float64 // seconds of the whole machine; -1 when unknown
	iowait       float64
	steal        float64
	machineCores int
}

func (c *client) sampleCPU(ctx context.Context) cpuSample {
	s := cpuSample{at: time.Now(), server: -1, self: -1, busy: -1, machineCores: runtime.NumCPU()}
	if v, err := c.metricValue(ctx, "process_cpu_seconds_total"); err == nil {
		s.server = v
	}
	if b, err := os.ReadFile("/proc/self/stat"); err == nil {
		// Fields after the parenthesised command: state is field 3, utime 14, stime 15.
		if i := strings.LastIndexByte(string(b), ')'); i > 0 {
			f := strings.Fields(string(b[i+1:]))
			if len(f) > 12 {
				u, err1 := strconv.ParseFloat(f[11], 64)
				st, err2 := strconv.ParseFloat(f[12], 64)
				if err1 == nil && err2 == nil {
					s.self = (u + st) / clockTicks
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		if len(f) >= 9 && f[0] == "cpu" {
			var v [8]float64
			for i := range v {
				v[i], _ = strconv.ParseFloat(f[i+1], 64)
			}
			// user nice system idle iowait irq softirq steal
			s.idle = (v[3] + v[4]) / clockTicks
			s.iowait = v[4] / clockTicks
			s.steal = v[7] / clockTicks
			s.busy = (v[0] + v[1] + v[2] + v[5] + v[6]) / clockTicks
		}
	}
	return s
}

// cpuBetween returns the usage between two samples, or nil when the
// counters could not be read.
func cpuBetween(a, b cpuSample) *cpuUsage {
	el := b.at.Sub(a.at).Seconds()
	if el <= 0 || a.server < 0 || b.server < 0 || a.self < 0 || b.self < 0 || a.busy < 0 || b.busy < 0 {
		return nil
	}
	round := func(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }
	u := &cpuUsage{Cores: b.machineCores}
	u.Server = round((b.server - a.server) / el)
	u.Bench = round((b.self - a.self) / el)
	u.Others = round(max(0, (b.busy-a.busy)/el-u.Server-u.Bench))
	u.Idle = round((b.idle - a.idle) / el)
	u.IOWait = round((b.iowait - a.iowait) / el)
	u.Steal = round((b.steal - a.steal) / el)
	return u
}

// quietThreshold is the CPU, in cores, that other processes may use for the
// machine to count as quiet.
const quietThreshold = 0.25

// waitQuiet waits until the other processes of the machine have used less
// than quietThreshold cores for three seconds in a row, or until limit
// passes. It reports what it waited for on log.
func (c *client) waitQuiet(ctx context.Context, limit time.Duration, log io.Writer) {
	if limit <= 0 {
		return
	}
	deadline := time.Now().Add(limit)
	quiet := 0
	prev := c.sampleCPU(ctx)
	waited := false
	for quiet < 3 && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		cur := c.sampleCPU(ctx)
		u := cpuBetween(prev, cur)
		prev = cur
		if u == nil {
			return // not measurable here
		}
		if u.Others < quietThreshold {
			quiet++
			continue
		}
		if !waited {
			fmt.Fprintf(log, "waiting for the machine to be quiet: other processes use %.2f cores\n", u.Others)
			waited = true
		}
		quiet = 0
	}
	if quiet < 3 {
		fmt.Fprintf(log, "the machine did not become quiet within %s: measuring anyway\n", limit)
	}
}
