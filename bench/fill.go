package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// filler loads items through a batch route, a few requests at a time.
type filler struct {
	c           *client
	v           *vocabulary
	concurrency int
	batch       int
	seed        uint64
	progress    io.Writer // nil: quiet
	label       string
	links       int // percent of contexts given relationships to earlier ones (see defaultLinks)

	mu    sync.Mutex // guards ids and roots, which grow as batches complete
	ids   []string
	roots []string
}

// fillResult reports a fill.
type fillResult struct {
	Kind        string    `json:"kind"` // "contexts" or "memories"
	Items       int64     `json:"items"`
	Seconds     float64   `json:"seconds"`
	ItemsPerSec float64   `json:"itemsPerSec"`
	Batch       opReport  `json:"batch"` // one line for the batch requests
	CPU         *cpuUsage `json:"cpu,omitempty"`
}

// defaultLinks is the share of filled contexts, in percent, that get one
// outgoing relationship to an earlier context (and half of those a second),
// so that the graph scenario has something to walk.
const defaultLinks = 30

// contexts loads n contexts through POST /v1/contexts/batch.
func (f *filler) contexts(ctx context.Context, n int) (fillResult, error) {
	return f.run(ctx, n, "contexts", "/v1/contexts/batch", func(w *worker, size int) []map[string]any {
		f.mu.Lock()
		known := f.ids
		f.mu.Unlock()
		items := make([]map[string]any, size)
		for i := range items {
			item := w.contextItem()
			if len(known) > 0 && w.r.IntN(100) < f.links {
				rels := []map[string]any{{"type": "RELATES_TO", "targetId": w.pick(known)}}
				if w.r.IntN(2) == 0 {
					rels = append(rels, map[string]any{"type": "DERIVED_FROM", "targetId": w.pick(known)})
				}
				item["relationships"] = rels
			}
			items[i] = item
		}
		return items
	})
}

// memories loads n memories through POST /v1/memories/batch.
func (f *filler) memories(ctx context.Context, n int) (fillResult, error) {
	return f.run(ctx, n, "memories", "/v1/memories/batch", func(w *worker, size int) []map[string]any {
		items := make([]map[string]any, size)
		for i := range items {
			items[i] = w.memoryItem()
		}
		return items
	})
}

