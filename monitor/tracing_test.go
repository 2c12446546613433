package monitor_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/contextd/contextd/monitor"
)

func TestTracing(t *testing.T) {
	ctx := context.Background()
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	// Off: no endpoint, disabled, or exporter none.
	for _, getenv := range []func(string) string{
		env(),
		env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://x:4318", "OTEL_SDK_DISABLED", "true"),
		env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://x:4318", "OTEL_TRACES_EXPORTER", "none"),
	} {
		tp, shutdown, err := monitor.Tracing(ctx, getenv, "v1", nil)
		if tp != nil || err != nil || shutdown(ctx) != nil {
			t.Errorf("tracing should be off: %v %v", tp, err)
		}
	}
	// Bad settings name themselves.
	for setting, getenv := range map[string]func(string) string{
		"OTEL_EXPORTER_OTLP_PROTOCOL":        env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://x:4318", "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
		"OTEL_TRACES_EXPORTER":               env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://x:4318", "OTEL_TRACES_EXPORTER", "zipkin"),
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "x:4318"),
	} {
		if _, _, err := monitor.Tracing(ctx, getenv, "v1", nil); err == nil || !strings.Contains(err.Error(), setting) {
			t.Errorf("%s: %v", setting, err)
		}
	}

	// On: spans reach the collector's /v1/traces as OTLP protobuf.
	got := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Method + " " + r.URL.Path + " " + r.Header.Get("Content-Type")
	}))
	defer srv.Close()
	tp, shutdown, err := monitor.Tracing(ctx, env("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL+"/"), "v1", nil)
	if err != nil || tp == nil {
		t.Fatalf("tracing on: %v", err)
	}
	_, span := tp.Tracer("test").Start(ctx, "op")
	span.End()
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case req := <-got:
		if req != "POST /v1/traces application/x-protobuf" {
			t.Errorf("collector got %q", req)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no spans exported")
	}
}
