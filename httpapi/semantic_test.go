package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// wordEmbedder gives "dog" and "puppy" the same direction and every other
// word one of its own, enough to tell a semantic match from a lexical one.
type wordEmbedder struct{}

func (wordEmbedder) Dimensions() int { return 4 }
func (wordEmbedder) Model() string   { return "words-v1" }
func (wordEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := []float32{0, 0, 0, 0.1}
		t = strings.ToLower(t)
		if strings.Contains(t, "dog") || strings.Contains(t, "puppy") {
			v[0] = 1
		}
		if strings.Contains(t, "tax") {
			v[1] = 1
		}
		out[i] = v
	}
	return out, nil
}

func TestSemanticAndHybridOverHTTP(t *testing.T) {
	e := newEnv(t)
	e.svc.SetEmbedder(wordEmbedder{})
	e.mustJSON(201, http.MethodPost, "/v1/contexts/batch", `{"items":[
		{"id":"pet","title":"New puppy","content":"chews shoes","type":"note"},
		{"id":"tax","title":"Tax return","content":"due in April","type":"task"}]}`, "writer")
	r := e.mustJSON(200, http.MethodPost, "/v1/search", `{"query":"dog","mode":"semantic","explain":true,"facets":["type"]}`, "reader")
	res := r["results"].([]any)
	first := res[0].(map[string]any)
	if first["context"].(map[string]any)["id"] != "pet" || r["total"].(float64) != 2 {
		t.Fatalf("semantic dog: %v", r)
	}
	ex := first["explain"].(map[string]any)
	if ex["bm25"] != nil || ex["vector"] == nil || ex["fused"] == nil {
		t.Fatalf("explain %v, want vector and fused, bm25 null", ex)
	}
	if f := r["facets"].(map[string]any)["type"].([]any); len(f) != 2 {
		t.Fatalf("facets %v", r["facets"])
	}
	r = e.mustJSON(200, http.MethodGet, "/v1/search?q=tax&mode=hybrid&explain=true&type=task", "", "reader")
	res = r["results"].([]any)
	if len(res) != 1 || res[0].(map[string]any)["explain"].(map[string]any)["bm25"] == nil {
		t.Fatalf("hybrid tax filtered to tasks: %v", r)
	}
	e.mustJSON(201, http.MethodPost, "/v1/memories", `{"type":"fact","content":"has a puppy","sessionId":"s1"}`, "writer")
	r = e.mustJSON(200, http.MethodPost, "/v1/memories/search", `{"query":"dog","mode":"semantic","explain":true}`, "reader")
	if res := r["results"].([]any); len(res) != 1 || res[0].(map[string]any)["explain"] == nil {
		t.Fatalf("memory semantic search: %v", r)
	}
	e.mustJSON(422, http.MethodPost, "/v1/memories/search", `{"query":"dog","mode":"vector"}`, "reader")
}
