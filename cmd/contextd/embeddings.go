package main

import (
	"context"
	"sync"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/embed"
)

// embedderConfig is the embed.Config of the settings.
func embedderConfig(c *Config) embed.Config {
	return embed.Config{Provider: c.EmbeddingsProvider, URL: c.EmbeddingsURL, Model: c.EmbeddingsModel,
		APIKey: c.LLMAPIKey, Timeout: time.Duration(c.RequestTimeout)}
}

// validateEmbeddings checks the EMBEDDINGS_* settings.
func validateEmbeddings(c *Config) error {
	switch c.EmbeddingsProvider {
	case "", embed.ProviderBuiltin, embed.ProviderOff:
	case embed.ProviderOpenAI:
		if c.EmbeddingsURL == "" {
			return &configError{"EMBEDDINGS_URL", "is required when EMBEDDINGS_PROVIDER=openai"}
		}
		if c.EmbeddingsModel == "" {
			return &configError{"EMBEDDINGS_MODEL", "is required when EMBEDDINGS_PROVIDER=openai"}
		}
	default:
		return &configError{"EMBEDDINGS_PROVIDER", "must be builtin, openai or off (got " + c.EmbeddingsProvider + ")"}
	}
	return nil
}

// embedderReady is the readiness check of a remote embedder: one short text
// embedded, its answer kept for 30 s so that frequent probes cost the
// provider one call per half minute.
func embedderReady(e contextd.Embedder) func(context.Context) error {
	var (
		mu   sync.Mutex
		at   time.Time
		last error
	)
	return func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if !at.IsZero() && time.Since(at) < 30*time.Second {
			return last
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, last = e.Embed(ctx, []string{"readiness"})
		at = time.Now()
		return last
	}
}
