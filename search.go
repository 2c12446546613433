package contextd

import (
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Search modes.
const (
	ModeFulltext = "fulltext"
	ModeSemantic = "semantic"
	ModeHybrid   = "hybrid"
)

// Search limits.
const (
	MaxQueryBytes    = 4096
	MaxQueryTerms    = 32
	MaxSearchLimit   = 100
	MaxSearchOffset  = 10000
	MaxFacetValues   = 50 // values returned per facet, most frequent first
	MaxFacets        = 16
	MaxMetadataMatch = 16
)

// SearchFilters narrows a search. Slices match any of their values, except
// Tags, which must all be present.
type SearchFilters struct {
	Types         []string       `json:"type,omitempty"`
	Statuses      []string       `json:"status,omitempty"`
	Tags          []string       `json:"tags,omitempty"`
	SessionID     string         `json:"sessionId,omitempty"`
	UserID        string         `json:"userId,omitempty"`
	CreatedAfter  time.Time      `json:"createdAfter,omitzero"`
	CreatedBefore time.Time      `json:"createdBefore,omitzero"`
	Metadata      map[string]any `json:"metadata,omitempty"` // top-level key = scalar value
}

// SearchQuery is a search over a tenant's contexts.
type SearchQuery struct {
	Query     string
	Mode      string // fulltext (default), semantic, hybrid
	Filters   SearchFilters
	Facets    []string // "type", "status", "tags", "metadata.<key>"
	Limit     int      // 1..100, default 20
	Offset    int      // 0..10000
	Highlight bool
	Explain   bool // add each hit's component scores (bm25, vector, fused)
}

// SearchHit is one ranked result. Highlights hold fragments of title and
// content with matches wrapped in HighlightStart/HighlightEnd.
type SearchHit struct {
	Context    *Context            `json:"context"`
	Score      float64             `json:"score"`
	Highlights map[string][]string `json:"highlights,omitempty"`
	Explain    *HitExplain         `json:"explain,omitempty"`
}

// Highlight markers.
const (
	HighlightStart = "<mark>"
	HighlightEnd   = "</mark>"
)

// FacetCount is how many matches carry one value of a facet.
type FacetCount struct {
	Value any `json:"value"`
	Count int `json:"count"`
}

// SearchResult answers a SearchQuery. Total and Facets count every match, not
// just the returned page.
type SearchResult struct {
	Results []*SearchHit            `json:"results"`
	Total   int                     `json:"total"`
	Facets  map[string][]FacetCount `json:"facets"`
	TookMs  float64                 `json:"tookMs"`
}

// IndexStats describes a tenant's search index, as a store reports it.
type IndexStats struct {
	Documents      int   `json:"documents"`      // the tenant's contexts
	Memories       int   `json:"memories"`       // the tenant's live memories
	IndexSizeBytes int64 `json:"indexSizeBytes"` // the whole store's full-text index on disk
}

var metaKeyRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$`)

// ValidMetadataKey reports whether k can be used in a metadata filter or facet.
func ValidMetadataKey(k string) bool { return metaKeyRe.MatchString(k) }

// Validate applies defaults and checks the query.
func (q *SearchQuery) Validate() error {
	var v validation
	if len(q.Query) > MaxQueryBytes {
		v.add("body.query", "must be at most %d bytes", MaxQueryBytes)
	} else if !utf8.ValidString(q.Query) {
		v.add("body.query", "must be valid UTF-8")
	}
	switch q.Mode {
	case "":
		q.Mode = ModeFulltext
	case ModeFulltext, ModeSemantic, ModeHybrid:
	default:
		v.add("body.mode", "must be fulltext, semantic or hybrid")
	}
	if q.Limit == 0 {
		q.Limit = DefaultListLimit
	}
	if q.Limit < 1 || q.Limit > MaxSearchLimit {
		v.add("body.limit", "must be 1..%d", MaxSearchLimit)
	}
	if q.Offset < 0 || q.Offset > MaxSearchOffset {
		v.add("body.offset", "must be 0..%d", MaxSearchOffset)
	}
	for i, t := range q.Filters.Types {
		checkType(&v, "body.filters.type["+itoa(i)+"]", t)
	}
	for i, s := range q.Filters.Statuses {
		checkStatus(&v, "body.filters.status["+itoa(i)+"]", s)
	}
	q.Filters.CreatedAfter, q.Filters.CreatedBefore = clampTime(q.Filters.CreatedAfter), clampTime(q.Filters.CreatedBefore)
	if len(q.Filters.Tags) > MaxTags {
		v.add("body.filters.tags", "at most %d tags", MaxTags)
	}
	if len(q.Filters.Metadata) > MaxMetadataMatch {
		v.add("body.filters.metadata", "at most %d keys", MaxMetadataMatch)
	}
	for k, val := range q.Filters.Metadata {
		if !ValidMetadataKey(k) {
			v.add("body.filters.metadata."+k, "a metadata key must match [A-Za-z0-9_][A-Za-z0-9_-]{0,63}")
		}
		switch val.(type) {
		case string, float64, bool, nil, int, int64:
		default:
			v.add("body.filters.metadata."+k, "must be a string, number, boolean or null")
		}
	}
	if len(q.Facets) > MaxFacets {
		v.add("body.facets", "at most %d facets", MaxFacets)
	}
	for i, f := range q.Facets {
		switch {
		case f == "type", f == "status", f == "tags":
		case strings.HasPrefix(f, "metadata.") && ValidMetadataKey(f[len("metadata."):]):
		default:
			v.add("body.facets["+itoa(i)+"]", "must be type, status, tags or metadata.<key>")
		}
	}
	return v.err()
}

// Query is a parsed full-text query. Words are lower-cased; stop words are
// kept here and dropped by Positive when other words remain.
type Query struct {
	Terms []Term
}

// Term is one word, prefix or phrase of a query.
type Term struct {
	Words   []string // one word, or the words of a phrase
	Phrase  bool     // written in double quotes
	Prefix  bool     // written with a trailing '*': matches words starting with it
	Exclude bool     // written with a leading '-': matching documents are left out
}

// ParseQuery reads the contract's query language: words match any of them
// (OR), "a quoted phrase" matches as a phrase, -word and -"a phrase" exclude,
// word* matches a prefix. Anything else is treated as plain words: it never
// fails. Punctuation separates words, as in the index.
func ParseQuery(s string) Query {
	var q Query
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsSpace(r):
			i += n
			continue
		}
		exclude := false
		if r == '-' && i+1 < len(s) {
			next, _ := utf8.DecodeRuneInString(s[i+1:])
			if next == '"' || isWordRune(next) {
				exclude = true
				i++
				r, n = next, utf8.RuneLen(next)
			}
		}
		if r == '"' {
			end := strings.IndexByte(s[i+1:], '"')
			var body string
			if end < 0 {
				body, i = s[i+1:], len(s)
			} else {
				body, i = s[i+1:i+1+end], i+1+end+1
			}
			if words := Words(body); len(words) > 0 {
				q.Terms = append(q.Terms, Term{Words: words, Phrase: len(words) > 1, Exclude: exclude})
			}
			continue
		}
		// A bare token runs to the next space or quote.
		j := i
		for j < len(s) {
			r2, n2 := utf8.DecodeRuneInString(s[j:])
			if unicode.IsSpace(r2) || r2 == '"' {
				break
			}
			j += n2
		}
		tok := s[i:j]
		i = j
		prefix := strings.HasSuffix(tok, "*")
		words := Words(tok)
		for k, w := range words {
			t := Term{Words: []string{w}, Exclude: exclude}
			if prefix && k == len(words)-1 && utf8.RuneCountInString(w) >= 2 {
				t.Prefix = true
			}
			q.Terms = append(q.Terms, t)
		}
	}
	if len(q.Terms) > MaxQueryTerms {
		q.Terms = q.Terms[:MaxQueryTerms]
	}
	return q
}

// Positive returns the terms to look for: the non-excluded ones, without stop
// words unless nothing else would remain.
func (q Query) Positive() []Term {
	var all, content []Term
	for _, t := range q.Terms {
		if t.Exclude {
			continue
		}
		all = append(all, t)
		if t.Phrase || t.Prefix || !stopWords[t.Words[0]] {
			content = append(content, t)
		}
	}
	if len(content) > 0 {
		return content
	}
	return all
}

// Negative returns the excluded terms.
func (q Query) Negative() []Term {
	var out []Term
	for _, t := range q.Terms {
		if t.Exclude {
			out = append(out, t)
		}
	}
	return out
}

// Empty reports whether the query looks for nothing (it may still exclude).
func (q Query) Empty() bool { return len(q.Positive()) == 0 }

// Words splits s into lower-case words the way the full-text index does:
// runs of letters, digits and combining marks.
func Words(s string) []string {
	var out []string
	start := -1
	for i, r := range s {
		if isWordRune(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			out = append(out, strings.ToLower(s[start:i]))
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, strings.ToLower(s[start:]))
	}
	return out
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.IsNumber(r)
}

// stopWords are English words too common to rank by, dropped from OR queries
// that have other words.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an and are as at be but by did do does for from had has have he her his
		how i if in into is it its me my of on or our she so than that the their them then there these they
		this to was we were what when where which who whom why will with would you your been being can could
		about after all also any because before between both each few more most other some such up down out
		over under again further once here very s t just don should now am no nor not only own same too`) {
		m[w] = true
	}
	return m
}()

// IsStopWord reports whether w (lower case) is a stop word.
func IsStopWord(w string) bool { return stopWords[w] }
