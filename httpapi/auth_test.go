package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func token(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func claims(tenant, role string, exp time.Duration, extra ...any) jwt.MapClaims {
	c := jwt.MapClaims{"tenant": tenant, "role": role, "sub": "svc-" + role}
	if exp != 0 {
		c["exp"] = time.Now().Add(exp).Unix()
	}
	for i := 0; i+1 < len(extra); i += 2 {
		c[extra[i].(string)] = extra[i+1]
	}
	return c
}

// TestAuth covers credentials: API keys in both headers, JWTs, roles and
// revocation.
func TestAuth(t *testing.T) {
	e := newEnv(t)
	secret := []byte(testJWTSecret)
	hs := jwt.SigningMethodHS256
	writerJWT := token(t, hs, secret, claims("tenant-a", "writer", time.Hour))
	readerJWT := token(t, hs, secret, claims("tenant-a", "reader", time.Hour))
	uidJWT := token(t, hs, secret, claims("tenant-a", "writer", time.Hour, "uid", "alice"))
	expired := token(t, hs, secret, claims("tenant-a", "admin", -time.Hour))
	noExp := token(t, hs, secret, claims("tenant-a", "admin", 0))
	wrongSecret := token(t, hs, []byte("another-secret-another-secret!!!"), claims("tenant-a", "admin", time.Hour))
	algNone := token(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims("tenant-a", "admin", time.Hour))
	hs512 := token(t, jwt.SigningMethodHS512, secret, claims("tenant-a", "admin", time.Hour))
	badRole := token(t, hs, secret, claims("tenant-a", "root", time.Hour))
	noTenant := token(t, hs, secret, jwt.MapClaims{"role": "admin", "exp": time.Now().Add(time.Hour).Unix()})
	badTenant := token(t, hs, secret, claims("tenant/a", "admin", time.Hour))
	notYet := token(t, hs, secret, claims("tenant-a", "admin", time.Hour, "nbf", time.Now().Add(time.Hour).Unix()))
	// A token whose payload was changed after signing.
	parts := strings.Split(readerJWT, ".")
	tampered := parts[0] + "." + strings.Split(writerJWT, ".")[1] + "." + parts[2]

	cases := []apiCase{
		{"no credentials", get, "/v1/contexts", "", "", nil, 401, "credentials required"},
		{"unknown route without credentials", get, "/v1/nothing", "", "", nil, 401, ""},
		{"bad key", get, "/v1/contexts", "", "raw:Bearer cxd_notakey", nil, 401, ""},
		{"basic auth", get, "/v1/contexts", "", "raw:Basic dXNlcjpwYXNz", nil, 401, "Bearer"},
		{"empty bearer", get, "/v1/contexts", "", "raw:Bearer ", nil, 401, ""},
		{"bearer key", get, "/v1/contexts", "", "reader", nil, 200, ""},
		{"bearer scheme in lower case", get, "/v1/contexts", "", "", []string{"Authorization", "bearer {readerKey}"}, 200, ""},
		{"X-API-Key", get, "/v1/contexts", "", "x:reader", nil, 200, ""},
		{"bad X-API-Key", get, "/v1/contexts", "", "", []string{"X-API-Key", "nope"}, 401, ""},
		{"jwt writer", post, "/v1/contexts", `{"title":"by jwt"}`, "raw:Bearer " + writerJWT, nil, 201, `"userId":"svc-writer"`},
		{"jwt reader reads", get, "/v1/contexts", "", "raw:Bearer " + readerJWT, nil, 200, `"by jwt"`},
		{"jwt reader cannot write", post, "/v1/contexts", `{"title":"x"}`, "raw:Bearer " + readerJWT, nil, 403, "writer"},
		{"jwt reader cannot delete", del, "/v1/contexts/anything", "", "raw:Bearer " + readerJWT, nil, 403, ""},
		{"jwt uid writes as its user", post, "/v1/contexts", `{"title":"alice's"}`, "raw:Bearer " + uidJWT, nil, 201, `"userId":"alice"`},
		{"jwt uid cannot write for another user", post, "/v1/contexts", `{"title":"x","userId":"bob"}`, "raw:Bearer " + uidJWT, nil, 403, ""},
		{"jwt uid sees only its user", get, "/v1/contexts", "", "raw:Bearer " + uidJWT, nil, 200, `"items":[{"id"`},
		{"jwt expired", get, "/v1/contexts", "", "raw:Bearer " + expired, nil, 401, "expired"},
		{"jwt without exp", get, "/v1/contexts", "", "raw:Bearer " + noExp, nil, 401, "exp"},
		{"jwt wrong secret", get, "/v1/contexts", "", "raw:Bearer " + wrongSecret, nil, 401, ""},
		{"jwt alg none", get, "/v1/contexts", "", "raw:Bearer " + algNone, nil, 401, ""},
		{"jwt HS512", get, "/v1/contexts", "", "raw:Bearer " + hs512, nil, 401, ""},
		{"jwt bad role", get, "/v1/contexts", "", "raw:Bearer " + badRole, nil, 401, "role"},
		{"jwt no tenant", get, "/v1/contexts", "", "raw:Bearer " + noTenant, nil, 401, "tenant"},
		{"jwt bad tenant", get, "/v1/contexts", "", "raw:Bearer " + badTenant, nil, 401, "tenant"},
		{"jwt not yet valid", get, "/v1/contexts", "", "raw:Bearer " + notYet, nil, 401, ""},
		{"jwt tampered", get, "/v1/contexts", "", "raw:Bearer " + tampered, nil, 401, ""},
		{"jwt in X-API-Key is a key", get, "/v1/contexts", "", "", []string{"X-API-Key", writerJWT}, 401, ""},
		{"three dots garbage", get, "/v1/contexts", "", "raw:Bearer a.b.c", nil, 401, ""},
		{"huge token", get, "/v1/contexts", "", "raw:Bearer " + strings.Repeat("a", 10000), nil, 401, ""},
		{"reader cannot create", post, "/v1/contexts", `{"title":"x"}`, "reader", nil, 403, "writer role"},
		{"reader cannot create memories", post, "/v1/memories", `{"type":"fact","content":"x","sessionId":"s"}`, "reader", nil, 403, ""},
		{"reader cannot batch", post, "/v1/contexts/batch", `{"items":[{"title":"x"}]}`, "reader", nil, 403, ""},
		{"reader cannot create sessions", post, "/v1/sessions", `{}`, "reader", nil, 403, ""},
		{"writer cannot manage keys", get, "/v1/admin/api-keys", "", "writer", nil, 403, ""},
		{"reader cannot see details", get, "/health/details", "", "reader", nil, 403, ""},
		{"details need credentials", get, "/health/details", "", "", nil, 401, ""},
		{"health needs none", get, "/health", "", "", nil, 200, ""},
	}
	e.run(t, cases, map[string]string{"readerKey": e.key("reader")})

	// Every 401 carries the challenge.
	for _, cred := range []string{"", "raw:Bearer nope", "raw:Bearer " + expired, "raw:Basic x"} {
		w := e.do(get, "/v1/contexts", "", cred)
		if w.Code != http.StatusUnauthorized || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), `Bearer realm="contextd"`) {
			t.Errorf("%q: %d WWW-Authenticate %q", cred, w.Code, w.Header().Get("WWW-Authenticate"))
		}
	}

	// Without a JWT secret, a JWT is just a bad API key.
	nojwt := newEnv(t, withConfig(func(c *httpapiConfig) { c.JWTSecret = nil }))
	if w := nojwt.do(get, "/v1/contexts", "", "raw:Bearer "+writerJWT); w.Code != http.StatusUnauthorized {
		t.Errorf("JWT without a secret: %d", w.Code)
	}
}

