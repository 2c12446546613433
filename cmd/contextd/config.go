package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/backup"
)

// Config is every setting of contextd. Precedence, lowest first: the defaults
// below < config/<APP_ENV>.json < the --config file < environment variables <
// flags. Each field names its environment variable.
type Config struct {
	Env                   string   `json:"-"`                     // APP_ENV (or NODE_ENV): production, development, test, docker; default development
	Host                  string   `json:"host"`                  // HOST; default 127.0.0.1
	Port                  int      `json:"port"`                  // PORT; default 3000; 0 picks a free port
	Store                 string   `json:"store"`                 // STORE: sqlite (default) or neo4j
	DataDir               string   `json:"dataDir"`               // DATA_DIR: the embedded store's folder; default ./data
	CORSOrigin            string   `json:"corsOrigin"`            // CORS_ORIGIN: "" sends no CORS headers; "*" or a comma list
	JWTSecret             string   `json:"-"`                     // JWT_SECRET (or JWT_SECRET_FILE): "" disables JWTs; at least 32 bytes
	APIRateLimit          int      `json:"apiRateLimit"`          // API_RATE_LIMIT: requests per minute per credential; 0 = unlimited (default)
	LogLevel              string   `json:"logLevel"`              // LOG_LEVEL: debug, info (default), warn, error
	LogFormat             string   `json:"logFormat"`             // LOG_FORMAT: json or text; default json in production and docker, text otherwise
	CacheTTL              Duration `json:"cacheTtl"`              // CACHE_TTL: lifetime of short-lived cache entries; default 5m
	CacheSizeMB           int      `json:"cacheSizeMb"`           // CACHE_SIZE_MB: bound of the embedded store's resident SQLite pages (page caches and the readers' file maps), all connections together; default 256
	Cache                 string   `json:"cache"`                 // CACHE: the read cache: off, memory (this process only) or redis (shared); default redis when REDIS_URL is set, else off
	CacheMemoryMB         int      `json:"cacheMemoryMb"`         // CACHE_MEMORY_MB: bound of CACHE=memory; default 64
	BackupDirectory       string   `json:"backupDirectory"`       // BACKUP_DIRECTORY: default ./backups
	HealthCheckInterval   Duration `json:"healthCheckInterval"`   // HEALTH_CHECK_INTERVAL: default 30s
	MetricsCollection     bool     `json:"metricsCollection"`     // METRICS_COLLECTION: serve /metrics; default true
	PerformanceMonitoring bool     `json:"performanceMonitoring"` // PERFORMANCE_MONITORING: per-store-operation latency metrics; default true
	Neo4jURI              string   `json:"neo4jUri"`              // NEO4J_URI
	Neo4jUsername         string   `json:"neo4jUsername"`         // NEO4J_USERNAME
	Neo4jPassword         string   `json:"-"`                     // NEO4J_PASSWORD (or NEO4J_PASSWORD_FILE)
	Neo4jDatabase         string   `json:"neo4jDatabase"`         // NEO4J_DATABASE; default neo4j
	Neo4jNamespace        string   `json:"neo4jNamespace"`        // NEO4J_NAMESPACE: keeps this deployment's data apart from others in the same database; default "" (none)
	Neo4jMaxPoolSize      int      `json:"neo4jMaxPoolSize"`      // NEO4J_MAX_POOL_SIZE: Bolt connections per server; default 100
	Neo4jConnectTimeout   Duration `json:"neo4jConnectTimeout"`   // NEO4J_CONNECT_TIMEOUT: opening one connection; default 5s
	Neo4jAcquireTimeout   Duration `json:"neo4jAcquireTimeout"`   // NEO4J_ACQUIRE_TIMEOUT: waiting for a pooled connection; default 10s
	Neo4jTxTimeout        Duration `json:"neo4jTxTimeout"`        // NEO4J_TX_TIMEOUT: one transaction; a silent server fails an operation after this + NEO4J_MAX_RETRY_TIME; default 20s; 0 unbounded
	Neo4jMaxRetryTime     Duration `json:"neo4jMaxRetryTime"`     // NEO4J_MAX_RETRY_TIME: retrying a transaction on transient errors; default 5s
	LLMAPIKey             string   `json:"-"`                     // LLM_API_KEY (or LLM_API_KEY_FILE)
	RedisURL              string   `json:"redisUrl"`              // REDIS_URL: optional
	MaxBodyBytes          int64    `json:"maxBodyBytes"`          // MAX_BODY_BYTES: largest request body; default 2 MiB (batch routes allow 8x)
	ShutdownTimeout       Duration `json:"shutdownTimeout"`       // SHUTDOWN_TIMEOUT: how long SIGTERM waits for requests; default 15s
	RequestTimeout        Duration `json:"requestTimeout"`        // REQUEST_TIMEOUT: per request; default 30s
	MetricsToken          string   `json:"-"`                     // METRICS_TOKEN (or METRICS_TOKEN_FILE): /metrics needs "Bearer <token>"; "" leaves it open
	AlertWebhookURLs      string   `json:"alertWebhookUrls"`      // ALERT_WEBHOOK_URLS: comma-separated http(s) URLs receiving every alert change as JSON; "" none
	AlertmanagerURL       string   `json:"alertmanagerUrl"`       // ALERTMANAGER_URL: Alertmanager base URL (alerts go to /api/v2/alerts); "" none
	IntegrityInterval     Duration `json:"integrityInterval"`     // INTEGRITY_CHECK_INTERVAL: read-only index check by the health monitor; default 1h; 0 turns it off
	PprofAddr             string   `json:"pprofAddr"`             // PPROF_ADDR: loopback host:port serving Go's profiles at /debug/pprof/; "" (default) off
	OperatorTenant        string   `json:"operatorTenant"`        // OPERATOR_TENANT: the tenant whose admins make and list whole-store backups over HTTP; default "default"
	BackupSchedule        string   `json:"backupSchedule"`        // BACKUP_SCHEDULE: off (default), hourly, daily, weekly or a duration: scheduled backups into BACKUP_DIRECTORY
	BackupRetentionDays   int      `json:"backupRetentionDays"`   // BACKUP_RETENTION_DAYS: backups older than this are pruned (daily/weekly/monthly tiers); default 90
	TemplatesDirectory    string   `json:"templatesDirectory"`    // TEMPLATES_DIRECTORY: context templates, TYPE.json each; default ./templates; missing means none
	LogFile               string   `json:"logFile"`               // LOG_FILE: the server also logs to this file, rotated at 100 MiB, gzipped, kept 30 days; "" (default) means stderr only
	EmbeddingsProvider    string   `json:"embeddingsProvider"`    // EMBEDDINGS_PROVIDER: builtin (default), openai or off
	EmbeddingsURL         string   `json:"embeddingsUrl"`         // EMBEDDINGS_URL: base URL of an OpenAI-compatible /v1/embeddings server (openai)
	EmbeddingsModel       string   `json:"embeddingsModel"`       // EMBEDDINGS_MODEL: model name sent to it (openai)
	Security                       // the security gateway's settings (security.go)
	Encryption                     // encryption at rest (encryption.go)
	SearchIndex                    // the embedded store's top-k search index (searchindex.go)
	Memory                         // memory budgets (memory.go)
}

