package bench

import "slices"

// Words returns the bench's vocabulary, most frequent first: the words a
// fill run writes, the same in every run. Other packages' tests use it (the
// top-k index's tokenizer is checked against FTS5 on every word).
func Words() []string {
	return slices.Clone(newVocabulary(vocabularySeed, vocabularySize).words)
}

// Corpus draws titles and contents as a fill run writes them, from its
// seed, for other packages' tests and benchmarks. It is not safe for
// concurrent use.
type Corpus struct{ g *textGen }

// NewCorpus returns a Corpus drawing from seed.
func NewCorpus(seed uint64) *Corpus {
	return &Corpus{g: newTextGen(newVocabulary(vocabularySeed, vocabularySize), seed)}
}

// Title returns a context's title (3..8 capitalised words).
func (c *Corpus) Title() string { return c.g.Title() }

// Content returns a context's content (0.6..1.4 KB of sentences).
func (c *Corpus) Content() string { return c.g.Content() }
