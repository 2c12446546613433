package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/httpapi"
	"github.com/contextd/contextd/ratelimit"
	"github.com/redis/go-redis/v9"
)

// Security holds the settings of the security gateway; Config embeds it.
type Security struct {
	RateBurst         int  `json:"apiRateBurst"`       // API_RATE_BURST: requests a credential may make at once; 0 = API_RATE_LIMIT (a minute's worth)
	TenantRateLimit   int  `json:"apiTenantRateLimit"` // API_TENANT_RATE_LIMIT: requests per minute for all credentials of a tenant together; 0 = unlimited (default)
	RateLimitFailOpen bool `json:"rateLimitFailOpen"`  // RATE_LIMIT_FAIL_OPEN: when Redis fails, let requests through (true, default) or answer 503 (false); logged either way

	JWTPublicKeyFile string   `json:"jwtPublicKeyFile"` // JWT_PUBLIC_KEY_FILE: PEM public key (RSA >= 2048 bits or P-256) accepting RS256/ES256 tokens; "" none
	JWTJWKSFile      string   `json:"jwtJwksFile"`      // JWT_JWKS_FILE: JWKS file of an identity provider's keys, chosen by kid; "" none
	JWTIssuer        string   `json:"jwtIssuer"`        // JWT_ISSUER: required iss of every token (and iss of issued ones); "" not checked
	JWTAudience      string   `json:"jwtAudience"`      // JWT_AUDIENCE: required aud of every token (and aud of issued ones); "" not checked
	JWTClockSkew     Duration `json:"jwtClockSkew"`     // JWT_CLOCK_SKEW: tolerance on exp, nbf and iat; default 30s; 0 none
	TLSCertFile      string   `json:"tlsCertFile"`      // TLS_CERT_FILE: PEM certificate (chain); with TLS_KEY_FILE the server speaks HTTPS only; "" plain HTTP
	TLSKeyFile       string   `json:"tlsKeyFile"`       // TLS_KEY_FILE: PEM private key of TLS_CERT_FILE
	JWTTTL           Duration `json:"jwtTtl"`           // JWT_TTL: lifetime of tokens from POST /v1/auth/token; default 15m
}

func defaultSecurity() Security {
	return Security{RateLimitFailOpen: true, JWTClockSkew: Duration(httpapi.DefaultJWTClockSkew), JWTTTL: Duration(httpapi.DefaultJWTTTL)}
}

var securitySettings = []setting{
	{"API_RATE_BURST", "api-rate-burst", "requests a credential may make at once (0: API_RATE_LIMIT)", intSet(func(c *Config) *int { return &c.RateBurst })},
	{"API_TENANT_RATE_LIMIT", "api-tenant-rate-limit", "requests per minute per tenant (0: unlimited)", intSet(func(c *Config) *int { return &c.TenantRateLimit })},
	{"RATE_LIMIT_FAIL_OPEN", "rate-limit-fail-open", "when Redis fails: true lets requests through, false answers 503", boolSet(func(c *Config) *bool { return &c.RateLimitFailOpen })},
	{"JWT_PUBLIC_KEY_FILE", "jwt-public-key-file", "PEM public key accepting RS256/ES256 tokens", strSet(func(c *Config) *string { return &c.JWTPublicKeyFile })},
	{"JWT_JWKS_FILE", "jwt-jwks-file", "JWKS file of an identity provider's public keys", strSet(func(c *Config) *string { return &c.JWTJWKSFile })},
	{"JWT_ISSUER", "jwt-issuer", "required iss claim of tokens", strSet(func(c *Config) *string { return &c.JWTIssuer })},
	{"JWT_AUDIENCE", "jwt-audience", "required aud claim of tokens", strSet(func(c *Config) *string { return &c.JWTAudience })},
	{"JWT_CLOCK_SKEW", "jwt-clock-skew", "tolerance on token times", durSet(func(c *Config) *Duration { return &c.JWTClockSkew })},
	{"JWT_TTL", "jwt-ttl", "lifetime of issued tokens", durSet(func(c *Config) *Duration { return &c.JWTTTL })},
	{"TLS_CERT_FILE", "tls-cert-file", "PEM certificate: serve HTTPS", strSet(func(c *Config) *string { return &c.TLSCertFile })},
	{"TLS_KEY_FILE", "tls-key-file", "PEM private key of TLS_CERT_FILE", strSet(func(c *Config) *string { return &c.TLSKeyFile })},
}