// Duration is a time.Duration read from JSON as "30s" or a number of seconds.
type Duration time.Duration

// UnmarshalJSON reads "1m30s" or 90.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := parseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var n float64
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("must be a duration such as \"30s\" or a number of seconds")
	}
	*d = Duration(time.Duration(n * float64(time.Second)))
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("must be a duration such as \"30s\" (got %q)", s)
	}
	return d, nil
}

func defaultConfig() Config {
	return Config{
		Env:                   "development",
		Host:                  "127.0.0.1",
		Port:                  3000,
		Store:                 "sqlite",
		DataDir:               "./data",
		LogLevel:              "info",
		CacheTTL:              Duration(5 * time.Minute),
		CacheSizeMB:           256,
		CacheMemoryMB:         64,
		BackupDirectory:       "./backups",
		HealthCheckInterval:   Duration(30 * time.Second),
		MetricsCollection:     true,
		PerformanceMonitoring: true,
		Neo4jDatabase:         "neo4j",
		Neo4jMaxPoolSize:      100,
		Neo4jConnectTimeout:   Duration(5 * time.Second),
		Neo4jAcquireTimeout:   Duration(10 * time.Second),
		Neo4jTxTimeout:        Duration(20 * time.Second),
		Neo4jMaxRetryTime:     Duration(5 * time.Second),
		MaxBodyBytes:          2 << 20,
		ShutdownTimeout:       Duration(15 * time.Second),
		RequestTimeout:        Duration(30 * time.Second),
		IntegrityInterval:     Duration(time.Hour),
		BackupRetentionDays:   90,
		OperatorTenant:        "default",
		TemplatesDirectory:    "./templates",
		Security:              defaultSecurity(),
		SearchIndex:           defaultSearchIndex(),
		Memory:                defaultMemory(),
	}
}

