package monitor

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Tracing sets up OpenTelemetry traces from the standard variables, read
// through getenv:
//
//	OTEL_EXPORTER_OTLP_TRACES_ENDPOINT  full URL of the collector's traces endpoint, or
//	OTEL_EXPORTER_OTLP_ENDPOINT         its base URL (/v1/traces is added)
//	OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL  http/protobuf (the default; the only one supported)
//	OTEL_TRACES_EXPORTER                otlp (default) or none
//	OTEL_SDK_DISABLED                   true turns tracing off
//	OTEL_SERVICE_NAME                   default contextd
//
// The SDK itself reads the others from the process environment
// (OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _COMPRESSION, certificates,
// OTEL_TRACES_SAMPLER and _ARG, OTEL_BSP_*, OTEL_RESOURCE_ATTRIBUTES).
//
// With no endpoint, tracing is off: the provider is nil (give nil to
// httpapi, which then creates no spans at all) and shutdown does nothing.
// Otherwise call shutdown at exit to flush the last spans; when logger is
// not nil, it becomes OpenTelemetry's process-wide error handler (export
// failures are logged there instead of on the standard log).
// A bad setting is an error naming it.
func Tracing(ctx context.Context, getenv func(string) string, version string, logger *slog.Logger) (tp trace.TracerProvider, shutdown func(context.Context) error, err error) {
	off := func(context.Context) error { return nil }
	endpoint := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
	setting := "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	if endpoint == "" {
		if base := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT")); base != "" {
			endpoint, setting = strings.TrimRight(base, "/")+"/v1/traces", "OTEL_EXPORTER_OTLP_ENDPOINT"
		}
	}
	if endpoint == "" || strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return nil, off, nil
	}
	switch e := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); e {
	case "", "otlp":
	case "none":
		return nil, off, nil
	default:
		return nil, off, fmt.Errorf("config: OTEL_TRACES_EXPORTER: %q is not supported; use otlp or none", e)
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := strings.TrimSpace(getenv(name)); p != "" {
			if p != "http/protobuf" {
				return nil, off, fmt.Errorf("config: %s: %q is not supported by this build; use http/protobuf", name, p)
			}
			break
		}
	}
	if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, off, fmt.Errorf("config: %s: must be an http(s)://host:port URL (got %q)", setting, endpoint)
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, off, fmt.Errorf("config: %s: %w", setting, err)
	}
	name := strings.TrimSpace(getenv("OTEL_SERVICE_NAME"))
	if name == "" {
		name = "contextd"
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // OTEL_RESOURCE_ATTRIBUTES
		resource.WithAttributes(semconv.ServiceName(name), semconv.ServiceVersion(version)),
	)
	if err != nil {
		return nil, off, fmt.Errorf("config: OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	if logger != nil {
		log := logger.With("component", "tracing")
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("tracing", "err", err) }))
	}
	p := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return p, p.Shutdown, nil
}
