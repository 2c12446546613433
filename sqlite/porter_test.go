package sqlite

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/contextd/contextd/bench"
)

// goTerms returns the terms the Go tokenizer gives for ASCII text.
func goTerms(st *asciiStemmer, text string) []string {
	out := []string{}
	st.terms([]byte(text), func(term []byte) { out = append(out, string(term)) })
	return out
}

// fts5Terms returns the terms FTS5 indexes for each of texts with
// stemTokenizer, in order, and checks that each row's length in _docsize
// is their number: one table of one row per text, read through fts5vocab.
func fts5Terms(t testing.TB, texts []string) [][]string {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file::memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`CREATE VIRTUAL TABLE t USING fts5 (x, tokenize = '` + stemTokenizer + `')`)
	exec(`CREATE VIRTUAL TABLE v USING fts5vocab (t, 'instance')`)
	exec(`BEGIN`)
	for i, text := range texts {
		exec(`INSERT INTO t (rowid, x) VALUES (?, ?)`, i+1, text)
	}
	exec(`COMMIT`)
	out := make([][]string, len(texts))
	for i := range out {
		out[i] = []string{}
	}
	rows, err := db.QueryContext(ctx, `SELECT doc, term FROM v ORDER BY doc, offset`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			doc  int
			term string
		)
		if err := rows.Scan(&doc, &term); err != nil {
			t.Fatal(err)
		}
		out[doc-1] = append(out[doc-1], term)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sizes, err := db.QueryContext(ctx, `SELECT id, sz FROM t_docsize`)
	if err != nil {
		t.Fatal(err)
	}
	defer sizes.Close()
	for sizes.Next() {
		var (
			doc int
			sz  []byte
		)
		if err := sizes.Scan(&doc, &sz); err != nil {
			t.Fatal(err)
		}
		if n, err := docSize(sz); err != nil || n != int64(len(out[doc-1])) {
			t.Fatalf("text %q: _docsize %d (%v), %d terms", texts[doc-1], n, err, len(out[doc-1]))
		}
	}
	return out
}

// sameTerms checks the Go tokenizer against FTS5 on texts.
func sameTerms(t *testing.T, what string, texts []string) {
	t.Helper()
	want := fts5Terms(t, texts)
	var st asciiStemmer
	bad := 0
	for i, text := range texts {
		if !isASCII([]byte(text)) {
			t.Fatalf("%s: %q is not ASCII", what, text)
		}
		if got := goTerms(&st, text); !slices.Equal(got, want[i]) {
			t.Errorf("%s: %.200q: Go %.200q, FTS5 %.200q", what, text, got, want[i])
			if bad++; bad == 10 {
				t.FailNow()
			}
		}
	}
}

// porterWords are words that reach each rule of FTS5's porter stemmer (the
// examples of Porter's paper, and their neighbours), around its length
// limits.
var porterWords = strings.Fields(`caresses ponies ties caress cats feed agreed plastered bled motoring
	sing conflated troubled sized hopping tanned falling hissing fizzed failing filing happy sky
	relational conditional rational valenci hesitanci digitizer conformabli radicalli differentli
	vileli analogousli vietnamization predication operator feudalism decisiveness hopefulness
	callousness formaliti sensitiviti sensibiliti triplicate formative formalize electriciti
	electrical hopeful goodness revival allowance inference airliner gyroscopic adjustable
	defensible irritant replacement adjustment dependent adoption homologou communism activate
	angulariti homologous effective bowdlerize probate rate cease controll roll eed ied ies sses
	ss s is us yes eyes sky skies ying dying lying tying spying eying yelled oed aed ued ing ed
	logi analogi archaeologi bli abli entli eli ousli alism iveness fulness ousness aliti iviti
	biliti ical ness icate iciti ful ative alize ement ment ent ion sion tion ou ism ate iti ous ive
	ize er ic able ible ant al ance ence y ay ey oy uy by cy yy yyy syzygy rhythm crwth why toy`)

