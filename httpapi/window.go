package httpapi

import (
	"math/bits"
	"sync"
	"time"

	"github.com/contextd/contextd"
)

// RequestStats keeps the outcomes of recent requests in a rolling window of
// fixed slots, for the error rate and latency percentiles of
// /health/details and the health monitor's rules. Latencies go into
// log-linear buckets (8 per power of two, so a percentile is within 12.5%);
// memory is fixed (about 1 KiB per slot) whatever the load.
type RequestStats struct {
	slot  time.Duration
	now   func() time.Time
	start time.Time // a window never reaches before this
	mu    sync.Mutex
	slots []reqSlot // a ring indexed by slot number
}

type reqSlot struct {
	n       int64 // the slot number (unix time / slot); stale when not the current one
	count   int64
	errors  int64
	buckets [latencyBucketCount]uint32
}

// Latency buckets: microseconds, 8 sub-buckets per power of two, up to
// 2^37 µs (38 hours).
const (
	latencySubBits     = 3
	latencyMaxExp      = 37
	latencyBucketCount = (latencyMaxExp - latencySubBits + 2) << latencySubBits
)

// Default rolling window.
const (
	DefaultRequestWindow = 5 * time.Minute
	requestSlot          = 10 * time.Second
)

// NewRequestStats returns stats over the last window (0 means
// DefaultRequestWindow), in slots of 10 s. now is the clock; nil means
// time.Now.
func NewRequestStats(window time.Duration, now func() time.Time) *RequestStats {
	if window <= 0 {
		window = DefaultRequestWindow
	}
	if now == nil {
		now = time.Now
	}
	n := int((window + requestSlot - 1) / requestSlot)
	return &RequestStats{slot: requestSlot, now: now, start: now(), slots: make([]reqSlot, n)}
}

func latencyBucket(d time.Duration) int {
	us := uint64(d / time.Microsecond)
	if us < 1<<latencySubBits {
		return int(us)
	}
	exp := bits.Len64(us) - 1 // us in [2^exp, 2^(exp+1))
	if exp > latencyMaxExp {
		return latencyBucketCount - 1
	}
	sub := (us >> (exp - latencySubBits)) & (1<<latencySubBits - 1)
	return (exp-latencySubBits+1)<<latencySubBits | int(sub)
}

// latencyUpper is the upper bound of a bucket, in microseconds.
func latencyUpper(b int) float64 {
	if b < 1<<latencySubBits {
		return float64(b + 1)
	}
	exp := b>>latencySubBits + latencySubBits - 1
	sub := b & (1<<latencySubBits - 1)
	base := uint64(1) << exp
	return float64(base + (uint64(sub)+1)<<(exp-latencySubBits))
}

// Observe records one request: its status and how long it took.
func (r *RequestStats) Observe(status int, d time.Duration) {
	n := r.now().UnixNano() / int64(r.slot)
	b := latencyBucket(d)
	r.mu.Lock()
	s := &r.slots[n%int64(len(r.slots))]
	if s.n != n {
		*s = reqSlot{n: n}
	}
	s.count++
	if status >= 500 {
		s.errors++
	}
	s.buckets[b]++
	r.mu.Unlock()
}

// Summary describes the requests of the last window (at most the window
// given to NewRequestStats; 0 means all of it), the current slot included.
func (r *RequestStats) Summary(window time.Duration) contextd.RequestSummary {
	slots := len(r.slots)
	if window > 0 && int(window/r.slot) < slots {
		slots = max(1, int(window/r.slot))
	}
	now := r.now()
	cur := now.UnixNano() / int64(r.slot)
	var sum reqSlot
	r.mu.Lock()
	for i := range r.slots {
		s := &r.slots[i]
		if s.n <= cur-int64(slots) || s.n > cur {
			continue
		}
		sum.count += s.count
		sum.errors += s.errors
		for b, c := range s.buckets {
			sum.buckets[b] += c
		}
	}
	r.mu.Unlock()
	// The window covers the full past slots and the current one so far, and
	// nothing before the stats began.
	span := time.Duration(slots-1)*r.slot + time.Duration(now.UnixNano()%int64(r.slot))
	span = min(span, now.Sub(r.start))
	out := contextd.RequestSummary{WindowSeconds: span.Seconds(), Requests: sum.count, Errors: sum.errors}
	if sum.count == 0 {
		return out
	}
	out.ErrorRate = float64(sum.errors) / float64(sum.count)
	if span > 0 {
		out.RequestsPerSecond = float64(sum.count) / span.Seconds()
	}
	q := func(f float64) float64 {
		rank := uint64(f*float64(sum.count) + 0.5)
		rank = max(rank, 1)
		var seen uint64
		for b, c := range sum.buckets {
			seen += uint64(c)
			if seen >= rank {
				return latencyUpper(b) / 1000
			}
		}
		return latencyUpper(latencyBucketCount-1) / 1000
	}
	out.P50Ms, out.P95Ms, out.P99Ms = q(0.50), q(0.95), q(0.99)
	return out
}
