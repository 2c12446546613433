package embed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/contextd/contextd"
)

// OpenAI is a client of an OpenAI-compatible POST /v1/embeddings endpoint
// (OpenAI, Ollama, vLLM, LM Studio, text-embeddings-inference, LiteLLM). It
// sends texts in batches, retries transient failures with exponential
// backoff, and normalises the vectors it receives.
type OpenAI struct {
	url, model, key string
	dims            atomic.Int64
	batch           int
	retries         int
	backoff         time.Duration
	client          *http.Client
}

// OpenAIConfig configures an OpenAI client.
type OpenAIConfig struct {
	URL        string        // base URL ("http://localhost:11434/v1") or the full .../embeddings URL; required
	Model      string        // model name sent with every request; required
	APIKey     string        // bearer token; "" sends none
	Dimensions int           // expected vector length; 0 learns it from the first answer
	BatchSize  int           // texts per request; 0 means 64
	Timeout    time.Duration // per request; 0 means 30s
	Retries    int           // retries after the first attempt; 0 means 3, negative means none
	Backoff    time.Duration // first retry delay, doubled each time; 0 means 500ms
	Client     *http.Client  // nil: a client with Timeout
}

// NewOpenAI returns a client. It does not contact the server.
func NewOpenAI(c OpenAIConfig) (*OpenAI, error) {
	if c.URL == "" {
		return nil, contextd.Invalid("EMBEDDINGS_URL", "is required for the openai provider")
	}
	if c.Model == "" {
		return nil, contextd.Invalid("EMBEDDINGS_MODEL", "is required for the openai provider")
	}
	u := strings.TrimRight(c.URL, "/")
	if !strings.HasSuffix(u, "/embeddings") {
		u += "/embeddings"
	}
	o := &OpenAI{url: u, model: c.Model, key: c.APIKey, batch: c.BatchSize,
		retries: c.Retries, backoff: c.Backoff, client: c.Client}
	o.dims.Store(int64(c.Dimensions))
	if o.batch <= 0 {
		o.batch = 64
	}
	if o.retries == 0 {
		o.retries = 3
	} else if o.retries < 0 {
		o.retries = 0
	}
	if o.backoff <= 0 {
		o.backoff = 500 * time.Millisecond
	}
	if o.client == nil {
		t := c.Timeout
		if t <= 0 {
			t = 30 * time.Second
		}
		o.client = &http.Client{Timeout: t}
	}
	return o, nil
}

var _ contextd.Embedder = (*OpenAI)(nil)

// Dimensions is the vector length (0 until the first answer when not configured).
func (o *OpenAI) Dimensions() int { return int(o.dims.Load()) }

// Model is "openai:<model>".
func (o *OpenAI) Model() string { return "openai:" + o.model }

type embeddingsRequest struct {
	Model string   `json:"model"`
	Input []string `json:"input"`
}

type embeddingsResponse struct {
	Data []struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
}

// Embed sends texts in batches and returns their normalised vectors.
func (o *OpenAI) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += o.batch {
		part := texts[start:min(len(texts), start+o.batch)]
		vecs, err := o.embedBatch(ctx, part)
		if err != nil {
			return nil, err
		}
		out = append(out, vecs...)
	}
	return out, nil
}

// errPermanent marks an answer a retry will not change.
type errPermanent struct{ error }

func (o *OpenAI) embedBatch(ctx context.Context, texts []string) ([][]float32, error) {
	body, err := json.Marshal(embeddingsRequest{Model: o.model, Input: texts})
	if err != nil {
		return nil, err
	}
	delay := o.backoff
	var last error
	for attempt := 0; attempt <= o.retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(delay):
			}
			delay *= 2
		}
		vecs, err := o.post(ctx, body, len(texts))
		if err == nil {
			return vecs, nil
		}
		last = err
		var perm errPermanent
		if errors.As(err, &perm) || ctx.Err() != nil {
			break
		}
	}
	return nil, contextd.Errorf(contextd.EUNAVAILABLE, "embeddings server %s (model %s) failed after %d attempt(s): %v",
		o.url, o.model, o.retries+1, last)
}

func (o *OpenAI) post(ctx context.Context, body []byte, n int) ([][]float32, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.url, bytes.NewReader(body))
	if err != nil {
		return nil, errPermanent{err}
	}
	req.Header.Set("Content-Type", "application/json")
	if o.key != "" {
		req.Header.Set("Authorization", "Bearer "+o.key)
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("unreachable: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		msg := fmt.Errorf("HTTP %d: %s", resp.StatusCode, snippet(raw))
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			return nil, msg
		}
		return nil, errPermanent{msg}
	}
	var er embeddingsResponse
	if err := json.Unmarshal(raw, &er); err != nil {
		return nil, errPermanent{fmt.Errorf("not an embeddings answer: %v", err)}
	}
	if len(er.Data) != n {
		return nil, errPermanent{fmt.Errorf("%d embeddings for %d inputs", len(er.Data), n)}
	}
	out := make([][]float32, n)
	for _, d := range er.Data {
		if d.Index < 0 || d.Index >= n || out[d.Index] != nil {
			return nil, errPermanent{fmt.Errorf("bad embedding index %d", d.Index)}
		}
		o.dims.CompareAndSwap(0, int64(len(d.Embedding)))
		if want := int(o.dims.Load()); len(d.Embedding) != want || want == 0 {
			return nil, errPermanent{fmt.Errorf("embedding of %d dimensions, want %d", len(d.Embedding), want)}
		}
		out[d.Index] = normalize(d.Embedding)
	}
	return out, nil
}

func normalize(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return v
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
	return v
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
