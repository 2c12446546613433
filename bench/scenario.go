package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Operation names, as reported.
const (
	opHealth       = "health"
	opCreate       = "create"
	opGet          = "get"
	opUpdate       = "update"
	opList         = "list"
	opSearch       = "search"
	opMemoryWrite  = "memory-write"
	opMemorySearch = "memory-search"
	opGraph        = "graph"
	opSemantic     = "semantic"
	opHybrid       = "hybrid"
	opFill         = "fill-batch"
)

// scenarioNames lists the scenarios in the order "all" runs them.
var scenarioNames = []string{opHealth, opCreate, opGet, opUpdate, opList, opSearch,
	opMemoryWrite, opMemorySearch, opGraph, "mixed"}

// vectorScenarios run only when named: they need the server's embedder,
// which may be a paid remote service (EMBEDDINGS_PROVIDER=openai) or off.
var vectorScenarios = []string{opSemantic, opHybrid}

// mixedWeights is the blend of the mixed scenario, in percent: 60% reads,
// 25% searches, 15% writes.
var mixedWeights = []struct {
	op     string
	weight int
}{
	{opGet, 40}, {opList, 10}, {opGraph, 10}, // reads
	{opSearch, 20}, {opMemorySearch, 5}, // searches
	{opCreate, 7}, {opUpdate, 5}, {opMemoryWrite, 3}, // writes
}

// needs says what a scenario needs before it starts.
func needs(scenario string) (contexts, graph, memories bool) {
	switch scenario {
	case opGet, opUpdate:
		return true, false, false
	case opGraph:
		return true, true, false
	case opMemorySearch:
		return false, false, true
	case "mixed":
		return true, true, true
	}
	return false, false, false
}

// pool holds what the operations pick from: ids of existing contexts and of
// contexts with relationships. It is read-only while a scenario runs.
type pool struct {
	ids   []string
	roots []string

	getPaths []string // "/v1/contexts/" + the escaped id, by index of ids (see makeGetPaths)
}

// makeGetPaths makes the paths of GET /v1/contexts/{id} for the pool's ids
// once, before a phase, instead of once per request.
func (p *pool) makeGetPaths() {
	if len(p.getPaths) == len(p.ids) {
		return
	}
	p.getPaths = make([]string, len(p.ids))
	for i, id := range p.ids {
		p.getPaths[i] = "/v1/contexts/" + url.PathEscape(id)
	}
}

// getPath returns the path of GET /v1/contexts/{id} of the i-th id.
func (p *pool) getPath(i int) string {
	if len(p.getPaths) == len(p.ids) {
		return p.getPaths[i]
	}
	return "/v1/contexts/" + url.PathEscape(p.ids[i])
}

// request is one prepared HTTP call. Preparing (generating text, encoding
// JSON) happens before the clock starts.
type request struct {
	op     string
	method string
	path   string
	body   []byte
}

// worker issues requests one after another with its own generators and
// histograms.
type worker struct {
	r     *rand.Rand
	text  *textGen
	pool  *pool
	stats map[string]*opStats
}

// opStats is what a worker saw of one operation.
type opStats struct {
	hist   *histogram
	errors map[string]int64
	sample string // the first error message, to show what went wrong
}

func newWorker(v *vocabulary, p *pool, seed uint64) *worker {
	return &worker{
		r:     rand.New(rand.NewPCG(seed, seed^0xda3e39cb94b95bdb)),
		text:  newTextGen(v, seed),
		pool:  p,
		stats: make(map[string]*opStats),
	}
}

func (w *worker) statsOf(op string) *opStats {
	s := w.stats[op]
	if s == nil {
		s = &opStats{hist: newHistogram(), errors: make(map[string]int64)}
		w.stats[op] = s
	}
	return s
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("bench: " + err.Error()) // only maps and strings of ours: cannot fail
	}
	return b
}

func (w *worker) pick(ids []string) string { return ids[w.r.IntN(len(ids))] }

// contextItem returns a new context like a user's: ~1 KB of text, a title,
// tags, a type, metadata and, one time in five, a session.
func (w *worker) contextItem() map[string]any {
	g := w.text
	item := map[string]any{
		"title":    g.Title(),
		"content":  g.Content(),
		"type":     g.Type(),
		"status":   g.Status(),
		"metadata": g.Metadata(),
	}
	if tags := g.Tags(); len(tags) > 0 {
		item["tags"] = tags
	}
	if w.r.IntN(5) == 0 {
		item["sessionId"] = "bench-session-" + strconv.Itoa(w.r.IntN(500))
	}
	return item
}

