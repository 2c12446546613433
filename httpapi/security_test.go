package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/golang-jwt/jwt/v5"
)

// snapshot is everything the store holds, as JSON lines (keys without their
// lastUsedAt, which a successful authentication may move).
func (e *testEnv) snapshot() string {
	e.t.Helper()
	ex, ok := e.store.(contextd.Exporter)
	if !ok {
		e.t.Fatal("the store cannot export")
	}
	var b strings.Builder
	err := ex.Export(context.Background(), func(r *contextd.Record) error {
		if r.APIKey != nil {
			k := *r.APIKey
			k.LastUsedAt = nil
			r.APIKey = &k
		}
		line, err := json.Marshal(r)
		b.Write(line)
		b.WriteByte('\n')
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return b.String()
}

// TestSecuritySuite attacks every route of the API: no credentials, a bad
// key, a revoked key, an expired JWT, a forged JWT, alg none, another
// tenant's ids, a uid-bound token reaching for another user's data, a reader
// writing, oversized and malformed bodies. Each gets its 4xx, and the store
// is exactly as before.
func TestSecuritySuite(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	secret := []byte(testJWTSecret)

	// Data of tenant-b (the wrong tenant) and of user bob in tenant-a.
	bCtx := e.create("/v1/contexts", `{"title":"b1"}`, "writerB")
	bCtx2 := e.create("/v1/contexts", `{"title":"b2"}`, "writerB")
	bRel := e.create("/v1/contexts/"+bCtx+"/relationships", `{"type":"FOLLOWS","targetId":"`+bCtx2+`"}`, "writerB")
	bMem := e.create("/v1/memories", `{"type":"fact","content":"b","sessionId":"sess-b"}`, "writerB")
	bKey := e.ids["writerB"]
	bobCtx := e.create("/v1/contexts", `{"title":"bob's","userId":"bob","sessionId":"sess-bob"}`, "writer")
	bobCtx2 := e.create("/v1/contexts", `{"title":"bob's 2","userId":"bob"}`, "writer")
	bobRel := e.create("/v1/contexts/"+bobCtx+"/relationships", `{"type":"FOLLOWS","targetId":"`+bobCtx2+`"}`, "writer")
	bobMem := e.create("/v1/memories", `{"type":"fact","content":"bob","sessionId":"sess-bob","userId":"bob"}`, "writer")
	aliceCtx := e.create("/v1/contexts", `{"title":"alice's","userId":"alice"}`, "writer")

	revoked, revokedKey, err := e.svc.NewAPIKey(ctx, contextd.KeyCreate{Tenant: "tenant-a", Role: contextd.RoleAdmin, Name: "revoked"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.RevokeAPIKey(ctx, "", revoked.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	adminClaims := func(exp time.Duration) jwt.MapClaims { return claims("tenant-a", "admin", exp) }
	expired := token(t, jwt.SigningMethodHS256, secret, adminClaims(-time.Hour))
	forged := token(t, jwt.SigningMethodHS256, []byte("another-secret-of-at-least-32-bytes"), adminClaims(time.Hour))
	algNone := token(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, adminClaims(time.Hour))
	alice := token(t, jwt.SigningMethodHS256, secret, claims("tenant-a", "admin", time.Hour, "uid", "alice"))

	before := e.snapshot()
	ops := e.operations()
	if len(ops) != len(routeCalls) {
		t.Errorf("%d operations, %d in routeCalls", len(ops), len(routeCalls))
	}
	attacks := 0
	for _, op := range ops {
		call, ok := routeCalls[op.id]
		if !ok {
			t.Errorf("%s is not in routeCalls", op.id)
			continue
		}
		hasBody := call.body != "" // POST /v1/auth/token takes none
		body := call.body
		try := func(what, method, path, body, cred string, want int, hdr ...string) {
			t.Helper()
			attacks++
			w := e.do(method, path, body, cred, hdr...)
			if w.Code != want {
				t.Errorf("%s %s %s: %d, want %d: %s", what, method, path, w.Code, want, w.Body)
				return
			}
			checkProblem(t, w)
		}

		// Credentials.
		try("no credentials", op.method, call.path, body, "", 401)
		try("a bad key", op.method, call.path, body, "raw:Bearer cxd_"+strings.Repeat("z", 52), 401)
		try("a bad X-API-Key", op.method, call.path, body, "raw:", 401, "X-API-Key", "cxd_nope")
		try("a revoked key", op.method, call.path, body, "raw:Bearer "+revokedKey, 401)
		try("an expired JWT", op.method, call.path, body, "raw:Bearer "+expired, 401)
		try("a forged JWT", op.method, call.path, body, "raw:Bearer "+forged, 401)
		try("alg none", op.method, call.path, body, "raw:Bearer "+algNone, 401)
		try("a malformed Authorization", op.method, call.path, body, "raw:Basic YWRtaW46YWRtaW4=", 401)

		// Roles: a reader writing.
		writes := false
		for _, p := range call.needs {
			writes = writes || !contextd.RoleReader.Grants(p)
		}
		if writes {
			try("a reader", op.method, call.path, body, "reader", 403)
		}

		// Bodies: oversized and malformed, with a credential allowed to call.
		if hasBody {
			try("an oversized body", op.method, call.path, `{"title":"`+strings.Repeat("x", 17<<20)+`"}`, "admin", 413)
			try("a malformed body", op.method, call.path, `{"title":`, "admin", 400)
			try("a body of another type", op.method, call.path, `[1,2]`, "admin", 422)
		}

		// Another tenant's ids: 404, exactly as missing.
		if strings.Contains(call.path, "nope") {
			wrong := map[string]string{
				"/v1/contexts/nope": "/v1/contexts/" + bCtx, "/v1/memories/nope": "/v1/memories/" + bMem,
				"/v1/sessions/nope": "/v1/sessions/sess-b", "/v1/relationships/nope": "/v1/relationships/" + bRel,
				"/v1/admin/api-keys/nope": "/v1/admin/api-keys/" + bKey,
			}
			path := call.path
			for from, to := range wrong {
				path = strings.Replace(path, from, to, 1)
			}
			b := strings.Replace(body, "nope2", aliceCtx, 1)
			try("another tenant's id", op.method, path, b, "admin", 404)

			// A uid-bound token (alice) reaching for bob's data: 404 too.
			bob := map[string]string{
				"/v1/contexts/nope": "/v1/contexts/" + bobCtx, "/v1/memories/nope": "/v1/memories/" + bobMem,
				"/v1/sessions/nope": "/v1/sessions/sess-bob", "/v1/relationships/nope": "/v1/relationships/" + bobRel,
			}
			path = call.path
			for from, to := range bob {
				path = strings.Replace(path, from, to, 1)
			}
			if !strings.Contains(path, "nope") {
				try("alice reaching for bob's data", op.method, path, strings.Replace(body, "nope2", aliceCtx, 1), "raw:Bearer "+alice, 404)
			}
		}
	}
	// uid-bound creates naming another user: 403, on every create route.
	for _, c := range []struct{ path, body string }{
		{"/v1/contexts", `{"title":"x","userId":"bob"}`},
		{"/v1/contexts/batch", `{"items":[{"title":"x"},{"title":"y","userId":"bob"}]}`},
		{"/v1/memories", `{"type":"fact","content":"x","sessionId":"s-x","userId":"bob"}`},
		{"/v1/memories/batch", `{"items":[{"type":"fact","content":"x","sessionId":"s-x","userId":"bob"}]}`},
		{"/v1/sessions", `{"userId":"bob"}`},
		{"/v1/admin/api-keys", `{"role":"reader","uid":"bob"}`},
	} {
		attacks++
		if w := e.do(post, c.path, c.body, "raw:Bearer "+alice); w.Code != http.StatusForbidden {
			t.Errorf("alice creating bob's data on %s: %d %s", c.path, w.Code, w.Body)
		}
	}
	// uid-bound lists and searches never show bob's data.
	for _, path := range []string{"/v1/contexts", "/v1/contexts?userId=bob", "/v1/memories?userId=bob", "/v1/sessions", "/v1/search?q=bob"} {
		attacks++
		w := e.do(get, path, "", "raw:Bearer "+alice)
		if strings.Contains(w.Body.String(), "bob") {
			t.Errorf("alice sees bob's data on %s: %d %s", path, w.Code, w.Body)
		}
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("the attacks changed the store:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	t.Logf("%d attacks on %d operations, the store unchanged", attacks, len(ops))
}