// TestPorterMatchesFTS5: the Go tokenizer gives FTS5's terms for ASCII
// text: every word of the bench's vocabulary in each case, the porter
// rules' words, every ASCII byte and pair of bytes as separators, numbers,
// tokens around the porter's and FTS5's length limits, and random text.
func TestPorterMatchesFTS5(t *testing.T) {
	words := append(bench.Words(), porterWords...)
	var texts []string
	for i := 0; i < len(words); i += 50 {
		chunk := words[i:min(i+50, len(words))]
		up := make([]string, len(chunk))
		capital := make([]string, len(chunk))
		for j, w := range chunk {
			up[j] = strings.ToUpper(w)
			capital[j] = strings.ToUpper(w[:1]) + w[1:]
		}
		texts = append(texts, strings.Join(chunk, " "), strings.Join(up, ", "), strings.Join(capital, ". "))
	}
	sameTerms(t, "vocabulary", texts)

	// Separators: each byte between words, alone and doubled, and each
	// pair of bytes inside a word.
	texts = texts[:0]
	for b := range 128 {
		c := string(rune(b))
		texts = append(texts, "Running"+c+"jumps"+c+c+"x"+c+"9z"+c, c+"caresses"+c+"A1b2"+c)
		for b2 := range 128 {
			texts = append(texts, "ab"+c+string(rune(b2))+"cd")
		}
	}
	sameTerms(t, "separators", texts)

	sameTerms(t, "numbers", []string{
		"0 1 12 123 1234 12345 007 3.14 1e10 0x1F 2024-01-01T10:00:00Z v1.2.3 abc123 123abc 1st 2nd 3rd 4th 10ies 99ed 00ing",
		"ipv4 127.0.0.1 port 8080, ids 550e8400-e29b-41d4-a716-446655440000 and sha 9f86d081884c7d659a2feaa0c55ad015",
		"MIXED CaSe WoRdS: ReLaTiOnAl CONDITIONAL hOpPiNg TrOuBlEd iPhone McDonald's O'Reilly snake_case kebab-case camelCase",
	})

	// Lengths: the porter stems tokens of 3 to 64 bytes; FTS5 keeps 32,768
	// bytes of a token.
	texts = texts[:0]
	for _, suffix := range []string{"ational", "ing", "ies", "s", "ed", "ement", "y", "e", "ll"} {
		for n := 1; n <= 70; n++ {
			stem := strings.Repeat("ba", n)[:max(n-len(suffix), 1)]
			texts = append(texts, stem+suffix, strings.ToUpper(stem+suffix))
		}
	}
	for _, n := range []int{32767, 32768, 32769, 40000} {
		texts = append(texts, strings.Repeat("a", n), "x "+strings.Repeat("Ab", n/2)+"ing y", strings.Repeat("z", n)+" "+strings.Repeat("9", n+1))
	}
	sameTerms(t, "lengths", texts)

	// Random ASCII: letters mostly (so that words form), any byte below
	// 0x80 sometimes.
	r := rand.New(rand.NewPCG(1, 2))
	texts = texts[:0]
	for range 3000 {
		texts = append(texts, randomASCII(r, 1+r.IntN(200)))
	}
	sameTerms(t, "random", texts)
}

// randomASCII returns n bytes below 0x80: mostly letters of a small
// alphabet rich in the porter's suffixes, some spaces, any byte at times.
func randomASCII(r *rand.Rand, n int) string {
	const letters = "aeiouyAEIOUYbcdglmnrstvzBLNST"
	b := make([]byte, n)
	for i := range b {
		switch k := r.IntN(20); {
		case k < 15:
			b[i] = letters[r.IntN(len(letters))]
		case k < 18:
			b[i] = ' '
		default:
			b[i] = byte(r.IntN(128))
		}
	}
	return string(b)
}

// FuzzPorterMatchesFTS5: for any ASCII text, the Go tokenizer gives FTS5's
// terms.
func FuzzPorterMatchesFTS5(f *testing.F) {
	for _, w := range porterWords {
		f.Add(w)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		f.Add(randomASCII(r, 1+r.IntN(100)))
	}
	c := bench.NewCorpus(1)
	f.Add(c.Title())
	f.Add(c.Content())
	f.Add("ab\x00cd_ef\x7fgh\tij" + strings.Repeat("Q", 70))
	tok, err := newTokenizer(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(tok.close)
	var st asciiStemmer
	f.Fuzz(func(t *testing.T, text string) {
		if !isASCII([]byte(text)) {
			t.Skip("not ASCII: FTS5's own")
		}
		want, err := tok.tokens(context.Background(), text)
		if err != nil {
			t.Fatal(err)
		}
		if got := goTerms(&st, text); !slices.Equal(got, want) {
			t.Fatalf("%q: Go %q, FTS5 %q", text, got, want)
		}
	})
}

// TestIsASCII: a byte of 0x80 or more anywhere makes text not ASCII.
func TestIsASCII(t *testing.T) {
	for text, want := range map[string]bool{"": true, "plain text\x00\x7f": true, "café": false, "x\x80": false, "\xff": false} {
		if got := isASCII([]byte(text)); got != want {
			t.Errorf("isASCII(%q) = %v", text, got)
		}
	}
}
