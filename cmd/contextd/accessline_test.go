package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestAccessLineAsHandler: the access formatter writes every record it
// takes byte for byte as the server's handler (newLogger's, text and JSON)
// does, and leaves to the handler the records it would write otherwise.
func TestAccessLineAsHandler(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	plain := []string{"", "GET", "/v1/contexts/01J9ABCDEF", "key:01HX", "jwt:sub/uid", "default", "ok-_.:/+@~,;!*'()[]{}$&?%#^|<>`"}
	odd := []string{"a b", `q"uote`, `back\slash`, "eq=ual", "tab\t", "nl\n", "é", "\x00", "\xff", "\u2028", "\x7f"}
	floats := []float64{0, 0.001, 0.123, 1, 1.5, 12.345, 999999, 1e6, 1234567.891, 1e20, 1e21, 1e-7, -0.5,
		math.Copysign(0, -1), math.Inf(1), math.NaN()}
	times := []time.Time{
		time.Date(2026, 11, 26, 16, 48, 51, 625_000_000, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 999_999_999, time.FixedZone("x", 3600)),
		time.Date(2026, 1, 2, 3, 4, 5, 100_000, time.UTC),
		time.Now(), // with a monotonic reading
		{},
		time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	pick := func() string {
		if r.IntN(40) == 0 {
			return odd[r.IntN(len(odd))]
		}
		return plain[r.IntN(len(plain))]
	}
	pres := [][]slog.Attr{nil, {slog.String("component", "http")}, {slog.String("component", "http"), slog.Int("shard", 3), slog.Attr{}}}
	for n := range 2 * len(pres) {
		format, pre := []string{"text", "json"}[n%2], pres[n/2]
		var want, got bytes.Buffer
		h := newLogger(&Config{LogFormat: format, LogLevel: "info"}, &want).Handler()
		f := &accessFormat{json: format == "json"}
		if pre != nil {
			h, f = h.WithAttrs(pre), f.with(pre)
		}
		fast, slow := 0, 0
		for i := range 4000 {
			msg, level := "request", slog.LevelInfo
			if i%50 == 0 {
				msg = pick()
			}
			if i%70 == 0 {
				level = slog.LevelWarn
			}
			rec := slog.NewRecord(times[r.IntN(len(times))], level, msg, 0)
			trace := slog.Attr{}
			if r.IntN(3) == 0 {
				trace = slog.String("traceId", pick())
			}
			rec.AddAttrs(
				slog.String("requestId", pick()),
				trace,
				slog.String("method", pick()),
				slog.String("route", pick()),
				slog.String("path", pick()),
				slog.Int("status", 100+r.IntN(500)),
				slog.Float64("durationMs", floats[r.IntN(len(floats))*min(1, r.IntN(4))]),
				slog.Int64("bytes", r.Int64N(1<<40)-5),
				slog.String("tenant", pick()),
				slog.String("principal", pick()),
			)
			if i%90 == 0 {
				rec.AddAttrs(slog.Bool("odd", true), slog.Duration("d", time.Second))
			}
			if i%95 == 0 {
				rec.AddAttrs(slog.String(pick(), "v"))
			}
			want.Reset()
			if err := h.Handle(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
			if !f.fits(rec) {
				slow++
				continue
			}
			fast++
			got.Reset()
			got.Write(f.format(nil, rec))
			if got.String() != want.String() {
				t.Fatalf("%s record %d:\n got %q\nwant %q", format, i, got.String(), want.String())
			}
		}
		if fast < 500 || slow < 500 {
			t.Fatalf("%s: %d records formatted, %d left to the handler: the test covers too little", format, fast, slow)
		}
	}
}

// TestAccessFormatWith: attributes the formatter does not write turn it
// off for the handler that has them.
func TestAccessFormatWith(t *testing.T) {
	f := &accessFormat{}
	if f.with([]slog.Attr{slog.String("component", "http")}) == nil {
		t.Fatal("a plain attribute turned the formatter off")
	}
	for _, a := range []slog.Attr{slog.String("c", "a b"), slog.Bool("b", true), slog.Any("x", []int{1}), slog.Group("g", "k", 1)} {
		if f.with([]slog.Attr{a}) != nil {
			t.Errorf("%v: kept the formatter", a)
		}
	}
	var out lockedBuffer
	buf := newLogBuffer(&out)
	h := bufferedHandler{Handler: slog.NewTextHandler(buf, nil), buf: buf, fast: f}
	if h.WithGroup("g").(bufferedHandler).fast != nil || h.WithAttrs([]slog.Attr{slog.Bool("b", true)}).(bufferedHandler).fast != nil {
		t.Fatal("a group or an odd attribute kept the formatter")
	}
}

// TestBufferedHandlerAccessLines: through bufferedHandler, access lines the
// formatter takes and those it leaves come out as the handler writes them,
// in order; a handler with attributes does not use the formatter.
func TestBufferedHandlerAccessLines(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var want bytes.Buffer
		out := &lockedBuffer{}
		buf := newLogBuffer(out)
		cfg := &Config{LogFormat: format, LogLevel: "info"}
		log := slog.New(bufferedHandler{Handler: newLogger(cfg, buf).Handler(), buf: buf, fast: &accessFormat{json: format == "json"}})
		ref := slog.New(newLogger(cfg, &want).Handler())
		for _, l := range []*slog.Logger{log, ref} {
			l.Info("request", "requestId", "01ABC", "path", "/v1/x", "status", 200, "durationMs", 0.25)
			l.Info("request", "requestId", "01ABC", "path", "/v1/a b", "status", 404, "durationMs", 1.5)
			l.With("component", "http").Info("request", "status", 200)
			l.Warn("something", "n", 3)
		}
		if err := buf.Close(); err != nil {
			t.Fatal(err)
		}
		strip := func(s string) string { // the times differ
			var b bytes.Buffer
			for _, line := range bytes.Split([]byte(s), []byte("\n")) {
				if i := bytes.Index(line, []byte("level")); i >= 0 {
					b.Write(line[i:])
				}
				b.WriteByte('\n')
			}
			return b.String()
		}
		if strip(out.String()) != strip(want.String()) {
			t.Fatalf("%s:\n got %s\nwant %s", format, out.String(), want.String())
		}
	}
}

// BenchmarkAccessLine: one access line through the server's text handler
// (as before) and through the access formatter, both into a logBuffer.
func BenchmarkAccessLine(b *testing.B) {
	rec := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
	rec.AddAttrs(slog.String("requestId", "01M8CD6320RY69KTWC80ZJR5BP"), slog.Attr{}, slog.String("method", "GET"),
		slog.String("route", "/v1/contexts/{id}"), slog.String("path", "/v1/contexts/01M8CD6320RY69KTWC80ZJR5BQ"),
		slog.Int("status", 200), slog.Float64("durationMs", 0.412), slog.Int64("bytes", 1534),
		slog.String("tenant", "default"), slog.String("principal", "key:01M8CC51X91G7DGSH51EBVN26E"))
	for _, fast := range []bool{false, true} {
		b.Run(map[bool]string{false: "handler", true: "formatter"}[fast], func(b *testing.B) {
			buf := newLogBuffer(io.Discard)
			defer buf.Close()
			h := slog.Handler(bufferedHandler{Handler: newLogger(&Config{LogFormat: "text", LogLevel: "info"}, buf).Handler(), buf: buf})
			if fast {
				h = bufferedHandler{Handler: h.(bufferedHandler).Handler, buf: buf, fast: &accessFormat{}}
			}
			h = h.WithAttrs([]slog.Attr{slog.String("component", "http")})
			b.ReportAllocs()
			for b.Loop() {
				_ = h.Handle(context.Background(), rec)
			}
		})
	}
}
