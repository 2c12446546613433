package bench

import (
	"math"
	"math/bits"
	"time"
)

// Histogram buckets: values below 2^subBits microseconds are counted
// exactly; above, each power of two is split into 2^(subBits-1) buckets,
// so a reported quantile is within 1/64 (1.6%) of the true value. The
// memory is fixed (about 30 KB) however many values are recorded.
const (
	subBits    = 7
	subCount   = 1 << subBits // 128 exact buckets
	halfCount  = subCount / 2 // 64 buckets per power of two above
	numBuckets = subCount + (64-subBits)*halfCount
)

// histogram records latencies in log-linear buckets of microseconds, like
// an HDR histogram with two significant digits. It is not safe for
// concurrent use: each worker keeps its own and they are merged.
type histogram struct {
	counts [numBuckets]uint64
	n      uint64
	sum    time.Duration
	min    time.Duration
	max    time.Duration
}

func newHistogram() *histogram { return &histogram{min: math.MaxInt64} }

// bucketOf returns the bucket index of v microseconds.
func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits // >= 1
	top := v >> shift                // in [64, 128)
	return subCount + (shift-1)*halfCount + int(top-halfCount)
}

// bucketHigh returns the highest value, in microseconds, that falls into bucket i.
func bucketHigh(i int) uint64 {
	if i < subCount {
		return uint64(i)
	}
	shift := (i-subCount)/halfCount + 1
	top := uint64((i-subCount)%halfCount + halfCount)
	return (top+1)<<shift - 1
}

// Record adds one latency.
func (h *histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d/time.Microsecond))]++
	h.n++
	h.sum += d
	h.min = min(h.min, d)
	h.max = max(h.max, d)
}

// Merge adds every value of o.
func (h *histogram) Merge(o *histogram) {
	if o == nil || o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
}

// Count returns the number of values recorded.
func (h *histogram) Count() uint64 { return h.n }

// Max returns the largest value recorded, exactly.
func (h *histogram) Max() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.max
}

// Mean returns the average, exactly.
func (h *histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}

// Quantile returns the value below or at which a fraction q of the values
// lie (q in [0, 1]), to within the bucket's resolution and never beyond the
// recorded minimum and maximum.
func (h *histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := time.Duration(bucketHigh(i))*time.Microsecond + time.Microsecond - 1
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}