// configError is a bad setting: it stops start-up with one line.
type configError struct{ setting, reason string }

func (e *configError) Error() string { return "config: " + e.setting + ": " + e.reason }

// setting binds a Config field to its environment variable and flag.
type setting struct {
	env, flag, usage string
	set              func(c *Config, v string) error
}

func strSet(f func(c *Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *f(c) = v; return nil }
}

func intSet(f func(c *Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("must be an integer (got %q)", v)
		}
		*f(c) = n
		return nil
	}
}

func boolSet(f func(c *Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("must be true or false (got %q)", v)
		}
		*f(c) = b
		return nil
	}
}

func durSet(f func(c *Config) *Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := parseDuration(strings.TrimSpace(v))
		if err != nil {
			return err
		}
		*f(c) = Duration(d)
		return nil
	}
}

var settings = append([]setting{
	{"HOST", "host", "address to listen on", strSet(func(c *Config) *string { return &c.Host })},
	{"PORT", "port", "port to listen on (0 picks a free one)", intSet(func(c *Config) *int { return &c.Port })},
	{"STORE", "store", "store backend: sqlite or neo4j", strSet(func(c *Config) *string { return &c.Store })},
	{"DATA_DIR", "data-dir", "folder of the embedded store", strSet(func(c *Config) *string { return &c.DataDir })},
	{"CORS_ORIGIN", "cors-origin", "allowed CORS origins: \"*\" or a comma list", strSet(func(c *Config) *string { return &c.CORSOrigin })},
	{"JWT_SECRET", "", "HS256 secret for JWTs (at least 32 bytes)", strSet(func(c *Config) *string { return &c.JWTSecret })},
	{"API_RATE_LIMIT", "api-rate-limit", "requests per minute per credential (0: unlimited)", intSet(func(c *Config) *int { return &c.APIRateLimit })},
	{"LOG_LEVEL", "log-level", "debug, info, warn or error", strSet(func(c *Config) *string { return &c.LogLevel })},
	{"LOG_FORMAT", "log-format", "json or text", strSet(func(c *Config) *string { return &c.LogFormat })},
	{"CACHE_TTL", "cache-ttl", "lifetime of short-lived cache entries", durSet(func(c *Config) *Duration { return &c.CacheTTL })},
	{"CACHE_SIZE_MB", "cache-size-mb", "bound of the embedded store's resident SQLite pages (page caches and file maps), all connections together, MiB", intSet(func(c *Config) *int { return &c.CacheSizeMB })},
	{"CACHE", "cache", "read cache: off, memory (one process) or redis (shared by replicas)", strSet(func(c *Config) *string { return &c.Cache })},
	{"CACHE_MEMORY_MB", "cache-memory-mb", "bound of the in-process read cache, MiB", intSet(func(c *Config) *int { return &c.CacheMemoryMB })},
	{"BACKUP_DIRECTORY", "backup-directory", "folder for backups", strSet(func(c *Config) *string { return &c.BackupDirectory })},
	{"HEALTH_CHECK_INTERVAL", "health-check-interval", "interval of background health checks", durSet(func(c *Config) *Duration { return &c.HealthCheckInterval })},
	{"METRICS_COLLECTION", "metrics-collection", "serve Prometheus metrics on /metrics", boolSet(func(c *Config) *bool { return &c.MetricsCollection })},
	{"PERFORMANCE_MONITORING", "performance-monitoring", "record store operation latencies", boolSet(func(c *Config) *bool { return &c.PerformanceMonitoring })},
	{"NEO4J_URI", "neo4j-uri", "Neo4j Bolt URI", strSet(func(c *Config) *string { return &c.Neo4jURI })},
	{"NEO4J_USERNAME", "neo4j-username", "Neo4j user", strSet(func(c *Config) *string { return &c.Neo4jUsername })},
	{"NEO4J_PASSWORD", "", "Neo4j password", strSet(func(c *Config) *string { return &c.Neo4jPassword })},
	{"NEO4J_DATABASE", "neo4j-database", "Neo4j database", strSet(func(c *Config) *string { return &c.Neo4jDatabase })},
	{"NEO4J_NAMESPACE", "neo4j-namespace", "Neo4j namespace: keeps this deployment's data apart in a shared database", strSet(func(c *Config) *string { return &c.Neo4jNamespace })},
	{"NEO4J_MAX_POOL_SIZE", "neo4j-max-pool-size", "Neo4j Bolt connections per server", intSet(func(c *Config) *int { return &c.Neo4jMaxPoolSize })},
	{"NEO4J_CONNECT_TIMEOUT", "neo4j-connect-timeout", "Neo4j: timeout of opening one connection", durSet(func(c *Config) *Duration { return &c.Neo4jConnectTimeout })},
	{"NEO4J_ACQUIRE_TIMEOUT", "neo4j-acquire-timeout", "Neo4j: longest wait for a pooled connection", durSet(func(c *Config) *Duration { return &c.Neo4jAcquireTimeout })},
	{"NEO4J_TX_TIMEOUT", "neo4j-tx-timeout", "Neo4j: longest transaction (0: unbounded)", durSet(func(c *Config) *Duration { return &c.Neo4jTxTimeout })},
	{"NEO4J_MAX_RETRY_TIME", "neo4j-max-retry-time", "Neo4j: longest retrying of a transaction on transient errors", durSet(func(c *Config) *Duration { return &c.Neo4jMaxRetryTime })},
	{"LLM_API_KEY", "", "API key of the embeddings/LLM provider", strSet(func(c *Config) *string { return &c.LLMAPIKey })},
	{"EMBEDDINGS_PROVIDER", "embeddings-provider", "embedder of semantic search: builtin, openai or off", strSet(func(c *Config) *string { return &c.EmbeddingsProvider })},
	{"EMBEDDINGS_URL", "embeddings-url", "OpenAI-compatible embeddings server (openai provider)", strSet(func(c *Config) *string { return &c.EmbeddingsURL })},
	{"EMBEDDINGS_MODEL", "embeddings-model", "embedding model name (openai provider)", strSet(func(c *Config) *string { return &c.EmbeddingsModel })},
	{"REDIS_URL", "redis-url", "Redis URL for shared rate limits and cache (optional)", strSet(func(c *Config) *string { return &c.RedisURL })},
	{"MAX_BODY_BYTES", "max-body-bytes", "largest request body in bytes", func(c *Config, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("must be an integer (got %q)", v)
		}
		c.MaxBodyBytes = n
		return nil
	}},
	{"SHUTDOWN_TIMEOUT", "shutdown-timeout", "how long shutdown waits for requests", durSet(func(c *Config) *Duration { return &c.ShutdownTimeout })},
	{"REQUEST_TIMEOUT", "request-timeout", "longest time a request may take", durSet(func(c *Config) *Duration { return &c.RequestTimeout })},
	{"METRICS_TOKEN", "", "bearer token /metrics requires (empty: open)", strSet(func(c *Config) *string { return &c.MetricsToken })},
	{"ALERT_WEBHOOK_URLS", "alert-webhook-urls", "comma-separated URLs that receive alerts as JSON", strSet(func(c *Config) *string { return &c.AlertWebhookURLs })},
	{"ALERTMANAGER_URL", "alertmanager-url", "Alertmanager URL that receives alerts", strSet(func(c *Config) *string { return &c.AlertmanagerURL })},
	{"INTEGRITY_CHECK_INTERVAL", "integrity-check-interval", "interval of the scheduled index integrity check (0: off)", durSet(func(c *Config) *Duration { return &c.IntegrityInterval })},
	{"OPERATOR_TENANT", "operator-tenant", "the tenant whose admins make and list whole-store backups over HTTP", strSet(func(c *Config) *string { return &c.OperatorTenant })},
	{"PPROF_ADDR", "pprof-addr", "loopback host:port serving Go's profiles at /debug/pprof/ (empty: off)", strSet(func(c *Config) *string { return &c.PprofAddr })},
	{"BACKUP_SCHEDULE", "backup-schedule", "scheduled backups: off, hourly, daily, weekly or a duration", strSet(func(c *Config) *string { return &c.BackupSchedule })},
	{"LOG_FILE", "log-file", "also log to this file (rotated, kept 30 days)", strSet(func(c *Config) *string { return &c.LogFile })},
	{"TEMPLATES_DIRECTORY", "templates-directory", "folder of context templates (TYPE.json)", strSet(func(c *Config) *string { return &c.TemplatesDirectory })},
	{"BACKUP_RETENTION_DAYS", "backup-retention-days", "days backups are kept (tiers: daily, weekly, monthly)", intSet(func(c *Config) *int { return &c.BackupRetentionDays })},
}, slices.Concat(securitySettings, encryptionSettings, searchIndexSettings, memorySettings)...)

