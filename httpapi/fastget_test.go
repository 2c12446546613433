package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/sqlite"
	"github.com/prometheus/client_golang/prometheus"
)

// TestFastGetAnswersAsHuma: GET /v1/contexts/{id} answers byte for byte
// the same (status, every header, body) with the fast path as through
// huma alone, over many contexts and every way a get can fail or differ:
// unknown ids, other tenants, other users, missing, malformed and unknown
// credentials, a scope without the permission, conditional gets, Accept
// headers, query strings, escaped paths and HEAD. Every request is made
// to both handlers over the same store.
func TestFastGetAnswersAsHuma(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{TopKMinContexts: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := contextd.NewService(st)
	keys := map[string]string{}
	for name, kc := range map[string]contextd.KeyCreate{
		"reader":   {Tenant: "a", Role: contextd.RoleReader},
		"admin":    {Tenant: "a", Role: contextd.RoleAdmin},
		"u1":       {Tenant: "a", Role: contextd.RoleWriter, UserID: "u1"},
		"u2":       {Tenant: "a", Role: contextd.RoleReader, UserID: "u2"},
		"memories": {Tenant: "a", Role: contextd.RoleReader, Scopes: []contextd.Permission{contextd.PermMemoriesRead}},
		"tenantB":  {Tenant: "b", Role: contextd.RoleAdmin},
	} {
		kc.Name = name
		_, k, err := svc.NewAPIKey(ctx, kc)
		if err != nil {
			t.Fatal(err)
		}
		keys[name] = k
	}
	r := rand.New(rand.NewPCG(5, 6))
	text := func() string { return strings.ToValidUTF8(randString(r), "?") }
	var ids []string
	for i := range 100 {
		it := contextd.ContextCreate{ID: fmt.Sprintf("c-%03d", i), Title: "t " + text(), Content: strings.Repeat(text(), 1+r.IntN(30)) + "x",
			Type: "note", UserID: []string{"", "u1", "u2"}[i%3], Tags: []string{"t1", "tag-" + fmt.Sprint(r.IntN(9))}[:i%3],
			Metadata: randObject(r, 0)}
		if r.IntN(4) == 0 {
			it.SessionID = "s1"
		}
		if i > 0 && i%3 != 1 {
			it.Relationships = []contextd.RelationshipCreate{{Type: contextd.RelFollows, TargetID: ids[r.IntN(len(ids))], Properties: randObject(r, 1)}}
		}
		p := &contextd.Principal{Tenant: "a", Role: contextd.RoleAdmin}
		cs, err := svc.CreateContexts(ctx, p, []contextd.ContextCreate{it}, false)
		if err != nil {
			t.Fatalf("context %d: %v", i, err)
		}
		ids = append(ids, cs[0].ID)
	}
	if _, err := svc.CreateContexts(ctx, &contextd.Principal{Tenant: "b", Role: contextd.RoleAdmin},
		[]contextd.ContextCreate{{ID: "b-only", Title: "b", Content: "b", Type: "note"}}, false); err != nil {
		t.Fatal(err)
	}
	newH := func(fast bool) (http.Handler, *bytes.Buffer) {
		var logs bytes.Buffer
		h, err := NewHandler(Config{Service: svc, Registry: prometheus.NewRegistry(), noFastGet: !fast,
			Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return h, &logs
	}
	fast, fastLogs := newH(true)
	slow, slowLogs := newH(false)

	type req struct {
		method, path string
		hdr          []string // name, value pairs
	}
	var reqs []req
	bearer := func(k string) []string { return []string{"Authorization", "Bearer " + keys[k]} }
	for i, id := range ids {
		path := "/v1/contexts/" + id
		for _, k := range []string{"reader", "admin", "u1", "u2", "memories", "tenantB"} {
			reqs = append(reqs, req{"GET", path, bearer(k)})
		}
		reqs = append(reqs, req{"GET", path, []string{"X-API-Key", keys["reader"]}})
		v := 1 + i%2
		for _, inm := range []string{fmt.Sprintf(`"%d"`, v), `"1"`, `"2"`, "*", `W/"1"`, `"9", "1"`, "garbage"} {
			reqs = append(reqs, req{"GET", path, append(bearer("reader"), "If-None-Match", inm)})
		}
		if i%10 == 0 {
			for _, acc := range []string{"application/json", "*/*", "application/*", "text/html", "application/cbor", "application/problem+json", "json"} {
				reqs = append(reqs, req{"GET", path, append(bearer("reader"), "Accept", acc)})
			}
			reqs = append(reqs, req{"GET", path + "?x=1", bearer("reader")}, req{"GET", path + "?", bearer("reader")},
				req{"HEAD", path, bearer("reader")}, req{"GET", path + "/", bearer("reader")})
		}
	}
	for _, path := range []string{"/v1/contexts/nope", "/v1/contexts/b-only", "/v1/contexts/a%20b", "/v1/contexts/a%2Fb",
		"/v1/contexts/" + strings.Repeat("x", 300), "/v1/contexts/%ff", "/v1/contexts/caf%C3%A9", "/v1/contexts/<script>"} {
		reqs = append(reqs, req{"GET", path, bearer("reader")}, req{"GET", path, bearer("tenantB")})
	}
	for _, hdr := range [][]string{nil, {"Authorization", "Bearer nope"}, {"Authorization", "Basic abc"}, {"Authorization", "Bearer"},
		{"X-API-Key", "cxd_unknown"}, {"Authorization", "Bearer a.b.c"}} {
		reqs = append(reqs, req{"GET", "/v1/contexts/" + ids[0], hdr})
	}

	do := func(h http.Handler, q req, n int) *httptest.ResponseRecorder {
		rq := httptest.NewRequest(q.method, q.path, nil)
		rq.Header.Set("X-Request-ID", fmt.Sprintf("req-%d", n))
		for i := 0; i+1 < len(q.hdr); i += 2 {
			rq.Header.Add(q.hdr[i], q.hdr[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, rq)
		return w
	}
	statuses := map[int]int{}
	for n, q := range reqs {
		a, b := do(fast, q, n), do(slow, q, n)
		if a.Code != b.Code || !slices.Equal(headerLines(a.Header()), headerLines(b.Header())) || !bytes.Equal(a.Body.Bytes(), b.Body.Bytes()) {
			t.Fatalf("%s %s %q:\nfast %d %q\n%s\nhuma %d %q\n%s", q.method, q.path, q.hdr,
				a.Code, headerLines(a.Header()), a.Body.Bytes(), b.Code, headerLines(b.Header()), b.Body.Bytes())
		}
		statuses[a.Code]++
	}
	for _, code := range []int{200, 304, 401, 403, 404, 422} {
		if statuses[code] == 0 {
			t.Errorf("no case answered %d (%v): the test lost its coverage", code, statuses)
		}
	}
	// The access log says the same of every request (but its duration).
	if a, b := logLines(t, fastLogs), logLines(t, slowLogs); !slices.Equal(a, b) {
		t.Fatalf("access logs differ: %d and %d lines", len(a), len(b))
	}
}

// headerLines is a header as sorted "Name: value" lines.
func headerLines(h http.Header) []string {
	var out []string
	for k, vs := range h {
		for _, v := range vs {
			out = append(out, k+": "+v)
		}
	}
	slices.Sort(out)
	return out
}

// logLines are the log's lines without their time and duration.
func logLines(t *testing.T, logs io.Reader) []string {
	t.Helper()
	b, _ := io.ReadAll(logs)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" {
			continue
		}
		var fields []string
		for _, f := range strings.Split(line, ",") {
			if !strings.HasPrefix(f, `{"time":`) && !strings.HasPrefix(f, `"durationMs":`) {
				fields = append(fields, f)
			}
		}
		out = append(out, strings.Join(fields, ","))
	}
	if len(out) == 0 {
		t.Fatal("no access log")
	}
	return out
}
