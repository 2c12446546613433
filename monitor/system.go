package monitor

import (
	"context"
	"runtime"

	"github.com/contextd/contextd"
)

// ReadSystemStats samples the process and its machine, with the file
// system of dir ("" for none). CPUPercent is left 0: Monitor.SystemStats
// computes it between samples.
func ReadSystemStats(dir string) contextd.SystemStats {
	st := contextd.SystemStats{CPUs: runtime.NumCPU()}
	readSystem(&st, dir)
	return st
}

// DefaultMinFreeBytes is the free space below which DiskCheck fails and
// the disk_full alert fires: SQLite needs room for its WAL and
// checkpoints to commit.
const DefaultMinFreeBytes = 64 << 20

// DiskCheck returns a readiness check (httpapi.Config.Checks) that fails
// with EUNAVAILABLE when the file system of dir has less than minFree bytes
// available (0 means DefaultMinFreeBytes). Where free space cannot be
// measured (outside Linux) it passes.
func DiskCheck(dir string, minFree int64) func(context.Context) error {
	if minFree <= 0 {
		minFree = DefaultMinFreeBytes
	}
	return func(context.Context) error {
		if runtime.GOOS != "linux" {
			return nil
		}
		_, free, err := diskSpace(dir)
		if err != nil {
			return contextd.Errorf(contextd.EUNAVAILABLE, "cannot measure the free space of the data directory")
		}
		if free < minFree {
			return contextd.Errorf(contextd.EUNAVAILABLE, "%s free on the data directory's disk, below %s", bytesText(free), bytesText(minFree))
		}
		return nil
	}
}
