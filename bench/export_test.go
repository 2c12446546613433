package bench

import (
	"context"
	"time"
)

// Internals for the black-box tests of package bench_test.

type (
	Histogram  = histogram
	TextGen    = textGen
	Vocabulary = vocabulary
)

var (
	NewHistogram  = newHistogram
	NewVocabulary = newVocabulary
	NewTextGen    = newTextGen
	BucketOf      = bucketOf
	BucketHigh    = bucketHigh
	CheckTarget   = checkTarget
)

const (
	VocabularySeed = vocabularySeed
	VocabularySize = vocabularySize
	QueryRankLow   = queryRankLow
	QueryRankHigh  = queryRankHigh
)

// Words returns the vocabulary, most frequent first.
func (v *vocabulary) Words() []string { return v.words }

// WireDo sends one request through a wireConn to base with key and
// returns the status and error of each of the calls, in order, over one
// connection.
func WireDo(ctx context.Context, base, key string, calls []WireCall) []WireResult {
	return WireDoPaused(ctx, base, key, calls, "", 0)
}

// WireDoPaused is WireDo that sleeps pause after sending the call to
// pausePath.
func WireDoPaused(ctx context.Context, base, key string, calls []WireCall, pausePath string, pause time.Duration) []WireResult {
	c := newClient(base, key, 1, 5*time.Second)
	defer c.close()
	w := c.wire()
	defer w.close()
	out := make([]WireResult, len(calls))
	for i, call := range calls {
		out[i].Status, out[i].Err = w.do(ctx, call.Method, call.Path, call.Body)
		if call.Path == pausePath {
			time.Sleep(pause)
		}
	}
	return out
}

// WireCall is one request of WireDo.
type WireCall struct {
	Method, Path string
	Body         []byte
}

// WireResult is what WireDo's request got.
type WireResult struct {
	Status int
	Err    error
}
