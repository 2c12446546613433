package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Multi-tenant runs (--tenants N): the load is spread over N tenants
// ("bench-0001" ...), each reached with its own writer JWT signed with the
// server's JWT_SECRET (--jwt-secret). They show whether a request's cost
// follows its tenant's size or the whole store's: --fill is dealt out over
// the tenants batch by batch, and every search goes to a random tenant.

// multiTenantScenarios are the scenarios a multi-tenant run supports: those
// that need no ids of existing data.
var multiTenantScenarios = map[string]bool{opHealth: true, opSearch: true, opCreate: true}

// tenantTokens returns one writer token per tenant, valid for a day.
func tenantTokens(secret string, n int, now time.Time) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		claims := jwt.MapClaims{
			"tenant": tenantName(i),
			"role":   "writer",
			"sub":    "bench",
			"iat":    now.Unix(),
			"exp":    now.Add(24 * time.Hour).Unix(),
		}
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
		if err != nil {
			return nil, fmt.Errorf("signing the token of %s: %w", tenantName(i), err)
		}
		out[i] = tok
	}
	return out, nil
}

func tenantName(i int) string { return fmt.Sprintf("bench-%04d", i+1) }

type tenantKey struct{}

// asTenant makes the requests of ctx use tenant i's token.
func asTenant(ctx context.Context, i int) context.Context {
	return context.WithValue(ctx, tenantKey{}, i)
}

// credential returns the bearer credential of a request: its tenant's token
// in a multi-tenant run, else the API key.
func (c *client) credential(ctx context.Context) string {
	if i, ok := ctx.Value(tenantKey{}).(int); ok && len(c.tokens) > 0 {
		return c.tokens[i%len(c.tokens)]
	}
	return c.key
}
