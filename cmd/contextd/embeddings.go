package main

import (
	"time"

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
