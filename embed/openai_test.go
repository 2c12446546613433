package embed_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/embed"
)

// fakeServer answers /v1/embeddings with vector [len(text), 1, 0] per input,
// failing the first `fail` requests with status failCode.
func fakeServer(t *testing.T, fail int32, failCode int) (*httptest.Server, *atomic.Int32, *atomic.Int32) {
	t.Helper()
	var calls, maxBatch atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.URL.Path != "/v1/embeddings" || r.Method != http.MethodPost {
			http.Error(w, "wrong route "+r.URL.Path, http.StatusNotFound)
			return
		}
		if r.Header.Get("Authorization") != "Bearer sk-test" {
			http.Error(w, "no key", http.StatusUnauthorized)
			return
		}
		if n <= fail {
			http.Error(w, "busy", failCode)
			return
		}
		var req struct {
			Model string   `json:"model"`
			Input []string `json:"input"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model != "m1" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if int32(len(req.Input)) > maxBatch.Load() {
			maxBatch.Store(int32(len(req.Input)))
		}
		type item struct {
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		}
		var out struct {
			Data []item `json:"data"`
		}
		// Answer in reverse order: the client must place by index.
		for i := len(req.Input) - 1; i >= 0; i-- {
			out.Data = append(out.Data, item{Index: i, Embedding: []float32{float32(len(req.Input[i])), 1, 0}})
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls, &maxBatch
}

func TestOpenAIBatchesAndNormalises(t *testing.T) {
	srv, calls, maxBatch := fakeServer(t, 0, 0)
	o, err := embed.NewOpenAI(embed.OpenAIConfig{URL: srv.URL + "/v1", Model: "m1", APIKey: "sk-test", BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	texts := make([]string, 10)
	for i := range texts {
		texts[i] = strings.Repeat("x", i+1)
	}
	vecs, err := o.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(vecs) != 10 || calls.Load() != 3 || maxBatch.Load() != 4 {
		t.Fatalf("got %d vectors in %d calls (max batch %d), want 10 in 3 (max 4)", len(vecs), calls.Load(), maxBatch.Load())
	}
	for i, v := range vecs {
		n := float64(i + 1)
		want := n / sqrt(n*n+1)
		if d := float64(v[0]) - want; d > 1e-6 || d < -1e-6 {
			t.Fatalf("vector %d = %v, want first component %.6f (normalised, in input order)", i, v, want)
		}
	}
	if o.Dimensions() != 3 || o.Model() != "openai:m1" {
		t.Fatalf("Dimensions %d Model %q", o.Dimensions(), o.Model())
	}
}

func sqrt(x float64) float64 {
	z := x
	for range 50 {
		z = (z + x/z) / 2
	}
	return z
}

func TestOpenAIRetriesTransientFailures(t *testing.T) {
	srv, calls, _ := fakeServer(t, 2, http.StatusServiceUnavailable)
	o, _ := embed.NewOpenAI(embed.OpenAIConfig{URL: srv.URL + "/v1/embeddings", Model: "m1", APIKey: "sk-test", Backoff: time.Millisecond})
	if _, err := o.Embed(context.Background(), []string{"a"}); err != nil {
		t.Fatalf("after two 503s the third attempt should succeed: %v", err)
	}
	if calls.Load() != 3 {
		t.Fatalf("%d calls, want 3", calls.Load())
	}
}

func TestOpenAIDoesNotRetryClientErrors(t *testing.T) {
	srv, calls, _ := fakeServer(t, 0, 0)
	o, _ := embed.NewOpenAI(embed.OpenAIConfig{URL: srv.URL + "/v1", Model: "m1", APIKey: "wrong", Backoff: time.Millisecond})
	_, err := o.Embed(context.Background(), []string{"a"})
	if contextd.ErrorCode(err) != contextd.EUNAVAILABLE || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err = %v, want unavailable naming HTTP 401", err)
	}
	if calls.Load() != 1 {
		t.Fatalf("%d calls, want 1 (a 401 is not retried)", calls.Load())
	}
}

func TestOpenAIUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	o, _ := embed.NewOpenAI(embed.OpenAIConfig{URL: url + "/v1", Model: "m1", Retries: 2, Backoff: time.Millisecond, Timeout: time.Second})
	start := time.Now()
	_, err := o.Embed(context.Background(), []string{"a"})
	if contextd.ErrorCode(err) != contextd.EUNAVAILABLE || !strings.Contains(err.Error(), "unreachable") || !strings.Contains(err.Error(), "3 attempt") {
		t.Fatalf("err = %v, want a clear unavailable error after 3 attempts", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("took too long")
	}
}

func TestNewProvider(t *testing.T) {
	if e, err := embed.New(embed.Config{Provider: "off"}); err != nil || e != nil {
		t.Fatalf("off: %v %v", e, err)
	}
	if _, err := embed.New(embed.Config{Provider: "bogus"}); contextd.ErrorCode(err) != contextd.EINVALID {
		t.Fatalf("bogus provider: %v", err)
	}
	if _, err := embed.New(embed.Config{Provider: "openai"}); contextd.ErrorCode(err) != contextd.EINVALID {
		t.Fatalf("openai without URL: %v", err)
	}
	e, err := embed.New(embed.Config{})
	if err != nil || e == nil || !strings.HasPrefix(e.Model(), embed.BuiltinName) {
		t.Fatalf("default: %v %v", e, err)
	}
}
