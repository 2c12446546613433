package httpapi_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestExportImport(t *testing.T) {
	src := newEnv(t)
	a := src.create("/v1/contexts", `{"title":"alpha","tags":["x"],"metadata":{"k":1}}`, "writer")
	b := src.create("/v1/contexts", `{"title":"beta"}`, "writer")
	src.create("/v1/contexts/"+a+"/relationships", `{"targetId":"`+b+`","type":"RELATES_TO"}`, "writer")
	src.create("/v1/memories", `{"content":"likes tea","type":"preference","sessionId":"s1"}`, "writer")
	src.create("/v1/contexts", `{"title":"other tenant"}`, "writerB")

	if w := src.do(http.MethodGet, "/v1/export", "", "writer"); w.Code != http.StatusForbidden {
		t.Fatalf("export by a writer: %d, want 403", w.Code)
	}
	w := src.do(http.MethodGet, "/v1/export", "", "admin")
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("export: %d %s: %s", w.Code, w.Header().Get("Content-Type"), w.Body.String())
	}
	export := w.Body.String()
	kinds := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(export))
	sc.Buffer(nil, 1<<20)
	first := true
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if first {
			if l["format"] != "contextd-export" || l["version"] != float64(1) || l["tenant"] != "tenant-a" {
				t.Fatalf("header %v", l)
			}
			first = false
			continue
		}
		kinds[l["kind"].(string)]++
		if l["tenant"] != "tenant-a" {
			t.Errorf("a line of another tenant: %v", l)
		}
	}
	if kinds["context"] != 2 || kinds["relationship"] != 1 || kinds["memory"] != 1 || kinds["session"] != 1 || kinds["apikey"] != 0 {
		t.Fatalf("exported kinds %v", kinds)
	}

	// Into an empty store, then again: the second import skips everything.
	dst := newEnv(t)
	imp := func(body string) map[string]any {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "/v1/import", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-ndjson")
		r.Header.Set("Authorization", "Bearer "+dst.key("admin"))
		w := httptest.NewRecorder()
		dst.h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("import: %d: %s", w.Code, w.Body.String())
		}
		var m map[string]any
		json.Unmarshal(w.Body.Bytes(), &m)
		return m
	}
	if m := imp(export); m["imported"] != float64(5) || m["skipped"] != float64(0) {
		t.Fatalf("first import: %v", m)
	}
	if m := imp(export); m["imported"] != float64(0) || m["skipped"] != float64(5) {
		t.Fatalf("second import: %v", m)
	}
	got := dst.mustJSON(http.StatusOK, http.MethodGet, "/v1/contexts/"+a, "", "reader")
	want := src.mustJSON(http.StatusOK, http.MethodGet, "/v1/contexts/"+a, "", "reader")
	if toJSON(got) != toJSON(want) {
		t.Errorf("imported context\n%s\nwant\n%s", toJSON(got), toJSON(want))
	}
	// Another version in the store: the import puts the exported one back
	// and the context keeps its relationships, the one it had and a new one.
	dst.mustJSON(http.StatusOK, http.MethodPatch, "/v1/contexts/"+a, `{"title":"changed"}`, "writer")
	c := dst.create("/v1/contexts", `{"title":"newer"}`, "writer")
	dst.create("/v1/contexts/"+c+"/relationships", `{"targetId":"`+a+`","type":"FOLLOWS"}`, "writer")
	if m := imp(export); m["imported"] != float64(1) || m["skipped"] != float64(4) {
		t.Fatalf("import over a changed context: %v", m)
	}
	got = dst.mustJSON(http.StatusOK, http.MethodGet, "/v1/contexts/"+a, "", "reader")
	if got["title"] != "alpha" || got["version"] != float64(1) {
		t.Errorf("after re-import: %v", got)
	}
	if rs, _ := got["relationships"].([]any); len(rs) != 2 {
		t.Errorf("after re-import the context has %d relationships, want 2: %v", len(rs), got["relationships"])
	}
	// A bad stream is a 4xx.
	r := httptest.NewRequest(http.MethodPost, "/v1/import", strings.NewReader("{\"format\":\"nope\"}\n"))
	r.Header.Set("Content-Type", "application/x-ndjson")
	r.Header.Set("Authorization", "Bearer "+dst.key("admin"))
	bw := httptest.NewRecorder()
	dst.h.ServeHTTP(bw, r)
	if bw.Code/100 != 4 {
		t.Errorf("bad import: %d, want 4xx: %s", bw.Code, bw.Body.String())
	}
}

func TestSelectiveRestore(t *testing.T) {
	e := newEnv(t)
	a := e.create("/v1/contexts", `{"title":"alpha"}`, "writer")
	b := e.create("/v1/contexts", `{"title":"beta"}`, "writer")
	e.create("/v1/contexts/"+a+"/relationships", `{"targetId":"`+b+`","type":"RELATES_TO"}`, "writer")
	before := e.mustJSON(http.StatusOK, http.MethodGet, "/v1/contexts/"+a, "", "reader")
	time.Sleep(5 * time.Millisecond)
	at := time.Now().UTC().Format(time.RFC3339Nano)
	time.Sleep(5 * time.Millisecond)
	e.mustJSON(http.StatusOK, http.MethodPatch, "/v1/contexts/"+a, `{"title":"alpha 2"}`, "writer")
	e.mustJSON(http.StatusNoContent, http.MethodDelete, "/v1/contexts/"+a, "", "writer")

	if w := e.do(http.MethodPost, "/v1/admin/restore", `{"contextId":"`+a+`","at":"`+at+`"}`, "writer"); w.Code != http.StatusForbidden {
		t.Fatalf("restore by a writer: %d", w.Code)
	}
	m := e.mustJSON(http.StatusOK, http.MethodPost, "/v1/admin/restore", `{"contextId":"`+a+`","at":"`+at+`"}`, "admin")
	if rs, _ := m["restored"].([]any); len(rs) != 2 {
		t.Fatalf("restored %v, want the context and its edge", m)
	}
	got := e.mustJSON(http.StatusOK, http.MethodGet, "/v1/contexts/"+a, "", "reader")
	if toJSON(got) != toJSON(before) {
		t.Errorf("restored\n%s\nwant\n%s", toJSON(got), toJSON(before))
	}
	for _, body := range []string{`{"at":"` + at + `"}`, `{"contextId":"` + a + `"}`, `{"contextId":"` + a + `","memoryId":"x","at":"` + at + `"}`} {
		if w := e.do(http.MethodPost, "/v1/admin/restore", body, "admin"); w.Code/100 != 4 {
			t.Errorf("restore %s: %d, want 4xx", body, w.Code)
		}
	}
	if w := e.do(http.MethodPost, "/v1/admin/restore", `{"contextId":"nope","at":"`+at+`"}`, "admin"); w.Code != http.StatusNotFound {
		t.Errorf("restore of an unknown context: %d, want 404", w.Code)
	}
	if w := e.do(http.MethodPost, "/v1/admin/backups", "", "admin"); w.Code != http.StatusServiceUnavailable {
		t.Errorf("backups without a directory: %d, want 503", w.Code)
	}
	// A backup holds every tenant: another tenant's admin may neither make
	// nor list them (tenant-a is the operator tenant of the test).
	for _, m := range []string{http.MethodPost, http.MethodGet} {
		if w := e.do(m, "/v1/admin/backups", "", "adminB"); w.Code != http.StatusForbidden {
			t.Errorf("%s /v1/admin/backups as another tenant's admin: %d, want 403", m, w.Code)
		}
	}
}
