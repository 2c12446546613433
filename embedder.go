package contextd

import "context"

// Embedder turns texts into vectors for semantic search. Vectors are
// L2-normalised, so a dot product is their cosine similarity.
type Embedder interface {
	// Embed returns one vector of Dimensions() floats per text, in order.
	// An unreachable or failing provider is EUNAVAILABLE.
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	// Dimensions is the length of every vector.
	Dimensions() int
	// Model names the model and its version; vectors of different models are
	// never compared, and a change of model calls for `contextd reindex`.
	Model() string
}
