package contextd

import (
	"context"
	"time"
)

// The types the health monitor, the metrics and the integrity check share
// between the stores (which report), the monitor package (which evaluates)
// and the HTTP API (which serves). None of them carries tenant data.

// Alert severities.
const (
	SeverityCritical = "critical" // the service cannot do its job: store unreachable, integrity check failed
	SeverityWarning  = "warning"  // degraded or about to be: error rate, latency, disk, memory, backups
	SeverityInfo     = "info"     // an event worth knowing: start-up, new version, configuration changed
)

// Alert states.
const (
	AlertFiring   = "firing"   // the condition holds
	AlertResolved = "resolved" // the condition held and no longer does
	AlertEvent    = "event"    // an info alert: a one-off event, never firing nor resolved
)

// Alert is a condition the health monitor raised. An alert keeps its ID from
// firing to resolved; a condition that fires again later is a new alert.
type Alert struct {
	ID          string            `json:"id" doc:"Time-ordered; one per firing of a rule"`
	Rule        string            `json:"rule" example:"store_unreachable" doc:"The rule that raised it"`
	Severity    string            `json:"severity" enum:"critical,warning,info"`
	Status      string            `json:"status" enum:"firing,resolved,event" doc:"event: an info alert"`
	Summary     string            `json:"summary" doc:"One line for humans"`
	Description string            `json:"description,omitempty" doc:"What was measured and why it matters"`
	Labels      map[string]string `json:"labels,omitempty" doc:"Bounded labels (never ids or tenants)"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      *time.Time        `json:"endsAt,omitempty" doc:"When it resolved"`
	UpdatedAt   time.Time         `json:"updatedAt" doc:"Last evaluation that saw the condition hold (firing) or the resolution"`
}

// AlertFilter selects alerts, newest first.
type AlertFilter struct {
	Status string // "" for every alert, else AlertFiring, AlertResolved or AlertEvent
	Limit  int    // 1..100; 0 means 20
	Cursor string // the ID of the last alert of the previous page
}

// StoreStats describes a store's resources for metrics and health reports.
// Counters count since the store was opened.
type StoreStats struct {
	Kind string `json:"kind" example:"sqlite"`
	// SizeBytes is the bytes of the store on disk: for sqlite the database
	// file with its WAL and shared-memory files. -1 when the backend cannot
	// tell (a remote server).
	SizeBytes int64 `json:"sizeBytes" doc:"Bytes of the store on disk (database, WAL and shared-memory files); -1 when unknown"`
	// IndexSizeBytes is the part of SizeBytes taken by the full-text
	// indexes, as last measured (see IndexMeasuredAt). -1 when not measured.
	IndexSizeBytes  int64     `json:"indexSizeBytes" doc:"Full-text index bytes, part of sizeBytes, as last measured; -1 when not measured"`
	IndexMeasuredAt time.Time `json:"indexMeasuredAt,omitzero"`
	// ReadConnsInUse of ReadConns read connections are serving a call.
	ReadConnsInUse int `json:"readConnsInUse"`
	ReadConns      int `json:"readConns"`
	// WriteQueueLength writes wait for the writer, whose queue holds up to
	// WriteQueueCapacity (a caller beyond waits to enqueue).
	WriteQueueLength   int `json:"writeQueueLength"`
	WriteQueueCapacity int `json:"writeQueueCapacity"`
	// WriteTransactions is the write transactions run: one per group commit,
	// however many writes it carried.
	WriteTransactions int64 `json:"writeTransactions"`
	// WriteJobs is the writes those transactions carried: WriteJobs /
	// WriteTransactions is the mean group-commit batch. 0 for a store
	// without group commit.
	WriteJobs int64 `json:"writeJobs"`
	// WriteRetries is the transactions run again after one of their writes
	// failed (the others are retried without it).
	WriteRetries int64 `json:"writeRetries"`
}

// StatsReporter is implemented by stores that can describe their resources.
type StatsReporter interface {
	// Stats reports the store's current resource use. It is cheap enough for
	// every metrics scrape: sizes that need a scan of the store are measured
	// at most every few minutes and reported as last measured. It returns
	// EUNAVAILABLE when the store is closed.
	Stats(ctx context.Context) (*StoreStats, error)
}

// CheckOptions choose how thorough an integrity check is.
type CheckOptions struct {
	// Full adds the checks that compare every indexed word with the rows
	// and read every page. They take the store's write lock for each index
	// in turn (writes wait meanwhile), so they suit the command line more
	// than a schedule. Without Full, every check is read-only.
	Full bool
	// VectorModel is the embedder's model when semantic search is on ("":
	// off). With it, the check expects a vector of that model for every
	// row written with an embedder; without it, vectors are only checked
	// for their rows.
	VectorModel string
	// VectorDims is the length of VectorModel's vectors (0: not known; the
	// check then only expects one length).
	VectorDims int
}

// CheckReport is the outcome of an integrity check.
type CheckReport struct {
	OK         bool        `json:"ok" doc:"Every item passed"`
	Full       bool        `json:"full"`
	StartedAt  time.Time   `json:"startedAt"`
	DurationMs float64     `json:"durationMs"`
	Items      []CheckItem `json:"items"`
	Notes      []string    `json:"notes,omitempty" doc:"What this store cannot check yet, and why"`
}

// CheckItem is one check of a report.
type CheckItem struct {
	Name    string `json:"name" example:"contexts_fts rows"`
	OK      bool   `json:"ok"`
	Detail  string `json:"detail,omitempty"`
	Rows    int64  `json:"rows,omitempty" doc:"Rows of the table the index covers"`
	Indexed int64  `json:"indexed,omitempty" doc:"Rows the index holds"`
}

// Checker is implemented by stores that can check their own integrity: that
// the indexes agree with the rows. An integrity failure is a report with OK
// false; Check returns an error only when it could not run the check.
type Checker interface {
	Check(ctx context.Context, opts CheckOptions) (*CheckReport, error)
}

// StoreUnwrapper is implemented by Store decorators (metrics, tracing,
// tests' fault injectors) so that optional interfaces of the store they wrap
// stay reachable through StoreAs.
type StoreUnwrapper interface {
	Unwrap() Store
}

// StoreAs finds the first store in the decorator chain of s (s itself,
// then what Unwrap returns, and so on) that implements T.
func StoreAs[T any](s Store) (T, bool) {
	for s != nil {
		if t, ok := s.(T); ok {
			return t, true
		}
		u, ok := s.(StoreUnwrapper)
		if !ok {
			break
		}
		s = u.Unwrap()
	}
	var zero T
	return zero, false
}

// RequestSummary describes the requests served over a recent window.
type RequestSummary struct {
	WindowSeconds     float64 `json:"windowSeconds" doc:"The window the summary covers"`
	Requests          int64   `json:"requests"`
	Errors            int64   `json:"errors" doc:"Answers with a 5xx status"`
	ErrorRate         float64 `json:"errorRate" doc:"errors / requests; 0 with no requests"`
	RequestsPerSecond float64 `json:"requestsPerSecond"`
	P50Ms             float64 `json:"p50Ms"`
	P95Ms             float64 `json:"p95Ms"`
	P99Ms             float64 `json:"p99Ms"`
}

// SystemStats describes the process and its machine. Fields a platform
// cannot tell are 0 (or -1 where 0 is a real value), and Notes say why.
type SystemStats struct {
	ResidentBytes    int64    `json:"residentBytes" doc:"Resident memory (RSS) of the process; -1 when unknown"`
	MemoryLimitBytes int64    `json:"memoryLimitBytes" doc:"The cgroup memory limit, else the machine's memory; 0 when unknown"`
	CPUSeconds       float64  `json:"cpuSeconds" doc:"User and system CPU time of the process"`
	CPUPercent       float64  `json:"cpuPercent" doc:"CPU used since the previous sample, in percent of one core"`
	CPUs             int      `json:"cpus"`
	OpenFiles        int      `json:"openFiles" doc:"Open file descriptors; -1 when unknown"`
	DiskPath         string   `json:"diskPath,omitempty" doc:"The folder whose file system is measured (DATA_DIR)"`
	DiskTotalBytes   int64    `json:"diskTotalBytes"`
	DiskFreeBytes    int64    `json:"diskFreeBytes" doc:"Available to the process"`
	DiskReadBytes    int64    `json:"diskReadBytes" doc:"Read from storage by the process"`
	DiskWriteBytes   int64    `json:"diskWriteBytes" doc:"Written to storage by the process"`
	NetReceiveBytes  int64    `json:"netReceiveBytes" doc:"Received on every interface but loopback (of the network namespace)"`
	NetTransmitBytes int64    `json:"netTransmitBytes"`
	Notes            []string `json:"notes,omitempty"`
}
