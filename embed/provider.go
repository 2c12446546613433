package embed

import (
	"time"

	"github.com/contextd/contextd"
)

// Providers.
const (
	ProviderBuiltin = "builtin" // the offline static model (default)
	ProviderOpenAI  = "openai"  // an OpenAI-compatible /v1/embeddings server
	ProviderOff     = "off"     // no embeddings: semantic and hybrid searches are refused
)

// Config selects and configures an embedder (EMBEDDINGS_* settings).
type Config struct {
	Provider string        // EMBEDDINGS_PROVIDER: builtin (default when ""), openai or off
	URL      string        // EMBEDDINGS_URL, for openai
	Model    string        // EMBEDDINGS_MODEL, for openai
	APIKey   string        // LLM_API_KEY, for openai; "" sends no Authorization
	Timeout  time.Duration // per request, for openai; 0 means 30s
}

// New returns the configured embedder, or nil for "off".
func New(c Config) (contextd.Embedder, error) {
	switch c.Provider {
	case "", ProviderBuiltin:
		return NewBuiltin()
	case ProviderOpenAI:
		return NewOpenAI(OpenAIConfig{URL: c.URL, Model: c.Model, APIKey: c.APIKey, Timeout: c.Timeout})
	case ProviderOff:
		return nil, nil
	}
	return nil, contextd.Invalid("EMBEDDINGS_PROVIDER", "must be builtin, openai or off, not %q", c.Provider)
}
