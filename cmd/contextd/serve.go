package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/backup"
	"github.com/contextd/contextd/embed"
	"github.com/contextd/contextd/httpapi"
	"github.com/contextd/contextd/mcpapi"
	"github.com/contextd/contextd/monitor"
	"github.com/contextd/contextd/neo4j"
	"github.com/contextd/contextd/sqlite"
	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/natefinch/lumberjack.v2"
)

// openStore opens the configured store.
func openStore(ctx context.Context, cfg *Config, logger *slog.Logger) (contextd.Store, error) {
	switch cfg.Store {
	case "sqlite":
		s, err := sqlite.Open(ctx, cfg.DataDir, sqliteOptions(cfg, logger))
		if err != nil {
			return nil, storeKeyError(previousKeyError(cfg, err))
		}
		return s, nil
	case "neo4j":
		s, err := neo4j.Open(ctx, neo4j.Options{URI: cfg.Neo4jURI, Username: cfg.Neo4jUsername,
			Password: cfg.Neo4jPassword, Database: cfg.Neo4jDatabase, Namespace: cfg.Neo4jNamespace, Logger: logger,
			MaxPoolSize: cfg.Neo4jMaxPoolSize, ConnectTimeout: time.Duration(cfg.Neo4jConnectTimeout),
			AcquireTimeout: time.Duration(cfg.Neo4jAcquireTimeout), TxTimeout: time.Duration(cfg.Neo4jTxTimeout),
			MaxRetryTime: time.Duration(cfg.Neo4jMaxRetryTime)})
		if err != nil {
			return nil, err
		}
		return s, nil
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

// The rotation of LOG_FILE: a new file every 100 MiB, old ones gzipped and
// removed after 30 days.
const (
	logFileMaxMB   = 100
	logFileMaxDays = 30
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fset := newFlagSet("serve", stderr)
	cfg, err := loadConfig(fset, args, getenv)
	if err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return usageError{fmt.Sprintf("serve takes no arguments (got %q)", fset.Arg(0))}
	}
	logOut := stderr
	if cfg.LogFile != "" {
		lj := &lumberjack.Logger{Filename: cfg.LogFile, MaxSize: logFileMaxMB, MaxAge: logFileMaxDays, Compress: true}
		defer lj.Close()
		logOut = io.MultiWriter(stderr, lj)
	}
	logBuf := newLogBuffer(logOut) // access lines batched (logbuffer.go); closed last
	defer logBuf.Close()
	logger := slog.New(bufferedHandler{Handler: newLogger(cfg, logBuf).Handler(), buf: logBuf,
		fast: &accessFormat{json: cfg.LogFormat == "json"}}) // as newLogger's handler writes them
	started := time.Now()
	setGoMemoryLimit(cfg, getenv, logger)

	if cfg.Store == "sqlite" { // a restore refuses to replace a store in use
		release, err := backup.LockDir(cfg.DataDir)
		if err != nil {
			return err
		}
		defer release()
	}
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	if k := cfg.keys(); k.Enabled() { // never the key itself
		logger.Info("encryption at rest on", "store", cfg.Store == "sqlite", "backups", true, "exports", true, "previousKeys", len(k.Previous))
	}
	defer func() {
		if err := store.Close(); err != nil {
			logger.Error("closing the store", "err", err)
		}
	}()
	reg := prometheus.NewRegistry()
	tracer, stopTracing, err := monitor.Tracing(ctx, getenv, buildVersion(), logger)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stopTracing(sctx); err != nil {
			logger.Warn("flushing traces", "err", err)
		}
	}()
	// The decorator counts (METRICS_COLLECTION), times (PERFORMANCE_MONITORING)
	// and traces store calls; with none of them it returns the store itself.
	served, err := httpapi.InstrumentStoreWith(store, httpapi.StoreInstrumentation{
		Registry: reg, Latency: cfg.PerformanceMonitoring, Business: cfg.MetricsCollection, TracerProvider: tracer,
	})
	if err != nil {
		return err
	}
	served, cacheCheck, closeCache, err := withCache(ctx, cfg, served, reg, logger)
	if err != nil {
		return err
	}
	defer closeCache()
	svc, err := newService(served, cfg, logger)
	if err != nil {
		return err
	}
	if err := bootstrapAdminKey(ctx, svc, stdout); err != nil {
		return err
	}

	checks := map[string]func(context.Context) error{"store": served.Ping}
	dataDir := ""
	if cfg.Store == "sqlite" {
		dataDir = cfg.DataDir
		checks["disk"] = monitor.DiskCheck(dataDir, 0)
	}
	if cacheCheck != nil {
		checks["cache"] = cacheCheck
	}
	integrity := time.Duration(cfg.IntegrityInterval)
	if integrity == 0 {
		integrity = -1 // off
	}
	requests := httpapi.NewRequestStats(0, nil)
	mon, err := monitor.New(monitor.Config{
		Store:             served,
		Requests:          requests,
		DataDir:           dataDir,
		Version:           buildVersion(),
		ConfigDigest:      monitor.Digest(cfg), // secrets are json:"-"
		StateFile:         filepath.Join(cfg.DataDir, "monitor-state.json"),
		Interval:          time.Duration(cfg.HealthCheckInterval),
		IntegrityInterval: integrity,
		Integrity:         vectorCheckOptions(svc.Embedder),
		Webhooks:          splitList(cfg.AlertWebhookURLs),
		AlertmanagerURL:   cfg.AlertmanagerURL,
		Logger:            logger,
		Registry:          reg,
	})
	if err != nil {
		return err
	}

	backups, err := backup.New(backup.Options{Dir: cfg.BackupDirectory, Store: served, Logger: logger, Cipher: cfg.keys(),
		Retention: backup.Retention{Days: cfg.BackupRetentionDays, Daily: backup.DefaultRetention.Daily, Weekly: backup.DefaultRetention.Weekly}})
	if err != nil {
		return err
	}
	credLimiter, tenantLimiter, limiterReady, closeLimiters, err := limiters(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer closeLimiters()
	if limiterReady != nil {
		checks["redis"] = limiterReady
	}
	if cfg.EmbeddingsProvider == embed.ProviderOpenAI && svc.Embedder != nil {
		checks["embedder"] = embedderReady(svc.Embedder)
	}
	jwtCfg, err := cfg.jwtConfig()
	if err != nil {
		return err
	}
	handler, err := httpapi.NewHandler(httpapi.Config{
		Backups:        backups,
		OperatorTenant: cfg.OperatorTenant,
		Limiter:        credLimiter,
		TenantLimiter:  tenantLimiter,
		Service:        svc,
		Logger:         logger.With("component", "http"),
		Registry:       reg,
		MCP:            mcpapi.NewHTTPHandler(svc, mcpapi.Options{Version: buildVersion(), Logger: logger.With("component", "mcp")}),
		RequestTimeout: time.Duration(cfg.RequestTimeout),
		CORSOrigin:     cfg.CORSOrigin,
		MaxBodyBytes:   cfg.MaxBodyBytes,
		JWTSecret:      []byte(cfg.JWTSecret),
		JWT:            jwtCfg,
		Version:        buildVersion(),
		StartedAt:      started,
		Checks:         checks,
		DisableMetrics: !cfg.MetricsCollection,
		MetricsToken:   cfg.MetricsToken,
		Monitor:        mon,
		RequestStats:   requests,
		TracerProvider: tracer,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return &configError{"PORT", err.Error()}
	}
	srv := &http.Server{
		Handler:  handler,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	hardenServer(srv, cfg)
	stopPprof, err := startPprof(cfg.PprofAddr, logger)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopPprof()
	serveErr := make(chan error, 1)
	go func() { serveErr <- serveMaybeTLS(srv, ln, cfg) }()
	monCtx, stopMonitor := context.WithCancel(ctx)
	monDone := make(chan struct{})
	go func() { defer close(monDone); mon.Run(monCtx) }()
	defer func() { stopMonitor(); <-monDone }() // before the store closes: a last tick must not find it closed
	if every, _ := backup.ParseSchedule(cfg.BackupSchedule); every > 0 {
		bctx, stopBackups := context.WithCancel(ctx)
		backupsDone := make(chan struct{})
		go func() { defer close(backupsDone); backups.Run(bctx, every) }()
		defer func() { stopBackups(); <-backupsDone }()
		logger.Info("scheduled backups", "every", every.String(), "dir", cfg.BackupDirectory, "retentionDays", cfg.BackupRetentionDays)
	}
	logger.Info("contextd listening", "addr", ln.Addr().String(), "url", cfg.scheme()+"://"+ln.Addr().String(),
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
	_, key, err := svc.NewAPIKey(ctx, contextd.KeyCreate{Tenant: "default", Role: contextd.RoleAdmin, Name: "bootstrap-admin", By: "bootstrap"})
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
