package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestAccessLogHasNoSecrets: every request leaves one access line with its
// id, tenant, principal, route pattern, status, latency and size; no
// credential (key, JWT, the token an exchange returns) and no body ever
// reaches the log, on successes and failures alike.
func TestAccessLogHasNoSecrets(t *testing.T) {
	e := newEnv(t)
	const marker = "TOP-SECRET-BODY-MARKER"
	jwtTok := token(t, jwt.SigningMethodHS256, []byte(testJWTSecret), claims("tenant-a", "writer", time.Hour))
	issued := e.mustJSON(201, post, "/v1/auth/token", "", "reader")["token"].(string)
	e.do(post, "/v1/contexts", `{"title":"`+marker+`","content":"`+marker+`"}`, "writer")
	e.do(post, "/v1/contexts", `{"title":"`+marker+`"`, "x:writer")                // malformed
	e.do(post, "/v1/contexts", `{"title":"`+marker+`"}`, "reader")                 // forbidden
	e.do(get, "/v1/contexts", "", "raw:Bearer "+jwtTok)                            // JWT
	e.do(get, "/v1/contexts", "", "raw:Bearer "+jwtTok+"x")                        // bad JWT
	e.do(get, "/v1/contexts", "", "raw:Bearer cxd_"+strings.Repeat("q", 52))       // unknown key
	e.do(get, "/v1/contexts?q="+marker, "", "reader")                              // unknown query parameter
	e.do(post, "/v1/search", `{"query":"`+marker+`"}`, "reader")                   // a search
	e.do(get, "/v1/contexts", "", "raw:Bearer "+issued)                            // the issued token
	e.do(post, "/v1/admin/api-keys", `{"role":"reader","name":"logged"}`, "admin") // a new key in the answer
	logs := e.logs.String()
	for name, secret := range map[string]string{
		"admin key": e.keys["admin"], "writer key": e.keys["writer"], "reader key": e.keys["reader"],
		"JWT": jwtTok, "JWT signature": jwtTok[strings.LastIndex(jwtTok, ".")+1:], "issued token": issued,
		"body": marker, "JWT secret": testJWTSecret,
	} {
		if strings.Contains(logs, secret) {
			t.Errorf("the %s is in the log:\n%s", name, logs)
		}
	}
	if strings.Contains(logs, `"key":"cxd_`) || strings.Contains(logs, "key=cxd_") {
		t.Errorf("a key is in the log")
	}
	// One line per request with the fields of the contract.
	var lines []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "msg=request") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 11 {
		t.Fatalf("%d access lines for 11 requests:\n%s", len(lines), logs)
	}
	for _, field := range []string{"requestId=", "tenant=tenant-a", "principal=key:" + e.ids["writer"], "route=/v1/contexts",
		"status=201", "durationMs=", "bytes="} {
		if !strings.Contains(lines[1], field) {
			t.Errorf("access line lacks %s: %s", field, lines[1])
		}
	}
	if !strings.Contains(lines[4], "principal=jwt:svc-writer") {
		t.Errorf("JWT access line: %s", lines[4])
	}
}
