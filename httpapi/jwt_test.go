package httpapi_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/httpapi"
	"github.com/golang-jwt/jwt/v5"
)

// idpKeys are an identity provider's signing keys, written as a PEM file
// (RSA) and a JWKS file (EC, kid "ec-1").
type idpKeys struct {
	rsa              *rsa.PrivateKey
	ec               *ecdsa.PrivateKey
	pemFile, jwksFil string
	rsaPEM           []byte
}

func newIDP(t *testing.T) *idpKeys {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	k := &idpKeys{rsa: rk, ec: ek, pemFile: filepath.Join(dir, "idp.pem"), jwksFil: filepath.Join(dir, "jwks.json")}
	k.rsaPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	if err := os.WriteFile(k.pemFile, k.rsaPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	pad := func(n *big.Int) []byte { b := make([]byte, 32); return n.FillBytes(b) }
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "EC", "kid": "ec-1", "crv": "P-256", "use": "sig", "x": b64(pad(ek.X)), "y": b64(pad(ek.Y))},
	}})
	if err := os.WriteFile(k.jwksFil, jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	return k
}

func signWithKid(t *testing.T, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestJWTAsymmetric: RS256 (PEM) and ES256 (JWKS) tokens from an identity
// provider are accepted next to HS256 ones; every forgery is a 401.
func TestJWTAsymmetric(t *testing.T) {
	idp := newIDP(t)
	keys, err := httpapi.LoadJWTPublicKeys(idp.pemFile, idp.jwksFil)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, withConfig(func(c *httpapi.Config) {
		c.JWT = httpapi.JWTConfig{PublicKeys: keys, Issuer: "https://idp.example", Audience: "contextd", ClockSkew: 30 * time.Second}
	}))
	std := func(extra ...any) jwt.MapClaims {
		c := claims("tenant-a", "writer", time.Hour, append([]any{"iss", "https://idp.example", "aud", "contextd"}, extra...)...)
		return c
	}
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	now := time.Now()
	good := []struct {
		name, tok string
	}{
		{"RS256 from the PEM key", signWithKid(t, jwt.SigningMethodRS256, idp.rsa, "", std())},
		{"ES256 from the JWKS by kid", signWithKid(t, jwt.SigningMethodES256, idp.ec, "ec-1", std())},
		{"ES256 without kid (one EC key)", signWithKid(t, jwt.SigningMethodES256, idp.ec, "", std())},
		{"HS256 with the secret", token(t, jwt.SigningMethodHS256, []byte(testJWTSecret), std())},
		{"nbf within the skew", signWithKid(t, jwt.SigningMethodRS256, idp.rsa, "", std("nbf", now.Add(20*time.Second).Unix()))},
		{"exp within the skew", signWithKid(t, jwt.SigningMethodRS256, idp.rsa, "", std("exp", now.Add(-20*time.Second).Unix()))},
		{"aud as a list", signWithKid(t, jwt.SigningMethodRS256, idp.rsa, "", std("aud", []string{"other", "contextd"}))},
	}
	for _, g := range good {
		if w := e.do(post, "/v1/contexts", `{"title":"by idp"}`, "raw:Bearer "+g.tok); w.Code != 201 {
			t.Errorf("%s: %d %s", g.name, w.Code, w.Body)
		}
	}

	// Algorithm confusion: an HS256 token whose HMAC key is the RSA public
	// key's PEM bytes, the classic attack on verifiers that hand the public
	// key to whatever algorithm the header names.
	confused := token(t, jwt.SigningMethodHS256, idp.rsaPEM, std())
	noneTok := token(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, std())
	bad := []struct {
		name, tok, detail string
	}{
		{"alg none", noneTok, "invalid token"},
		{"algorithm confusion", confused, "invalid token"},
		{"RS256 signed by another key", signWithKid(t, jwt.SigningMethodRS256, otherRSA, "", std()), "invalid token"},
		{"ES256 with an unknown kid", signWithKid(t, jwt.SigningMethodES256, idp.ec, "nope", std()), "invalid token"},
		{"RS512 (not accepted)", signWithKid(t, jwt.SigningMethodRS512, idp.rsa, "", std()), "invalid token"},
		{"expired beyond the skew", signWithKid(t, jwt.SigningMethodRS256, idp.rsa, "", std("exp", now.Add(-time.Minute).Unix())), "expired"},
		{"not valid yet", signWithKid(t, jwt.SigningMethodRS256, idp.rsa, "", std("nbf", now.Add(time.Minute).Unix())), "not valid yet"},
		{"issued in the future", signWithKid(t, jwt.SigningMethodRS256, idp.rsa, "", std("iat", now.Add(time.Hour).Unix())), "not valid yet"},
		{"wrong issuer", signWithKid(t, jwt.SigningMethodRS256, idp.rsa, "", std("iss", "https://evil.example")), "iss/aud"},
		{"no issuer", signWithKid(t, jwt.SigningMethodRS256, idp.rsa, "", claims("tenant-a", "writer", time.Hour, "aud", "contextd")), "iss/aud"},
		{"wrong audience", signWithKid(t, jwt.SigningMethodRS256, idp.rsa, "", std("aud", "someone-else")), "iss/aud"},
		{"no exp", signWithKid(t, jwt.SigningMethodRS256, idp.rsa, "", claims("tenant-a", "writer", 0, "iss", "https://idp.example", "aud", "contextd")), "exp"},
		{"tampered payload", tamper(signWithKid(t, jwt.SigningMethodRS256, idp.rsa, "", std())), "invalid token"},
	}
	for _, b := range bad {
		w := e.do(post, "/v1/contexts", `{"title":"forged"}`, "raw:Bearer "+b.tok)
		if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), b.detail) ||
			!strings.Contains(w.Header().Get("WWW-Authenticate"), "invalid_token") {
			t.Errorf("%s: %d %s %v, want 401 with %q", b.name, w.Code, w.Body, w.Header().Get("WWW-Authenticate"), b.detail)
		}
	}
	items, _, err := e.svc.FindContexts(context.Background(), &contextd.Principal{Tenant: "tenant-a", Role: contextd.RoleReader},
		contextd.ContextFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range items {
		if c.Title == "forged" {
			t.Fatalf("a forged token wrote a context")
		}
	}
}

