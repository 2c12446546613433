package contextd_test

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/contextd/contextd"
)

func TestParseQuery(t *testing.T) {
	type term = contextd.Term
	w := func(s ...string) []string { return s }
	tests := []struct {
		in   string
		want []term
	}{
		{"", nil},
		{"   ", nil},
		{"Hello World", []term{{Words: w("hello")}, {Words: w("world")}}},
		{`"adoption agency" Caroline`, []term{{Words: w("adoption", "agency"), Phrase: true}, {Words: w("caroline")}}},
		{`-spam eggs`, []term{{Words: w("spam"), Exclude: true}, {Words: w("eggs")}}},
		{`-"bad phrase" good`, []term{{Words: w("bad", "phrase"), Phrase: true, Exclude: true}, {Words: w("good")}}},
		{`data*`, []term{{Words: w("data"), Prefix: true}}},
		{`a*`, []term{{Words: w("a")}}},
		{`"unbalanced quote`, []term{{Words: w("unbalanced", "quote"), Phrase: true}}},
		{`"single"`, []term{{Words: w("single")}}},
		{`AND OR NOT`, []term{{Words: w("and")}, {Words: w("or")}, {Words: w("not")}}},
		{`title:x NEAR(a b)`, []term{{Words: w("title")}, {Words: w("x")}, {Words: w("near")}, {Words: w("a")}, {Words: w("b")}}},
		{`- -- *** ((( ^`, nil},
		{`e-mail`, []term{{Words: w("e")}, {Words: w("mail")}}},
		{`Zoë Ünïcode`, []term{{Words: w("zoë")}, {Words: w("ünïcode")}}},
		{`""`, nil},
	}
	for _, tt := range tests {
		got := contextd.ParseQuery(tt.in).Terms
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseQuery(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestQueryPositiveDropsStopWords(t *testing.T) {
	q := contextd.ParseQuery("what did Caroline say about the adoption agency?")
	var got []string
	for _, t := range q.Positive() {
		got = append(got, t.Words[0])
	}
	want := []string{"caroline", "say", "adoption", "agency"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Positive() = %v, want %v", got, want)
	}
	// Only stop words: keep them rather than search for nothing.
	if n := len(contextd.ParseQuery("what is it").Positive()); n != 3 {
		t.Fatalf("stop-word-only query kept %d terms, want 3", n)
	}
	if !contextd.ParseQuery("-alone").Empty() {
		t.Fatal("an exclusion-only query should be empty")
	}
}

func TestParseQueryCapsTerms(t *testing.T) {
	q := contextd.ParseQuery(strings.Repeat("word ", 1000))
	if len(q.Terms) != contextd.MaxQueryTerms {
		t.Fatalf("got %d terms, want %d", len(q.Terms), contextd.MaxQueryTerms)
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "hello world", `"a phrase" -not`, `-"x y" z*`, `"`, `-`, `***`, "\xff\xfe", "NEAR(a b) AND c:d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := contextd.ParseQuery(s)
		if len(q.Terms) > contextd.MaxQueryTerms {
			t.Fatalf("%d terms", len(q.Terms))
		}
		for _, term := range q.Terms {
			if len(term.Words) == 0 {
				t.Fatalf("empty term in %q", s)
			}
			for _, w := range term.Words {
				if w == "" || strings.ContainsAny(w, "\"*-() :^") {
					t.Fatalf("word %q of %q holds query syntax", w, s)
				}
				if utf8.ValidString(s) && !utf8.ValidString(w) {
					t.Fatalf("invalid UTF-8 word %q", w)
				}
			}
		}
	})
}