// secretFiles are the settings that may be read from a file named by NAME_FILE.
var secretFiles = []string{"JWT_SECRET", "NEO4J_PASSWORD", "LLM_API_KEY", "METRICS_TOKEN", "REDIS_URL", "ENCRYPTION_KEY", "ENCRYPTION_PREVIOUS_KEYS"}

// profiles are the configuration profiles under config/.
var profiles = []string{"production", "development", "test", "docker"}

// loadConfig builds the configuration from every source, registering the
// settings' flags on fset and parsing args with it.
func loadConfig(fset *flag.FlagSet, args []string, getenv func(string) string) (*Config, error) {
	c := defaultConfig()
	configFile := fset.String("config", "", "JSON configuration file, over config/<APP_ENV>.json")
	flagSetting := map[string]setting{}
	for _, s := range settings {
		if s.flag != "" {
			fset.String(s.flag, "", s.usage+" (env "+s.env+")")
			flagSetting[s.flag] = s
		}
	}
	if err := fset.Parse(args); err != nil {
		return nil, err
	}

	c.Env = getenv("APP_ENV")
	envName := "APP_ENV"
	if c.Env == "" {
		c.Env, envName = getenv("NODE_ENV"), "NODE_ENV"
	}
	if c.Env == "" {
		c.Env = "development"
	}
	known := false
	for _, p := range profiles {
		known = known || p == c.Env
	}
	if !known {
		return nil, &configError{envName, fmt.Sprintf("must be one of %s (got %q)", strings.Join(profiles, ", "), c.Env)}
	}
	dir := getenv("CONFIG_DIR")
	if dir == "" {
		dir = "config"
	}
	if err := readConfigFile(&c, filepath.Join(dir, c.Env+".json"), true); err != nil {
		return nil, err
	}
	if *configFile != "" {
		if err := readConfigFile(&c, *configFile, false); err != nil {
			return nil, err
		}
	}

	for _, name := range secretFiles {
		path := getenv(name + "_FILE")
		if path == "" || getenv(name) != "" {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, &configError{name + "_FILE", "cannot read " + path + ": " + errors.Unwrap(err).Error()}
		}
		for _, s := range settings {
			if s.env == name {
				_ = s.set(&c, strings.TrimRight(string(b), "\r\n"))
			}
		}
	}
	for _, s := range settings {
		if v := getenv(s.env); v != "" {
			if err := s.set(&c, v); err != nil {
				return nil, &configError{s.env, err.Error()}
			}
		}
	}
	var flagErr error
	fset.Visit(func(f *flag.Flag) {
		if s, ok := flagSetting[f.Name]; ok && flagErr == nil {
			if err := s.set(&c, f.Value.String()); err != nil {
				flagErr = &configError{"--" + f.Name, err.Error()}
			}
		}
	})
	if flagErr != nil {
		return nil, flagErr
	}
	if c.LogFormat == "" {
		c.LogFormat = "text"
		if c.Env == "production" || c.Env == "docker" {
			c.LogFormat = "json"
		}
	}
	return &c, c.Validate()
}