func (s *Security) validate() error {
	switch {
	case s.RateBurst < 0:
		return &configError{"API_RATE_BURST", "must be 0 (the per-minute limit) or more"}
	case s.TenantRateLimit < 0:
		return &configError{"API_TENANT_RATE_LIMIT", "must be 0 (unlimited) or more"}
	case s.JWTClockSkew < 0 || time.Duration(s.JWTClockSkew) > 10*time.Minute:
		return &configError{"JWT_CLOCK_SKEW", "must be 0..10m"}
	case s.JWTTTL < Duration(time.Minute) || time.Duration(s.JWTTTL) > 24*time.Hour:
		return &configError{"JWT_TTL", "must be 1m..24h"}
	}
	if (s.TLSCertFile == "") != (s.TLSKeyFile == "") {
		return &configError{"TLS_CERT_FILE", "TLS_CERT_FILE and TLS_KEY_FILE go together"}
	}
	if s.TLSCertFile != "" {
		if _, err := tls.LoadX509KeyPair(s.TLSCertFile, s.TLSKeyFile); err != nil {
			return &configError{"TLS_CERT_FILE", err.Error()}
		}
	}
	if s.JWTPublicKeyFile != "" || s.JWTJWKSFile != "" {
		if _, err := httpapi.LoadJWTPublicKeys(s.JWTPublicKeyFile, ""); err != nil {
			return &configError{"JWT_PUBLIC_KEY_FILE", err.Error()}
		}
		if _, err := httpapi.LoadJWTPublicKeys("", s.JWTJWKSFile); err != nil {
			return &configError{"JWT_JWKS_FILE", err.Error()}
		}
	}
	return nil
}

// jwtConfig is the gateway's JWT configuration (keys already checked by validate).
func (s *Security) jwtConfig() (httpapi.JWTConfig, error) {
	keys, err := httpapi.LoadJWTPublicKeys(s.JWTPublicKeyFile, s.JWTJWKSFile)
	if err != nil {
		return httpapi.JWTConfig{}, &configError{"JWT_PUBLIC_KEY_FILE", err.Error()}
	}
	skew := time.Duration(s.JWTClockSkew)
	if skew == 0 {
		skew = -1 // none
	}
	return httpapi.JWTConfig{PublicKeys: keys, Issuer: s.JWTIssuer, Audience: s.JWTAudience, ClockSkew: skew, TTL: time.Duration(s.JWTTTL)}, nil
}

