package bench

import (
	"math/rand/v2"
	"strings"
)

// The vocabulary is the same in every run, whatever --seed says, so that a
// search run finds the words a fill run wrote days before.
const (
	vocabularySeed = 0x636f6e7465787464 // "contextd"
	vocabularySize = 30000
	// zipfS and zipfV shape word frequencies like English: the most frequent
	// word is about 7% of the words, the 1,000th about 0.01%.
	zipfS = 1.07
	zipfV = 2
	// Query words are drawn from these ranks: frequent enough to match a few
	// percent of the contexts, rare enough not to match them all.
	queryRankLow, queryRankHigh = 200, 4000
)

// commonWords are the most frequent English words, the head of the
// vocabulary, in order.
var commonWords = strings.Fields(`the of and to a in is that for it as was with be by on not he
	this are or his from at which but have an they you were her she there been one all we their
	has would when if so no will more can about other into its some could them only than then
	time new first also what these two may over after any like our most where work used should
	make between system data user each such how because through same while well very both under
	project team code change server query service model value state memory context session`)

var (
	onsets = strings.Fields(`b c d f g h j k l m n p r s t v w z br cr dr fr gr pr tr st sl sp ch sh th
		pl cl bl fl gl sc sk sm sn sw tw wh qu`)
	nuclei = strings.Fields(`a e i o u a e i o u ai ea ee io ou oa ie`)
	codas  = []string{"", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ng", "rt", "ck", "x",
		"th", "sh", "ll", "ss", "ct", "mp", "nt"}
	suffixes = []string{"", "", "", "", "", "ing", "ion", "ly", "ed", "er", "al", "ment", "ity", "ness"}

	tagWords = strings.Fields(`backend frontend api database design meeting bug feature research ops
		security docs planning customer infra ml search performance release review testing mobile
		billing onboarding analytics migration incident roadmap hiring legal support pricing
		architecture refactor deploy monitoring privacy accessibility localization experiment`)
	contextTypes = []string{"note", "note", "note", "decision", "code", "conversation", "task",
		"reference", "summary"}
	projects = strings.Fields(`apollo borealis cascade delta ember falcon glacier harbor ion juniper
		kestrel lumen meridian nimbus orchid polaris quasar redwood sierra tundra`)
	sources       = []string{"chat", "doc", "email", "code", "web", "meeting"}
	memoryTypes   = []string{"fact", "fact", "preference", "context", "instruction", "example"}
	importances   = []string{"low", "medium", "medium", "medium", "high", "critical"}
	memorySources = []string{"user", "user", "llm", "system"}
)

// vocabulary is an ordered list of distinct lower-case words: index 0 is the
// most frequent. It is read-only once made.
type vocabulary struct {
	words []string
}

// newVocabulary makes size distinct words: the common English words, then
// pronounceable made-up words, shorter ones first as in a real language.
func newVocabulary(seed uint64, size int) *vocabulary {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	seen := make(map[string]bool, size)
	words := make([]string, 0, size)
	for _, w := range commonWords {
		if len(words) < size && !seen[w] {
			seen[w] = true
			words = append(words, w)
		}
	}
	var b strings.Builder
	for len(words) < size {
		b.Reset()
		// 1 syllable for the head of the list, up to 4 in the tail.
		syllables := 1 + r.IntN(1+4*len(words)/size)
		for range syllables {
			b.WriteString(onsets[r.IntN(len(onsets))])
			b.WriteString(nuclei[r.IntN(len(nuclei))])
			b.WriteString(codas[r.IntN(len(codas))])
		}
		b.WriteString(suffixes[r.IntN(len(suffixes))])
		w := b.String()
		if len(w) < 2 || seen[w] {
			continue
		}
		seen[w] = true
		words = append(words, w)
	}
	return &vocabulary{words: words}
}

// textGen draws realistic text, titles, tags and metadata from a
// vocabulary. It is not safe for concurrent use: one per worker.
type textGen struct {
	v    *vocabulary
	r    *rand.Rand
	zipf *rand.Zipf
	tagZ *rand.Zipf
	b    strings.Builder
}