// readConfigFile merges a JSON file into c. Unknown keys are errors.
func readConfigFile(c *Config, path string, optional bool) error {
	b, err := os.ReadFile(path)
	if optional && errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return &configError{"--config", "cannot read " + path}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return &configError{path, "invalid: " + err.Error()}
	}
	return nil
}

// Validate names the first bad setting.
func (c *Config) Validate() error {
	if err := validateEmbeddings(c); err != nil {
		return err
	}
	switch {
	case c.Port < 0 || c.Port > 65535:
		return &configError{"PORT", fmt.Sprintf("must be 0..65535 (got %d)", c.Port)}
	case c.Host == "":
		return &configError{"HOST", "must not be empty"}
	case c.Store != "sqlite" && c.Store != "neo4j":
		return &configError{"STORE", fmt.Sprintf("must be sqlite or neo4j (got %q)", c.Store)}
	case c.Store == "sqlite" && c.DataDir == "":
		return &configError{"DATA_DIR", "must not be empty"}
	case c.Store == "neo4j" && c.Neo4jURI == "":
		return &configError{"NEO4J_URI", "is required when STORE=neo4j"}
	case c.Neo4jMaxPoolSize < 1:
		return &configError{"NEO4J_MAX_POOL_SIZE", fmt.Sprintf("must be at least 1 (got %d)", c.Neo4jMaxPoolSize)}
	case c.Neo4jConnectTimeout <= 0:
		return &configError{"NEO4J_CONNECT_TIMEOUT", "must be positive"}
	case c.Neo4jAcquireTimeout <= 0:
		return &configError{"NEO4J_ACQUIRE_TIMEOUT", "must be positive"}
	case c.Neo4jTxTimeout < 0:
		return &configError{"NEO4J_TX_TIMEOUT", "must not be negative (0: unbounded)"}
	case c.Neo4jMaxRetryTime <= 0:
		return &configError{"NEO4J_MAX_RETRY_TIME", "must be positive"}
	case !neo4jNamespaceRe.MatchString(c.Neo4jNamespace):
		return &configError{"NEO4J_NAMESPACE", fmt.Sprintf("must be at most 64 of [A-Za-z0-9_-] (got %q)", c.Neo4jNamespace)}
	case c.JWTSecret != "" && len(c.JWTSecret) < 32:
		return &configError{"JWT_SECRET", fmt.Sprintf("must be at least 32 bytes (got %d)", len(c.JWTSecret))}
	case c.APIRateLimit < 0:
		return &configError{"API_RATE_LIMIT", "must be 0 (unlimited) or more"}
	case c.CacheSizeMB < 16 || c.CacheSizeMB > 1<<16:
		return &configError{"CACHE_SIZE_MB", fmt.Sprintf("must be 16..65536 (got %d)", c.CacheSizeMB)}
	case c.CacheTTL < 0:
		return &configError{"CACHE_TTL", "must not be negative"}
	case c.Cache != "" && c.Cache != "off" && c.Cache != "memory" && c.Cache != "redis":
		return &configError{"CACHE", fmt.Sprintf("must be off, memory or redis (got %q)", c.Cache)}
	case c.Cache == "redis" && c.RedisURL == "":
		return &configError{"REDIS_URL", "is required when CACHE=redis"}
	case c.CacheMemoryMB < 1 || c.CacheMemoryMB > 1<<20:
		return &configError{"CACHE_MEMORY_MB", fmt.Sprintf("must be 1..1048576 (got %d)", c.CacheMemoryMB)}
	case c.HealthCheckInterval <= 0:
		return &configError{"HEALTH_CHECK_INTERVAL", "must be positive"}
	case c.MaxBodyBytes < 1024:
		return &configError{"MAX_BODY_BYTES", fmt.Sprintf("must be at least 1024 (got %d)", c.MaxBodyBytes)}
	case c.ShutdownTimeout <= 0:
		return &configError{"SHUTDOWN_TIMEOUT", "must be positive"}
	case c.RequestTimeout <= 0:
		return &configError{"REQUEST_TIMEOUT", "must be positive"}
	case c.LogFormat != "json" && c.LogFormat != "text":
		return &configError{"LOG_FORMAT", fmt.Sprintf("must be json or text (got %q)", c.LogFormat)}
	case c.IntegrityInterval < 0:
		return &configError{"INTEGRITY_CHECK_INTERVAL", "must not be negative (0 turns the check off)"}
	case c.BackupRetentionDays < 1:
		return &configError{"BACKUP_RETENTION_DAYS", fmt.Sprintf("must be at least 1 (got %d)", c.BackupRetentionDays)}
	}
	if _, err := backup.ParseSchedule(c.BackupSchedule); err != nil {
		return &configError{"BACKUP_SCHEDULE", err.Error()}
	}
	if !contextd.ValidTenant(c.OperatorTenant) {
		return &configError{"OPERATOR_TENANT", fmt.Sprintf("%q is not a tenant name", c.OperatorTenant)}
	}
	if err := checkPprofAddr(c.PprofAddr); err != nil {
		return &configError{"PPROF_ADDR", err.Error()}
	}
	for _, u := range splitList(c.AlertWebhookURLs) {
		if !httpURL(u) {
			return &configError{"ALERT_WEBHOOK_URLS", fmt.Sprintf("%q is not an http(s)://host/... URL", u)}
		}
	}
	if c.AlertmanagerURL != "" && !httpURL(c.AlertmanagerURL) {
		return &configError{"ALERTMANAGER_URL", fmt.Sprintf("%q is not an http(s)://host[:port] URL", c.AlertmanagerURL)}
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return &configError{"LOG_LEVEL", err.Error()}
	}
	if err := c.Encryption.validate(); err != nil {
		return err
	}
	if err := c.Memory.validate(); err != nil {
		return err
	}
	if err := c.SearchIndex.validate(); err != nil {
		return err
	}
	return c.Security.validate()
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("must be debug, info, warn or error (got %q)", s)
}

// splitList splits a comma-separated setting, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// httpURL reports whether s is an absolute http or https URL with a host.
func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// neo4jNamespaceRe is the form of NEO4J_NAMESPACE (neo4j.Options.Namespace).
var neo4jNamespaceRe = regexp.MustCompile(`^[A-Za-z0-9_-]{0,64}$`)
