package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/httpapi"
	"github.com/contextd/contextd/sqlite"
	"github.com/prometheus/client_golang/prometheus"
)

// discardWriter is a ResponseWriter that keeps only the status.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReadPath serves GET /v1/contexts/{id} (API key, 3,000 contexts of
// about 1.5 KB, half of them linked) and GET /health through the whole
// handler, the access log formatted (to io.Discard). Besides ns/op it
// reports cpu-us/op, the process's CPU time per request, which other load
// on the machine disturbs less than wall time.
func BenchmarkReadPath(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, b.TempDir(), sqlite.Options{TopKMinContexts: -1}) // no index build in the background
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	svc := contextd.NewService(st)
	_, key, err := svc.NewAPIKey(ctx, contextd.KeyCreate{Tenant: "t", Role: contextd.RoleReader, Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	sc := contextd.Scope{Tenant: "t"}
	words := strings.Fields("memory context graph relation session search index vector token model answer question")
	r := rand.New(rand.NewPCG(1, 2))
	var ids []string
	for batch := range 3 {
		items := make([]contextd.ContextCreate, 1000)
		for i := range items {
			var sb strings.Builder
			for sb.Len() < 1500 {
				sb.WriteString(words[r.IntN(len(words))])
				sb.WriteByte(' ')
			}
			it := contextd.ContextCreate{
				ID: fmt.Sprintf("c%d-%d", batch, i), Title: "title " + words[r.IntN(len(words))], Content: sb.String(),
				Type: "note", Tags: []string{"a", words[r.IntN(len(words))]}, Metadata: map[string]any{"n": i, "src": "bench"},
			}
			if i%2 == 1 {
				it.Relationships = []contextd.RelationshipCreate{{Type: contextd.RelFollows, TargetID: items[i-1].ID}}
			}
			items[i] = it
		}
		cs, err := st.CreateContexts(ctx, sc, items)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
	}
	h, err := httpapi.NewHandler(httpapi.Config{Service: svc, Registry: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)).With("component", "http")})
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, path func(r *rand.Rand) string) {
		var seed atomic.Uint64
		c0 := cpuTime()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(seed.Add(1), 7))
			w := &discardWriter{}
			for pb.Next() {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, path(r), nil)
				req.RemoteAddr = "127.0.0.1:1234"
				req.Header.Set("Authorization", "Bearer "+key)
				w.h, w.status = http.Header{}, 0
				h.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					b.Errorf("%s: status %d", req.URL.Path, w.status)
					return
				}
			}
		})
		b.StopTimer()
		b.ReportMetric(float64((cpuTime()-c0).Microseconds())/float64(b.N), "cpu-us/op")
	}
	b.Run("get", func(b *testing.B) {
		run(b, func(r *rand.Rand) string { return "/v1/contexts/" + ids[r.IntN(len(ids))] })
	})
	b.Run("health", func(b *testing.B) { run(b, func(*rand.Rand) string { return "/health" }) })
}