// memoryItem returns a new memory of one to three sentences.
func (w *worker) memoryItem() map[string]any {
	g := w.text
	item := map[string]any{
		"type":       memoryTypes[w.r.IntN(len(memoryTypes))],
		"content":    g.Text(80 + w.r.IntN(220)),
		"importance": importances[w.r.IntN(len(importances))],
		"confidence": float64(50+w.r.IntN(51)) / 100,
		"source":     memorySources[w.r.IntN(len(memorySources))],
		"sessionId":  "bench-memories-" + strconv.Itoa(w.r.IntN(200)),
	}
	if w.r.IntN(2) == 0 {
		item["tags"] = []string{g.Tag()}
	}
	return item
}

// vectorSearch is the body of a semantic or hybrid search: 2-4 words, top
// 10, half of them filtered (by type, by a tag, or by type and metadata),
// since a vector search must apply the filters before it ranks.
func (w *worker) vectorSearch(mode string) map[string]any {
	body := map[string]any{"query": w.text.Query(), "mode": mode, "limit": 10}
	switch w.r.IntN(6) {
	case 0:
		body["filters"] = map[string]any{"type": []string{w.text.Type()}}
	case 1:
		body["filters"] = map[string]any{"tags": []string{w.text.Tag()}}
	case 2:
		body["filters"] = map[string]any{"type": []string{w.text.Type()}, "metadata": map[string]any{"project": projects[w.r.IntN(len(projects))]}}
	}
	return body
}

// next prepares the next request of a scenario.
func (w *worker) next(scenario string) request {
	if scenario == "mixed" {
		n := w.r.IntN(100)
		for _, m := range mixedWeights {
			if n < m.weight {
				scenario = m.op
				break
			}
			n -= m.weight
		}
	}
	switch scenario {
	case opHealth:
		return request{op: opHealth, method: http.MethodGet, path: "/health"}
	case opCreate:
		return request{op: opCreate, method: http.MethodPost, path: "/v1/contexts", body: mustJSON(w.contextItem())}
	case opGet:
		return request{op: opGet, method: http.MethodGet, path: w.pool.getPath(w.r.IntN(len(w.pool.ids)))}
	case opUpdate:
		body := map[string]any{"title": w.text.Title(), "content": w.text.Content()}
		if tags := w.text.Tags(); len(tags) > 0 {
			body["tags"] = tags
		}
		return request{op: opUpdate, method: http.MethodPatch,
			path: "/v1/contexts/" + url.PathEscape(w.pick(w.pool.ids)), body: mustJSON(body)}
	case opList:
		q := url.Values{"limit": {"20"}}
		switch w.r.IntN(4) {
		case 0:
			q.Set("tag", w.text.Tag())
		case 1:
			q.Set("type", w.text.Type())
		}
		return request{op: opList, method: http.MethodGet, path: "/v1/contexts?" + q.Encode()}
	case opSearch:
		return request{op: opSearch, method: http.MethodPost, path: "/v1/search",
			body: mustJSON(map[string]any{"query": w.text.Query(), "limit": 10})}
	case opSemantic, opHybrid:
		return request{op: scenario, method: http.MethodPost, path: "/v1/search", body: mustJSON(w.vectorSearch(scenario))}
	case opMemoryWrite:
		return request{op: opMemoryWrite, method: http.MethodPost, path: "/v1/memories", body: mustJSON(w.memoryItem())}
	case opMemorySearch:
		return request{op: opMemorySearch, method: http.MethodPost, path: "/v1/memories/search",
			body: mustJSON(map[string]any{"query": w.text.Query(), "limit": 10})}
	case opGraph:
		return request{op: opGraph, method: http.MethodGet,
			path: "/v1/contexts/" + url.PathEscape(w.pick(w.pool.roots)) + "/graph?depth=2&direction=both"}
	}
	panic("bench: unknown scenario " + scenario)
}

// phase is one timed run of a scenario.
type phase struct {
	scenario    string
	concurrency int
	duration    time.Duration // stop starting requests after this long
	count       int64         // and after this many requests (0: no count)
	seed        uint64
}

// phaseResult is what the workers of a phase saw together.
type phaseResult struct {
	elapsed time.Duration
	ops     map[string]*opStats
}