func (f *filler) run(ctx context.Context, n int, kind, path string, gen func(*worker, int) []map[string]any) (fillResult, error) {
	res := fillResult{Kind: kind}
	if n <= 0 {
		return res, nil
	}
	batches := (n + f.batch - 1) / f.batch
	var next, done atomic.Int64
	var firstErr error
	var errOnce sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	stopBar := f.startBar(n, &done)
	start := time.Now()
	var wg sync.WaitGroup
	workers := make([]*worker, f.concurrency)
	for i := range workers {
		w := newWorker(f.v, &pool{}, f.seed*7919+uint64(i)+1)
		workers[i] = w
		wg.Go(func() {
			for ctx.Err() == nil {
				b := int(next.Add(1)) - 1
				if b >= batches {
					return
				}
				size := min(f.batch, n-b*f.batch)
				items := gen(w, size)
				body := mustJSON(map[string]any{"items": items})
				var out struct {
					Items []struct {
						ID            string `json:"id"`
						Relationships []struct {
							SourceID string `json:"sourceId"`
						} `json:"relationships"`
					} `json:"items"`
				}
				t0 := time.Now()
				status, err := f.c.do(asTenant(ctx, b), http.MethodPost, path, body, &out)
				d := time.Since(t0)
				s := w.statsOf(opFill)
				if err != nil {
					if ctx.Err() == nil || status != 0 {
						s.errors[errorKey(status, err)]++
					}
					errOnce.Do(func() {
						firstErr = fmt.Errorf("%s batch %d of %d: %w", kind, b+1, batches, err)
						cancel()
					})
					return
				}
				s.hist.Record(d)
				done.Add(int64(size))
				if kind == "contexts" {
					f.mu.Lock()
					for _, it := range out.Items {
						f.ids = append(f.ids, it.ID)
						for _, r := range it.Relationships {
							if r.SourceID == it.ID {
								f.roots = append(f.roots, it.ID)
								break
							}
						}
					}
					f.mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopBar()

	agg := &opStats{hist: newHistogram(), errors: make(map[string]int64)}
	for _, w := range workers {
		if s := w.stats[opFill]; s != nil {
			agg.hist.Merge(s.hist)
			for k, c := range s.errors {
				agg.errors[k] += c
			}
		}
	}
	res.Items = done.Load()
	res.Seconds = elapsed.Seconds()
	if elapsed > 0 {
		res.ItemsPerSec = float64(res.Items) / elapsed.Seconds()
	}
	res.Batch = newOpReport(opFill+" ("+kind+")", agg, elapsed)
	res.Batch.ItemsPerSec = res.ItemsPerSec
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return res, firstErr
}

// startBar draws a progress bar on f.progress until the returned function
// is called: redrawn in place on a terminal, a line every 10% otherwise.
func (f *filler) startBar(total int, done *atomic.Int64) (stop func()) {
	if f.progress == nil {
		return func() {}
	}
	tty := isTerminal(f.progress)
	start := time.Now()
	draw := func(final bool) {
		n := done.Load()
		frac := float64(n) / float64(total)
		const width = 30
		filled := int(frac * width)
		el := time.Since(start).Seconds()
		rate := 0.0
		if el > 0 {
			rate = float64(n) / el
		}
		eta := "-"
		if rate > 0 && !final {
			eta = (time.Duration(float64(int64(total)-n)/rate) * time.Second).Round(time.Second).String()
		}
		line := fmt.Sprintf("%s [%s%s] %d/%d %3.0f%%  %.0f/s  %.1fs  eta %s",
			f.label, strings.Repeat("#", filled), strings.Repeat(".", width-filled),
			n, total, 100*frac, rate, el, eta)
		if tty {
			fmt.Fprintf(f.progress, "\r%-100s", line)
			if final {
				fmt.Fprintln(f.progress)
			}
		} else {
			fmt.Fprintln(f.progress, line)
		}
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		lastTenth := int64(0)
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				if tty {
					draw(false)
				} else if tenth := 10 * done.Load() / int64(total); tenth > lastTenth && tenth < 10 {
					lastTenth = tenth
					draw(false)
				}
			}
		}
	})
	return func() {
		close(quit)
		wg.Wait()
		draw(true)
	}
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// discover pages through GET /v1/contexts for up to max ids; contexts that
// carry relationships become graph roots.
func discover(ctx context.Context, c *client, max int) (*pool, error) {
	p := &pool{}
	cursor := ""
	for len(p.ids) < max {
		q := url.Values{"limit": {"100"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page struct {
			Items []struct {
				ID            string            `json:"id"`
				Relationships []json.RawMessage `json:"relationships"`
			} `json:"items"`
			NextCursor *string `json:"nextCursor"`
		}
		if _, err := c.do(ctx, http.MethodGet, "/v1/contexts?"+q.Encode(), nil, &page); err != nil {
			return nil, fmt.Errorf("listing contexts: %w", err)
		}
		for _, it := range page.Items {
			p.ids = append(p.ids, it.ID)
			if len(it.Relationships) > 0 {
				p.roots = append(p.roots, it.ID)
			}
		}
		if page.NextCursor == nil || *page.NextCursor == "" || len(page.Items) == 0 {
			break
		}
		cursor = *page.NextCursor
	}
	return p, nil
}

// link makes relationships between contexts of p until it has at least
// want graph roots; relationships that exist already (409) are fine.
func link(ctx context.Context, c *client, p *pool, want int, seed uint64) error {
	if len(p.ids) < 2 {
		return errors.New("the graph scenario needs at least two contexts")
	}
	w := newWorker(newVocabulary(vocabularySeed, 10), p, seed)
	seen := make(map[string]bool, len(p.roots))
	for _, id := range p.roots {
		seen[id] = true
	}
	for tries := 0; len(p.roots) < want && tries < 4*want; tries++ {
		src, dst := w.pick(p.ids), w.pick(p.ids)
		if src == dst {
			continue
		}
		status, err := c.doJSON(ctx, http.MethodPost, "/v1/contexts/"+url.PathEscape(src)+"/relationships",
			map[string]any{"type": "RELATES_TO", "targetId": dst}, nil)
		if err != nil && status != http.StatusConflict {
			return fmt.Errorf("linking contexts: %w", err)
		}
		if !seen[src] {
			seen[src] = true
			p.roots = append(p.roots, src)
		}
	}
	return nil
}

// dirSize returns the bytes of the regular files under dir.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	return n, err
}
