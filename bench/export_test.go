package bench

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