func newTextGen(v *vocabulary, seed uint64) *textGen {
	r := rand.New(rand.NewPCG(seed, seed+0x5851f42d4c957f2d))
	return &textGen{
		v:    v,
		r:    r,
		zipf: rand.NewZipf(r, zipfS, zipfV, uint64(len(v.words)-1)),
		tagZ: rand.NewZipf(r, 1.2, 1, uint64(len(tagWords)-1)),
	}
}

// word returns a word drawn with the Zipf distribution.
func (g *textGen) word() string { return g.v.words[g.zipf.Uint64()] }

// sentence appends a sentence of 5..20 words, capitalised, with an
// occasional comma, and a full stop.
func (g *textGen) sentence() {
	n := 5 + g.r.IntN(16)
	for i := range n {
		w := g.word()
		if i == 0 {
			g.b.WriteString(strings.ToUpper(w[:1]))
			g.b.WriteString(w[1:])
		} else {
			g.b.WriteByte(' ')
			g.b.WriteString(w)
		}
		if i > 2 && i < n-2 && g.r.IntN(12) == 0 {
			g.b.WriteByte(',')
		}
	}
	g.b.WriteByte('.')
}

// Text returns whole sentences of about size bytes (never much less; at
// most one sentence more).
func (g *textGen) Text(size int) string {
	g.b.Reset()
	for g.b.Len() < size {
		if g.b.Len() > 0 {
			if g.r.IntN(6) == 0 {
				g.b.WriteString("\n\n")
			} else {
				g.b.WriteByte(' ')
			}
		}
		g.sentence()
	}
	return g.b.String()
}

// Content returns a context body of 0.6..1.4 KB.
func (g *textGen) Content() string { return g.Text(600 + g.r.IntN(800)) }

// Title returns 3..8 words, capitalised.
func (g *textGen) Title() string {
	n := 3 + g.r.IntN(6)
	g.b.Reset()
	for i := range n {
		if i > 0 {
			g.b.WriteByte(' ')
		}
		w := g.word()
		g.b.WriteString(strings.ToUpper(w[:1]))
		g.b.WriteString(w[1:])
	}
	return g.b.String()
}

// Tag returns one tag from the small tag vocabulary, popular ones more often.
func (g *textGen) Tag() string { return tagWords[g.tagZ.Uint64()] }

// Tags returns 0..4 distinct tags.
func (g *textGen) Tags() []string {
	n := g.r.IntN(5)
	tags := make([]string, 0, n)
next:
	for range n {
		t := g.Tag()
		for _, have := range tags {
			if have == t {
				continue next
			}
		}
		tags = append(tags, t)
	}
	return tags
}

// Type returns a context type, mostly "note".
func (g *textGen) Type() string { return contextTypes[g.r.IntN(len(contextTypes))] }

// Status returns active 85% of the time, else archived or draft.
func (g *textGen) Status() string {
	switch n := g.r.IntN(100); {
	case n < 85:
		return "active"
	case n < 95:
		return "archived"
	}
	return "draft"
}

// Metadata returns a small object drawn from small vocabularies.
func (g *textGen) Metadata() map[string]any {
	return map[string]any{
		"project":  projects[g.r.IntN(len(projects))],
		"priority": 1 + g.r.IntN(5),
		"source":   sources[g.r.IntN(len(sources))],
		"reviewed": g.r.IntN(3) == 0,
	}
}

// Query returns 2..4 distinct mid-frequency words separated by spaces.
func (g *textGen) Query() string {
	n := 2 + g.r.IntN(3)
	words := make([]string, 0, n)
next:
	for len(words) < n {
		lo, hi := min(queryRankLow, len(g.v.words)/2), min(queryRankHigh, len(g.v.words))
		w := g.v.words[lo+g.r.IntN(hi-lo)]
		for _, have := range words {
			if have == w {
				continue next
			}
		}
		words = append(words, w)
	}
	return strings.Join(words, " ")
}