// runPhase runs p's workers until its duration passes or its count is
// reached; a request started before the end is waited for (its own timeout
// bounds it). It returns early, with what it has, when ctx is cancelled.
func runPhase(ctx context.Context, c *client, v *vocabulary, pl *pool, p phase) phaseResult {
	var left atomic.Int64
	left.Store(p.count)
	start := time.Now()
	stopAt := start.Add(p.duration)
	workers := make([]*worker, p.concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		w := newWorker(v, pl, p.seed*1000003+uint64(i)+1)
		workers[i] = w
		wg.Go(func() {
			wc := c.wire() // nil: through net/http
			if wc != nil {
				defer wc.close()
			}
			for ctx.Err() == nil && time.Now().Before(stopAt) {
				if p.count > 0 && left.Add(-1) < 0 {
					return
				}
				req := w.next(p.scenario)
				rctx := ctx
				if len(c.tokens) > 0 {
					rctx = asTenant(ctx, w.r.IntN(len(c.tokens)))
				}
				t0 := time.Now()
				var (
					status int
					err    error
				)
				if wc != nil {
					status, err = wc.do(rctx, req.method, req.path, req.body)
				} else {
					status, err = c.do(rctx, req.method, req.path, req.body, nil)
				}
				d := time.Since(t0)
				if ctx.Err() != nil {
					return // interrupted: not the server's error
				}
				s := w.statsOf(req.op)
				if err != nil {
					s.errors[errorKey(status, err)]++
					if s.sample == "" {
						s.sample = req.method + " " + req.path + ": " + err.Error()
					}
					continue
				}
				s.hist.Record(d)
			}
		})
	}
	wg.Wait()
	res := phaseResult{elapsed: time.Since(start), ops: make(map[string]*opStats)}
	for _, w := range workers {
		for op, s := range w.stats {
			m := res.ops[op]
			if m == nil {
				m = &opStats{hist: newHistogram(), errors: make(map[string]int64)}
				res.ops[op] = m
			}
			m.hist.Merge(s.hist)
			for k, n := range s.errors {
				m.errors[k] += n
			}
			if m.sample == "" {
				m.sample = s.sample
			}
		}
	}
	return res
}

// opReport is one line of the report.
type opReport struct {
	Op        string           `json:"op"`
	Count     uint64           `json:"count"`            // successful requests
	Errors    map[string]int64 `json:"errors,omitempty"` // failed requests by status, "timeout" or "transport"
	ErrorText string           `json:"firstError,omitempty"`
	OpsPerSec float64          `json:"opsPerSec"` // successful requests per second of the phase
	MeanMs    float64          `json:"meanMs"`
	P50Ms     float64          `json:"p50Ms"`
	P95Ms     float64          `json:"p95Ms"`
	P99Ms     float64          `json:"p99Ms"`
	MaxMs     float64          `json:"maxMs"`
	// ItemsPerSec is set for batch operations: items stored per second.
	ItemsPerSec float64 `json:"itemsPerSec,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func newOpReport(op string, s *opStats, elapsed time.Duration) opReport {
	h := s.hist
	r := opReport{Op: op, Count: h.Count(), ErrorText: s.sample,
		MeanMs: ms(h.Mean()), P50Ms: ms(h.Quantile(.50)), P95Ms: ms(h.Quantile(.95)),
		P99Ms: ms(h.Quantile(.99)), MaxMs: ms(h.Max())}
	if len(s.errors) > 0 {
		r.Errors = s.errors
	}
	if elapsed > 0 {
		r.OpsPerSec = float64(h.Count()) / elapsed.Seconds()
	}
	return r
}

// reports returns one line per operation, sorted by name, and a total line
// when there are several.
func (res phaseResult) reports() []opReport {
	ops := make([]string, 0, len(res.ops))
	for op := range res.ops {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	out := make([]opReport, 0, len(ops)+1)
	total := &opStats{hist: newHistogram(), errors: make(map[string]int64)}
	for _, op := range ops {
		s := res.ops[op]
		out = append(out, newOpReport(op, s, res.elapsed))
		total.hist.Merge(s.hist)
		for k, n := range s.errors {
			total.errors[k] += n
		}
	}
	if len(ops) > 1 {
		out = append(out, newOpReport("total", total, res.elapsed))
	}
	return out
}

// errorCount returns the failed requests of a report line.
func (r opReport) errorCount() int64 {
	var n int64
	for _, c := range r.Errors {
		n += c
	}
	return n
}

func (r opReport) errorSummary() string {
	if len(r.Errors) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(r.Errors))
	for k := range r.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf("%d×%s", r.Errors[k], k)
	}
	return s
}
