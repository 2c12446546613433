package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/httpapi"
	"github.com/contextd/contextd/mcpapi"
	"github.com/contextd/contextd/sqlite"
	"github.com/prometheus/client_golang/prometheus"
)

// openStore opens the configured store.
func openStore(ctx context.Context, cfg *Config, logger *slog.Logger) (contextd.Store, error) {
	switch cfg.Store {
	case "sqlite":
		return sqlite.Open(ctx, cfg.DataDir, sqlite.Options{CacheSizeMB: cfg.CacheSizeMB, Logger: logger})
	case "neo4j":
		return nil, &configError{"STORE", "neo4j is not available in this build yet; use sqlite"}
	}
	return nil, &configError{"STORE", "unknown store " + strconv.Quote(cfg.Store)}
}

func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	level, _ := parseLevel(cfg.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fset := newFlagSet("serve", stderr)
	cfg, err := loadConfig(fset, args, getenv)
	if err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return usageError{fmt.Sprintf("serve takes no arguments (got %q)", fset.Arg(0))}
	}
	logger := newLogger(cfg, stderr)
	started := time.Now()

	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			logger.Error("closing the store", "err", err)
		}
	}()
	reg := prometheus.NewRegistry()
	var served contextd.Store = store
	if cfg.PerformanceMonitoring {
		if served, err = httpapi.InstrumentStore(store, reg); err != nil {
			return err
		}
	}
	svc := contextd.NewService(served)
	if err := bootstrapAdminKey(ctx, svc, stdout); err != nil {
		return err
	}

	handler, err := httpapi.NewHandler(httpapi.Config{
		Service:        svc,
		Logger:         logger.With("component", "http"),
		Registry:       reg,
		MCP:            mcpapi.NewHTTPHandler(svc, mcpapi.Options{Version: buildVersion(), Logger: logger.With("component", "mcp")}),
		RequestTimeout: time.Duration(cfg.RequestTimeout),
		CORSOrigin:     cfg.CORSOrigin,
		MaxBodyBytes:   cfg.MaxBodyBytes,
		JWTSecret:      []byte(cfg.JWTSecret),
		Version:        buildVersion(),
		StartedAt:      started,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return &configError{"PORT", err.Error()}
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info("contextd listening", "addr", ln.Addr().String(), "url", "http://"+ln.Addr().String(),
		"store", store.Kind(), "env", cfg.Env, "version", buildVersion())

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down: draining requests", "timeout", time.Duration(cfg.ShutdownTimeout).String())
	sctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.ShutdownTimeout))
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Warn("shutdown did not drain every request", "err", err)
	}
	logger.Info("stopped")
	return nil
}

// bootstrapAdminKey makes the first admin key of an empty store and prints it
// once; only its hash is kept.
func bootstrapAdminKey(ctx context.Context, svc *contextd.Service, stdout io.Writer) error {
	n, err := svc.Store.CountAPIKeys(ctx)
	if err != nil {
		return fmt.Errorf("counting API keys: %w", err)
	}
	if n > 0 {
		return nil
	}
	_, key, err := svc.NewAPIKey(ctx, contextd.KeyCreate{Tenant: "default", Role: contextd.RoleAdmin, Name: "bootstrap-admin"})
	if err != nil {
		return fmt.Errorf("creating the first admin key: %w", err)
	}
	fmt.Fprintf(stdout, `
==============================================================================
 contextd: first start. An admin API key was created for tenant "default".
 It is shown only this once (only its hash is stored). Keep it safe:

   %s

 Use it as:  curl -H "Authorization: Bearer %s" ...
 Make more:  contextd keys create --tenant default --role writer
==============================================================================

`, key, key)
	return nil
}
