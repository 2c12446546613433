package neo4j

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/contextd/contextd"
)

// Highlights are marked here, in Go, from the query's positive terms: the
// text is split into words as the index split it (contextd.Words, folded),
// and the words a term matched are wrapped in contextd.HighlightStart/End —
// a phrase as one range. The title comes whole; the content is cut to the
// window of about snippetWords words holding the most marks.

// snippetWords is about how many words a content fragment holds.
const snippetWords = 24

// span is a marked byte range of a text.
type span struct{ start, end int }

// token is a word of a text: its byte range and folded form.
type token struct {
	start, end int
	norm       string
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.IsNumber(r)
}

// tokens splits text like contextd.Words, keeping where each word is.
func tokens(text string) []token {
	var out []token
	start := -1
	for i, r := range text {
		if isWordRune(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			out = append(out, token{start, i, fold(text[start:i])})
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, token{start, len(text), fold(text[start:])})
	}
	return out
}

// matchSpans returns the ranges of text that the (folded) terms match,
// sorted and disjoint.
func matchSpans(text string, terms []contextd.Term) []span {
	if len(terms) == 0 {
		return nil
	}
	toks := tokens(text)
	at := map[string][]int{} // where each word starts a token
	for i, t := range toks {
		at[t.norm] = append(at[t.norm], i)
	}
	var spans []span
	for _, t := range terms {
		n := len(t.Words)
		if n == 0 {
			continue
		}
		var starts []int
		if n == 1 && t.Prefix {
			for i, tok := range toks {
				if strings.HasPrefix(tok.norm, t.Words[0]) {
					starts = append(starts, i)
				}
			}
		} else {
			starts = at[t.Words[0]]
		}
		for _, i := range starts {
			if i+n > len(toks) {
				continue
			}
			ok := true
			for k := 1; k < n && ok; k++ {
				ok = toks[i+k].norm == t.Words[k]
			}
			if ok {
				spans = append(spans, span{toks[i].start, toks[i+n-1].end})
			}
		}
	}
	return mergeSpans(spans)
}

// mergeSpans sorts ranges and unites the overlapping ones.
func mergeSpans(all []span) []span {
	sort.Slice(all, func(i, j int) bool { return all[i].start < all[j].start })
	var out []span
	for _, s := range all {
		if n := len(out); n > 0 && s.start <= out[n-1].end {
			out[n-1].end = max(out[n-1].end, s.end)
			continue
		}
		out = append(out, s)
	}
	return out
}

// applySpans wraps the ranges of text (sorted, disjoint) in the markers.
func applySpans(text string, spans []span) string {
	var b strings.Builder
	at := 0
	for _, s := range spans {
		b.WriteString(text[at:s.start])
		b.WriteString(contextd.HighlightStart)
		b.WriteString(text[s.start:s.end])
		b.WriteString(contextd.HighlightEnd)
		at = s.end
	}
	b.WriteString(text[at:])
	return b.String()
}

// snippetOf cuts text to the window of about n words holding the most marked
// ranges, marks them, and puts "…" where the text was cut.
func snippetOf(text string, spans []span, n int) string {
	type word struct{ start, end int }
	var words []word
	start := -1
	for i, r := range text {
		if unicode.IsSpace(r) {
			if start >= 0 {
				words = append(words, word{start, i})
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		words = append(words, word{start, len(text)})
	}
	if len(words) <= n {
		return applySpans(text, spans)
	}
	best, bestCount := 0, -1
	for i := 0; i+n <= len(words); i++ {
		lo, hi := words[i].start, words[i+n-1].end
		count := 0
		for _, s := range spans {
			if s.start >= lo && s.start < hi {
				count++
			}
		}
		if count > bestCount {
			best, bestCount = i, count
		}
	}
	lo, hi := words[best].start, words[best+n-1].end
	var in []span
	for _, s := range spans {
		if s.end <= lo || s.start >= hi {
			continue
		}
		in = append(in, span{max(s.start, lo) - lo, min(s.end, hi) - lo})
	}
	out := applySpans(text[lo:hi], in)
	if best > 0 {
		out = "…" + out
	}
	if best+n < len(words) {
		out += "…"
	}
	return out
}

// highlights returns the marked title and content fragments of c for the
// terms, keeping only the fields with a match.
func highlights(c *contextd.Context, terms []contextd.Term) map[string][]string {
	h := map[string][]string{}
	if sp := matchSpans(c.Title, terms); len(sp) > 0 && utf8.ValidString(c.Title) {
		h["title"] = []string{applySpans(c.Title, sp)}
	}
	if sp := matchSpans(c.Content, terms); len(sp) > 0 && utf8.ValidString(c.Content) {
		h["content"] = []string{snippetOf(c.Content, sp, snippetWords)}
	}
	if len(h) == 0 {
		return nil
	}
	return h
}