// limiters builds the per-credential and per-tenant rate limiters: on Redis
// when REDIS_URL is set (shared by every replica), in process otherwise. The
// returned close func releases the Redis client.
func limiters(ctx context.Context, cfg *Config, logger *slog.Logger) (cred, tenant httpapi.Limiter, ready func(context.Context) error, closeFn func(), err error) {
	closeFn = func() {}
	if cfg.APIRateLimit == 0 && cfg.TenantRateLimit == 0 {
		return nil, nil, nil, closeFn, nil
	}
	var backend ratelimit.Backend
	if cfg.RedisURL != "" {
		var client *redis.Client
		client, err = ratelimit.Open(ctx, cfg.RedisURL)
		if err != nil {
			if !cfg.RateLimitFailOpen {
				return nil, nil, nil, nil, &configError{"REDIS_URL", err.Error()}
			}
			// Fail open: start anyway; the limiter logs while Redis is down.
			logger.Warn("redis is not answering; rate limits fail open until it does", "err", err)
			opts, perr := redis.ParseURL(cfg.RedisURL)
			if perr != nil {
				return nil, nil, nil, nil, &configError{"REDIS_URL", perr.Error()}
			}
			client = redis.NewClient(opts)
		}
		closeFn = func() { client.Close() }
		backend = ratelimit.NewRedis(client)
		if !cfg.RateLimitFailOpen {
			// Failing closed, the server cannot serve without Redis: not ready.
			// Failing open it can, so Redis does not decide readiness.
			ready = func(ctx context.Context) error { return client.Ping(ctx).Err() }
		}
	} else {
		backend = ratelimit.NewMemory(nil)
	}
	log := logger.With("component", "ratelimit")
	mk := func(rate, burst int) (httpapi.Limiter, error) {
		if rate == 0 {
			return nil, nil
		}
		l, err := ratelimit.New(ratelimit.Config{Rate: rate, Burst: burst, Backend: backend,
			FailOpen: cfg.RateLimitFailOpen, Prefix: "contextd:rl:", Logger: log})
		if err != nil {
			return nil, fmt.Errorf("rate limit: %w", err)
		}
		return l, nil
	}
	if cred, err = mk(cfg.APIRateLimit, cfg.RateBurst); err != nil {
		return nil, nil, nil, nil, err
	}
	if tenant, err = mk(cfg.TenantRateLimit, 0); err != nil {
		return nil, nil, nil, nil, err
	}
	where := "in process"
	if cfg.RedisURL != "" {
		where = "redis"
	}
	logger.Info("rate limits", "perCredentialPerMinute", cfg.APIRateLimit, "burst", cfg.RateBurst,
		"perTenantPerMinute", cfg.TenantRateLimit, "backend", where, "failOpen", cfg.RateLimitFailOpen)
	return cred, tenant, ready, closeFn, nil
}

// auditCLIRevoke records a revocation made with `contextd keys revoke` in
// the trail of the key's tenant.
func auditCLIRevoke(ctx context.Context, svc *contextd.Service, tenant, id string) error {
	if tenant == "" {
		keys, err := svc.Store.FindAPIKeys(ctx, "")
		if err != nil {
			return err
		}
		for _, k := range keys {
			if k.ID == id {
				tenant = k.Tenant
			}
		}
	}
	return svc.Audit(ctx, tenant, "cli", contextd.AuditKeyRevoked, id, nil)
}

// Server bounds (slowloris and friends).
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10 // a JWT of 8 KiB and the usual headers fit
)

// hardenServer sets the server's timeouts and header bound: headers must
// arrive within 10 s, a whole request (16 MiB batch bodies included) within
// REQUEST_TIMEOUT + 30 s, and an answer must be written within
// REQUEST_TIMEOUT + 30 s (the MCP event stream lifts its own write deadline).
func hardenServer(srv *http.Server, cfg *Config) {
	srv.ReadHeaderTimeout = readHeaderTimeout
	srv.ReadTimeout = time.Duration(cfg.RequestTimeout) + 30*time.Second
	srv.WriteTimeout = time.Duration(cfg.RequestTimeout) + 30*time.Second
	srv.IdleTimeout = idleTimeout
	srv.MaxHeaderBytes = maxHeaderBytes
	if cfg.TLSCertFile != "" {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
}

// serveMaybeTLS serves HTTPS when a certificate is configured, HTTP otherwise.
func serveMaybeTLS(srv *http.Server, ln net.Listener, cfg *Config) error {
	if cfg.TLSCertFile != "" {
		return srv.ServeTLS(ln, cfg.TLSCertFile, cfg.TLSKeyFile)
	}
	return srv.Serve(ln)
}

// scheme is https with TLS configured, else http.
func (s *Security) scheme() string {
	if s.TLSCertFile != "" {
		return "https"
	}
	return "http"
}
