package neo4j

import (
	"strings"
	"testing"

	"github.com/contextd/contextd"
)

// The Lucene query a user's text becomes: every word quoted or escaped, so
// no input is read as Lucene syntax. These need no server.
func TestLuceneQuery(t *testing.T) {
	cases := []struct {
		in, want string
		ranked   bool
	}{
		{"Kubernetes", `+ftk:"T"^0 +(ftTitle:("kubernetes")^4 ftContent:("kubernetes"))`, true},
		{`"Quick Brown" fox* -cherry`, `+ftk:"T"^0 +(ftTitle:("quick brown" fox*)^4 ftContent:("quick brown" fox*)) -ftTitle:("cherry") -ftContent:("cherry")`, true},
		{"-cherry", `+ftk:"T"^0 -ftTitle:("cherry") -ftContent:("cherry")`, false},
		{"", "", false},
		{"   ", "", false},
		{"Zürich", `+ftk:"T"^0 +(ftTitle:("zurich")^4 ftContent:("zurich"))`, true},
		{`title:x AND NOT (a OR b)~2 ^3 [x TO y] /re/ \`, `+ftk:"T"^0 +(ftTitle:("title" "x" "b" "2" "3" "x" "y" "re")^4 ftContent:("title" "x" "b" "2" "3" "x" "y" "re"))`, true},
	}
	for _, tc := range cases {
		lq := newLuceneQuery(contextd.ParseQuery(tc.in), "T", contextFields)
		if lq.text != tc.want || lq.ranked != tc.ranked {
			t.Errorf("%q:\n got  %s (ranked %v)\n want %s (ranked %v)", tc.in, lq.text, lq.ranked, tc.want, tc.ranked)
		}
	}
}

func FuzzLuceneQuery(f *testing.F) {
	for _, s := range []string{`"a b" c* -d`, `((("`, `\"`, "日本語 テキスト", `a:b^2~`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lq := newLuceneQuery(contextd.ParseQuery(s), "T", contextFields)
		// Outside the quotes, only our own syntax: fields, parentheses, +, -, ^, and escaped prefixes.
		inQuote := false
		for i := 0; i < len(lq.text); i++ {
			c := lq.text[i]
			switch {
			case c == '\\':
				i++
			case c == '"':
				inQuote = !inQuote
			case !inQuote && strings.IndexByte("~[]{}!&|?/", c) >= 0:
				t.Fatalf("%q became %q: unescaped %q", s, lq.text, c)
			}
		}
		if inQuote {
			t.Fatalf("%q became %q: unbalanced quotes", s, lq.text)
		}
	})
}

func TestNormTextAndPatterns(t *testing.T) {
	text, n := normText("The cluster, cluster — Zürich's replicas!")
	if text != " the  cluster  cluster  zurich  s  replicas " || n != 6 {
		t.Errorf("normText: %q %d", text, n)
	}
	count := func(p string) int { return strings.Count(text, p) }
	if got := count(pattern(contextd.Term{Words: []string{"cluster"}})); got != 2 {
		t.Errorf("word occurrences %d, want 2", got)
	}
	if got := count(pattern(contextd.Term{Words: []string{"cluster", "zurich"}, Phrase: true})); got != 1 {
		t.Errorf("phrase occurrences %d, want 1", got)
	}
	if got := count(pattern(contextd.Term{Words: []string{"repl"}, Prefix: true})); got != 1 {
		t.Errorf("prefix occurrences %d, want 1", got)
	}
	if got := count(pattern(contextd.Term{Words: []string{"luster"}, Prefix: true})); got != 0 {
		t.Errorf("a prefix matched inside a word: %d", got)
	}
}

func TestHighlights(t *testing.T) {
	c := &contextd.Context{Title: "Deploy notes for Kubernetes", Content: "We moved the billing cluster to Kübernetes last week."}
	terms := foldTerms(contextd.ParseQuery(`"billing cluster" kube*`).Positive())
	h := highlights(c, terms)
	if got := h["content"][0]; got != "We moved the <mark>billing cluster</mark> to <mark>Kübernetes</mark> last week." {
		t.Errorf("content: %q", got)
	}
	if got := h["title"][0]; got != "Deploy notes for <mark>Kubernetes</mark>" {
		t.Errorf("title: %q", got)
	}
}

func TestMetaPairs(t *testing.T) {
	got := metaPairs(map[string]any{"team": "core", "n": 2, "f": 2.0, "ok": true, "none": nil, "nested": map[string]any{"x": 1}, "bad key!": 1})
	want := []string{"f=n:2", "n=n:2", "none=z:", "ok=b:true", "team=s:core"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("metaPairs: %v, want %v", got, want)
	}
	if metaValue("n:2.5") != 2.5 || metaValue("s:a:b") != "a:b" || metaValue("b:false") != false || metaValue("z:") != nil {
		t.Errorf("metaValue")
	}
}
