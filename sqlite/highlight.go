package sqlite

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/contextd/contextd"
)

// The fragments of a query with both words (stemmed index) and prefixes (raw
// index) come from two highlight() calls over the same text; they are merged
// here: the marked ranges of both are united and put back into the text, and
// the content is cut around its densest window of marks.

// span is a marked byte range of a text.
type span struct{ start, end int }

// markSpans strips the highlight markers from s and returns the plain text and
// its marked ranges.
func markSpans(s string) (string, []span) {
	var (
		b     strings.Builder
		spans []span
		open  = -1
	)
	for len(s) > 0 {
		switch {
		case strings.HasPrefix(s, contextd.HighlightStart):
			open = b.Len()
			s = s[len(contextd.HighlightStart):]
		case strings.HasPrefix(s, contextd.HighlightEnd) && open >= 0:
			spans = append(spans, span{open, b.Len()})
			open = -1
			s = s[len(contextd.HighlightEnd):]
		default:
			i := strings.IndexByte(s[1:], '<')
			if i < 0 {
				b.WriteString(s)
				s = ""
			} else {
				b.WriteString(s[:i+1])
				s = s[i+1:]
			}
		}
	}
	return b.String(), spans
}

// mergeSpans unites two sets of ranges into sorted, disjoint ranges.
func mergeSpans(a, b []span) []span {
	all := append(append([]span{}, a...), b...)
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

// mergeHighlights merges two highlight() renderings of one text.
func mergeHighlights(a, b string) (string, []span) {
	ta, sa := markSpans(a)
	tb, sb := markSpans(b)
	if ta != tb || !utf8.ValidString(ta) { // not the same text: keep the first
		return ta, sa
	}
	return ta, mergeSpans(sa, sb)
}

// snippetFrom cuts a fully highlighted text down to its best window.
func snippetFrom(marked string) string {
	t, spans := markSpans(marked)
	return snippetOf(t, spans, snippetWords)
}
