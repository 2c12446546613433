package neo4j

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/contextd/contextd"
)

// Highlights are marked here, in Go, from the query's positive terms: the
// text is split into words as the index split it (contextd.Words, folded),
// and the words a term matched are wrapped in contextd.HighlightStart/End —
// a phrase as one range. The title comes whole; the content is cut to the
// window of about contextd.SnippetWords words holding the most marks.

// span is a marked byte range of a text.
type span = contextd.Span

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
				spans = append(spans, span{Start: toks[i].start, End: toks[i+n-1].end})
			}
		}
	}
	return contextd.MergeSpans(spans)
}

// highlights returns the marked title and content fragments of c for the
// terms, keeping only the fields with a match.
func highlights(c *contextd.Context, terms []contextd.Term) map[string][]string {
	h := map[string][]string{}
	if sp := matchSpans(c.Title, terms); len(sp) > 0 && utf8.ValidString(c.Title) {
		h["title"] = []string{contextd.MarkSpans(c.Title, sp)}
	}
	if sp := matchSpans(c.Content, terms); len(sp) > 0 && utf8.ValidString(c.Content) {
		h["content"] = []string{contextd.Snippet(c.Content, sp, contextd.SnippetWords)}
	}
	if len(h) == 0 {
		return nil
	}
	return h
}
