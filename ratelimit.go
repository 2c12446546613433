package contextd

import (
	"context"
	"time"
)

// RateLimiter decides whether a caller may make another request. The
// ratelimit package implements it in process and on Redis.
type RateLimiter interface {
	// Allow takes one request from the allowance of key (a credential or a
	// tenant) and says whether it may proceed.
	Allow(ctx context.Context, key string) RateDecision
}

// RateDecision is a RateLimiter's answer, with what the RateLimit-* headers
// report.
type RateDecision struct {
	Allowed    bool
	Limit      int           // requests the key may make at once (the burst)
	Remaining  int           // requests left now
	Reset      time.Duration // until the allowance is whole again
	RetryAfter time.Duration // when not Allowed: until the next request may pass
	// Err is set when the limiter could not decide (its backend is down);
	// Allowed then says whether it fails open.
	Err error
}
