package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/contextd/contextd"
)

// Limiter decides whether a caller may make another request; the ratelimit
// package implements it in process and on Redis. nil in Config means no limit.
type Limiter = contextd.RateLimiter

// rateKey names the credential of p for the limiter: its API key, or the
// token's subject and user.
func rateKey(p *contextd.Principal) string {
	if p.KeyID != "" {
		return "k:" + p.Tenant + "/" + p.KeyID
	}
	return "j:" + p.Tenant + "/" + p.Subject + "/" + p.UID
}

// rateLimit applies the limiters to authenticated requests: the
// credential's own, then its tenant's. Every answer carries the RateLimit-*
// headers of the tighter one; a refusal is a 429 with Retry-After, and a
// limiter that cannot decide and fails closed gives a 503.
func (s *server) rateLimit(next http.Handler) http.Handler {
	if s.limiter == nil && s.tenantLimiter == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := contextd.PrincipalFrom(r.Context())
		if p == nil {
			next.ServeHTTP(w, r)
			return
		}
		var shown *contextd.RateDecision
		for _, step := range []struct {
			l   Limiter
			key string
		}{{s.limiter, rateKey(p)}, {s.tenantLimiter, "t:" + p.Tenant}} {
			if step.l == nil {
				continue
			}
			d := step.l.Allow(r.Context(), step.key)
			if shown == nil || d.Remaining < shown.Remaining || !d.Allowed {
				shown = &d
			}
			if !d.Allowed {
				break
			}
		}
		setRateHeaders(w.Header(), shown)
		switch {
		case shown.Allowed:
			next.ServeHTTP(w, r)
		case shown.Err != nil:
			loggerFrom(r.Context()).Warn("rate limiter unavailable: refusing the request (RATE_LIMIT_FAIL_OPEN=false)", "err", shown.Err)
			pr := newProblem(http.StatusServiceUnavailable, "the rate limiter is unavailable: retry later")
			pr.GetHeaders().Set("Retry-After", seconds(shown.RetryAfter))
			writeProblem(w, pr)
		default:
			pr := newProblem(http.StatusTooManyRequests, "too many requests: retry in "+seconds(shown.RetryAfter)+" s")
			pr.GetHeaders().Set("Retry-After", seconds(shown.RetryAfter))
			writeProblem(w, pr)
		}
	})
}

// setRateHeaders writes the RateLimit-Limit, -Remaining and -Reset headers
// (draft-ietf-httpapi-ratelimit-headers; Reset in whole seconds).
func setRateHeaders(h http.Header, d *contextd.RateDecision) {
	if d == nil || d.Limit <= 0 {
		return
	}
	h.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(max(d.Remaining, 0)))
	h.Set("RateLimit-Reset", strconv.FormatInt(int64(math.Ceil(d.Reset.Seconds())), 10))
}

// seconds rounds d up to whole seconds, at least 1.
func seconds(d time.Duration) string {
	return strconv.FormatInt(max(1, int64(math.Ceil(d.Seconds()))), 10)
}