// TestRevokedKey: a revoked key stops working on the very next request.
func TestRevokedKey(t *testing.T) {
	e := newEnv(t)
	m := e.mustJSON(http.StatusCreated, post, "/v1/admin/api-keys", `{"role":"writer","name":"temp"}`, "admin")
	key, id := m["key"].(string), m["id"].(string)
	e.keys["temp"] = key
	e.mustJSON(http.StatusCreated, post, "/v1/contexts", `{"title":"x"}`, "temp")
	lst := e.mustJSON(http.StatusOK, get, "/v1/admin/api-keys", "", "admin")
	if !strings.Contains(toJSON(lst), `"name":"temp"`) || strings.Contains(toJSON(lst), key) {
		t.Errorf("key list: %s", toJSON(lst))
	}
	if w := e.do(del, "/v1/admin/api-keys/"+id, "", "admin"); w.Code != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", w.Code, w.Body)
	}
	for _, cred := range []string{"temp", "x:temp"} {
		if w := e.do(get, "/v1/contexts", "", cred); w.Code != http.StatusUnauthorized {
			t.Errorf("revoked key (%s): %d", cred, w.Code)
		}
	}
	if w := e.do(get, "/v1/admin/api-keys/"+id, "", "admin"); !strings.Contains(w.Body.String(), `"revokedAt"`) {
		t.Errorf("revoked key record: %s", w.Body)
	}
	// An admin may revoke its own key; then it is out too.
	if w := e.do(del, "/v1/admin/api-keys/"+e.ids["admin"], "", "admin"); w.Code != http.StatusNoContent {
		t.Fatalf("self revoke: %d", w.Code)
	}
	if w := e.do(get, "/v1/admin/api-keys", "", "admin"); w.Code != http.StatusUnauthorized {
		t.Errorf("after self revoke: %d", w.Code)
	}
}
