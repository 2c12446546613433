package main

import (
	"context"
	"errors"
	"testing"
)

type countingEmbedder struct {
	calls int
	err   error
}

func (e *countingEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	e.calls++
	if e.err != nil {
		return nil, e.err
	}
	return [][]float32{{1, 0}}, nil
}
func (e *countingEmbedder) Dimensions() int { return 2 }
func (e *countingEmbedder) Model() string   { return "test" }

// TestEmbedderReady: the check embeds once per 30 s and reports failures.
func TestEmbedderReady(t *testing.T) {
	e := &countingEmbedder{err: errors.New("connection refused")}
	check := embedderReady(e)
	if err := check(context.Background()); err == nil {
		t.Fatal("an unreachable embedder is ready")
	}
	e.err = nil
	if err := check(context.Background()); err == nil || e.calls != 1 {
		t.Fatalf("the answer was not kept: err %v, %d calls", err, e.calls)
	}
}