// tamper makes a token claim admin without re-signing it.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	payload = []byte(strings.Replace(string(payload), `"writer"`, `"admin"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

func TestJWTKeyFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	der, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
	for name, body := range map[string]string{
		"garbage.pem": "not a key",
		"small.pem":   string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		"private.pem": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	} {
		if _, err := httpapi.LoadJWTPublicKeys(write(name, body), ""); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	for name, body := range map[string]string{
		"empty.json":    `{"keys":[]}`,
		"oct.json":      `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`,
		"p384.json":     `{"keys":[{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}]}`,
		"offcurve.json": `{"keys":[{"kty":"EC","crv":"P-256","x":"AQ","y":"AQ"}]}`,
		"notjson.json":  `{`,
	} {
		if _, err := httpapi.LoadJWTPublicKeys("", write(name, body)); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

// TestTokenExchange: POST /v1/auth/token turns an API key into a JWT with
// its tenant, role, uid and scopes, usable at once and refused once expired.
func TestTokenExchange(t *testing.T) {
	clk := time.Now()
	e := newEnv(t, withConfig(func(c *httpapi.Config) {
		c.Now = func() time.Time { return clk }
		c.JWT = httpapi.JWTConfig{Issuer: "contextd-test", Audience: "contextd", TTL: 10 * time.Minute}
	}))
	ctx := context.Background()
	_, narrow, err := e.svc.NewAPIKey(ctx, contextd.KeyCreate{Tenant: "tenant-a", Role: contextd.RoleWriter, Name: "alice-app",
		UserID: "alice", Scopes: perms("contexts:read", "contexts:write")})
	if err != nil {
		t.Fatal(err)
	}
	e.keys["narrow"] = narrow

	body := e.mustJSON(201, post, "/v1/auth/token", "", "narrow")
	tok, _ := body["token"].(string)
	exp, _ := time.Parse(time.RFC3339, body["expiresAt"].(string))
	if tok == "" || exp.Sub(clk) < 9*time.Minute || exp.Sub(clk) > 10*time.Minute {
		t.Fatalf("token answer %v", body)
	}
	var c jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &c); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"tenant": "tenant-a", "role": "writer", "uid": "alice", "scope": "contexts:read contexts:write",
		"sub": "alice-app", "iss": "contextd-test"} {
		if c[k] != want {
			t.Errorf("claim %s = %v, want %v", k, c[k], want)
		}
	}
	bearer := "raw:Bearer " + tok
	e.run(t, []apiCase{
		{"token writes as alice", post, "/v1/contexts", `{"title":"via token"}`, bearer, nil, 201, `"userId":"alice"`},
		{"token keeps the uid wall", post, "/v1/contexts", `{"title":"x","userId":"bob"}`, bearer, nil, 403, ""},
		{"token keeps the scopes", get, "/v1/memories", "", bearer, nil, 403, "memories:read"},
		{"a token is not exchanged for another", post, "/v1/auth/token", "", bearer, nil, 403, "API key"},
		{"no credentials", post, "/v1/auth/token", "", "", nil, 401, ""},
		{"X-API-Key works too", post, "/v1/auth/token", "", "x:reader", nil, 201, `"token":"`},
	}, nil)
	clk = clk.Add(11 * time.Minute)
	if w := e.do(get, "/v1/contexts", "", bearer); w.Code != 401 || !strings.Contains(w.Body.String(), "expired") {
		t.Fatalf("expired token: %d %s", w.Code, w.Body)
	}

	// Without JWT_SECRET there is nothing to sign with.
	noSecret := newEnv(t, withConfig(func(c *httpapi.Config) { c.JWTSecret = nil }))
	if w := noSecret.do(post, "/v1/auth/token", "", "reader"); w.Code != http.StatusNotImplemented || !strings.Contains(w.Body.String(), "JWT_SECRET") {
		t.Fatalf("no secret: %d %s", w.Code, w.Body)
	}
}
