package sqlite

import (
	"strings"
	"unicode/utf8"

	"github.com/contextd/contextd"
)

// The fragments of a query with both words (stemmed index) and prefixes (raw
// index) come from two highlight() calls over the same text; they are merged
// here: the marked ranges of both are united and put back into the text, and
// the content is cut around its densest window of marks.

// span is a marked byte range of a text.
type span = contextd.Span

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
			spans = append(spans, span{Start: open, End: b.Len()})
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

// mergeHighlights merges two highlight() renderings of one text.
func mergeHighlights(a, b string) (string, []span) {
	ta, sa := markSpans(a)
	tb, sb := markSpans(b)
	if ta != tb || !utf8.ValidString(ta) { // not the same text: keep the first
		return ta, sa
	}
	return ta, contextd.MergeSpans(append(sa, sb...))
}

// snippetFrom cuts a fully highlighted text down to its best window.
func snippetFrom(marked string) string {
	t, spans := markSpans(marked)
	return contextd.Snippet(t, spans, contextd.SnippetWords)
}
