//go:build linux

package monitor

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/contextd/contextd"
)

// readSystem fills what Linux tells through /proc, cgroups and statfs.
// Whatever cannot be read is left at its zero (-1 for counts where 0 is
// real) with a note.
func readSystem(st *contextd.SystemStats, dir string) {
	st.ResidentBytes, st.OpenFiles = -1, -1
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			if pages, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				st.ResidentBytes = pages * int64(os.Getpagesize())
			}
		}
	}
	if st.ResidentBytes < 0 {
		st.Notes = append(st.Notes, "resident memory: /proc/self/statm is not readable")
	}
	st.MemoryLimitBytes = memoryLimit()
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		st.OpenFiles = len(ents)
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		st.CPUSeconds = float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
	}
	if dir != "" {
		st.DiskPath = dir
		total, free, err := diskSpace(dir)
		if err != nil {
			st.Notes = append(st.Notes, "disk space: "+err.Error())
		} else {
			st.DiskTotalBytes, st.DiskFreeBytes = total, free
		}
	}
	if b, err := os.ReadFile("/proc/self/io"); err == nil {
		kv := procKV(b)
		st.DiskReadBytes, st.DiskWriteBytes = kv["read_bytes"], kv["write_bytes"]
	} else {
		st.Notes = append(st.Notes, "disk I/O: /proc/self/io is not readable")
	}
	if b, err := os.ReadFile("/proc/self/net/dev"); err == nil {
		st.NetReceiveBytes, st.NetTransmitBytes = netBytes(b)
	} else {
		st.Notes = append(st.Notes, "network: /proc/self/net/dev is not readable")
	}
}

// diskSpace returns the size of the file system holding dir and the bytes
// available to an unprivileged process on it.
func diskSpace(dir string) (total, free int64, err error) {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		return 0, 0, err
	}
	return int64(fs.Blocks) * int64(fs.Bsize), int64(fs.Bavail) * int64(fs.Bsize), nil
}

// memoryLimit is the cgroup's memory limit (v2, then v1), else the
// machine's memory; 0 when none can be read.
func memoryLimit() int64 {
	total := int64(0)
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		total = procKV(b)["MemTotal"] * 1024 // kB
	}
	for _, path := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && n > 0 && (total == 0 || n < total) { // "max", or v1's huge "unlimited"
			return n
		}
	}
	return total
}

// procKV reads "name: value [kB]" lines.
func procKV(b []byte) map[string]int64 {
	out := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			out[strings.TrimSpace(k)] = n
		}
	}
	return out
}

// netBytes sums received and transmitted bytes of /proc/net/dev over every
// interface but loopback.
func netBytes(b []byte) (rx, tx int64) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			continue
		}
		r, err1 := strconv.ParseInt(f[0], 10, 64)
		t, err2 := strconv.ParseInt(f[8], 10, 64)
		if err1 == nil && err2 == nil {
			rx += r
			tx += t
		}
	}
	return rx, tx
}
