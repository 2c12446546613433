package contextd

import (
	"sort"
	"strings"
	"unicode"
)

// SnippetWords is about how many words a content highlight fragment holds.
const SnippetWords = 24

// Span is a marked byte range [Start, End) of a text, as stores compute
// them for highlights.
type Span struct{ Start, End int }

// MergeSpans sorts ranges and unites the overlapping ones.
func MergeSpans(all []Span) []Span {
	all = append([]Span(nil), all...)
	sort.Slice(all, func(i, j int) bool { return all[i].Start < all[j].Start })
	var out []Span
	for _, s := range all {
		if n := len(out); n > 0 && s.Start <= out[n-1].End {
			out[n-1].End = max(out[n-1].End, s.End)
			continue
		}
		out = append(out, s)
	}
	return out
}

// MarkSpans wraps the ranges of text (sorted, disjoint) in HighlightStart and
// HighlightEnd.
func MarkSpans(text string, spans []Span) string {
	var b strings.Builder
	at := 0
	for _, s := range spans {
		b.WriteString(text[at:s.Start])
		b.WriteString(HighlightStart)
		b.WriteString(text[s.Start:s.End])
		b.WriteString(HighlightEnd)
		at = s.End
	}
	b.WriteString(text[at:])
	return b.String()
}

// Snippet cuts text to the window of about n words holding the most marked
// ranges, marks them, and puts "…" where the text was cut.
func Snippet(text string, spans []Span, n int) string {
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
		return MarkSpans(text, spans)
	}
	best, bestCount := 0, -1
	for i := 0; i+n <= len(words); i++ {
		lo, hi := words[i].start, words[i+n-1].end
		count := 0
		for _, s := range spans {
			if s.Start >= lo && s.Start < hi {
				count++
			}
		}
		if count > bestCount {
			best, bestCount = i, count
		}
	}
	lo, hi := words[best].start, words[best+n-1].end
	var in []Span
	for _, s := range spans {
		if s.End <= lo || s.Start >= hi {
			continue
		}
		in = append(in, Span{max(s.Start, lo) - lo, min(s.End, hi) - lo})
	}
	out := MarkSpans(text[lo:hi], in)
	if best > 0 {
		out = "…" + out
	}
	if best+n < len(words) {
		out += "…"
	}
	return out
}
