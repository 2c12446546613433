package sqlite

// A Go port of what FTS5's stemTokenizer (`porter unicode61
// remove_diacritics 2`) does to ASCII text, so that a tail build (issue 3)
// tokenizes its pure-ASCII rows without a private FTS5 table: the table's
// hash writes, tokenizer callbacks and fts5vocab read were a quarter of the
// server's CPU in a batch fill. It must give exactly FTS5's terms (the
// tail's postings are compared with the shards' and searched with FTS5's
// query terms), so it follows fts5_tokenize.c line by line, quirks
// included; porter_test.go checks it against FTS5 itself. Text with any
// byte >= 0x80 is not for it: unicode61's Unicode categories, folding and
// diacritics stay FTS5's.

const (
	// FTS5 stems tokens of 3 to 64 bytes (FTS5_PORTER_MAX_TOKEN) and
	// passes shorter and longer ones through unchanged.
	porterMinToken = 3
	porterMaxToken = 64
	// FTS5 indexes at most this many bytes of a token (FTS5_MAX_TOKEN_SIZE,
	// in fts5StorageInsertCallback): a longer one is indexed truncated, and
	// still counts once in its row's length.
	fts5MaxTokenSize = 32768
)

// isASCII reports whether b has no byte >= 0x80.
func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// asciiTokenChar is unicode61's table of token characters below 0x80 with
// its default categories (L* N* Co): letters and digits. Everything else,
// '_' and control characters included, separates tokens.
var asciiTokenChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	return t
}()

// asciiStemmer tokenizes ASCII text as stemTokenizer does. Its buffers are
// reused from token to token: not safe for concurrent use.
type asciiStemmer struct {
	stem [porterMaxToken]byte // the token being stemmed (never grows past its length)
	long []byte               // a token passed through, lower-cased
}

// terms calls emit with each term FTS5 indexes for text (which must be
// ASCII), in order; a term is valid only during its call. Their number is
// the column's length in FTS5's _docsize.
func (st *asciiStemmer) terms(text []byte, emit func(term []byte)) {
	for i := 0; i < len(text); {
		if !asciiTokenChar[text[i]] {
			i++
			continue
		}
		j := i + 1
		for j < len(text) && asciiTokenChar[text[j]] {
			j++
		}
		var term []byte
		if n := j - i; n >= porterMinToken && n <= porterMaxToken {
			term = porterStem(lowerInto(st.stem[:0], text[i:j]))
		} else {
			st.long = lowerInto(st.long[:0], text[i:j])
			term = st.long[:min(n, fts5MaxTokenSize)]
		}
		emit(term)
		i = j
	}
}

// lowerInto appends s to dst with A-Z lower-cased (unicode61's only change
// to an ASCII token).
func lowerInto(dst, s []byte) []byte {
	for _, c := range s {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// porterStem stems b in place as fts5PorterCb does (b of 3 to 64 bytes),
// returning the stem (a prefix of b's array).
func porterStem(b []byte) []byte {
	// Step 1a: plurals.
	if b[len(b)-1] == 's' {
		n := len(b)
		switch {
		case b[n-2] == 'e':
			if (n > 4 && b[n-4] == 's' && b[n-3] == 's') || (n > 3 && b[n-3] == 'i') {
				b = b[:n-2]
			} else {
				b = b[:n-1]
			}
		case b[n-2] != 's':
			b = b[:n-1]
		}
	}
	// Step 1b: -eed, -ed, -ing.
	var cut bool // -ed or -ing was removed
	n := len(b)
	switch {
	case n > 3 && string(b[n-3:]) == "eed":
		if porterMGt0(b[:n-3]) {
			b = b[:n-1]
		}
	case n > 2 && string(b[n-2:]) == "ed":
		if porterHasVowel(b[:n-2]) {
			b, cut = b[:n-2], true
		}
	case n > 3 && string(b[n-3:]) == "ing":
		if porterHasVowel(b[:n-3]) {
			b, cut = b[:n-3], true
		}
	}
	if cut {
		n := len(b)
		if n > 2 && (string(b[n-2:]) == "at" || string(b[n-2:]) == "bl" || string(b[n-2:]) == "iz") {
			b = append(b, 'e')
		} else if c := b[n-1]; !porterIsVowel(c, false) && c != 'l' && c != 's' && c != 'z' && c == b[n-2] {
			// (A stem of one byte has a vowel, so b[n-2] is not reached.)
			b = b[:n-1]
		} else if porterMEq1(b) && porterOStar(b) {
			b = append(b, 'e')
		}
	}
	// Step 1c: y to i after a vowel.
	if n := len(b); b[n-1] == 'y' && porterHasVowel(b[:n-1]) {
		b[n-1] = 'i'
	}
	// Steps 2 to 4: suffixes.
	b = porterStep2.apply(b)
	b = porterStep3.apply(b)
	b = porterStep4.apply(b)
	// Step 5a: a final e.
	if n := len(b); b[n-1] == 'e' {
		if s := b[:n-1]; porterMGt1(s) || (porterMEq1(s) && !porterOStar(s)) {
			b = s
		}
	}
	// Step 5b: -ll.
	if n := len(b); n > 1 && b[n-1] == 'l' && b[n-2] == 'l' && porterMGt1(b[:n-1]) {
		b = b[:n-1]
	}
	return b
}

// porterIsVowel is fts5PorterIsVowel: y is a vowel when yIsVowel (after a
// consonant, or for porterHasVowel anywhere but first).
func porterIsVowel(c byte, yIsVowel bool) bool {
	switch c {
	case 'a', 'e', 'i', 'o', 'u':
		return true
	case 'y':
		return yIsVowel
	}
	return false
}

// porterGobbleVC is fts5PorterGobbleVC: the length of s's first
// vowels-then-consonant run (consonants before it included), or 0 if none.
// prevCons says whether the byte before s is a consonant.
func porterGobbleVC(s []byte, prevCons bool) int {
	cons := prevCons
	i := 0
	for ; i < len(s); i++ {
		if cons = !porterIsVowel(s[i], cons); !cons {
			break
		}
	}
	for i++; i < len(s); i++ {
		if cons = !porterIsVowel(s[i], cons); cons {
			return i + 1
		}
	}
	return 0
}

// porterMGt0 is Porter's condition m > 0 on stem s.
func porterMGt0(s []byte) bool { return porterGobbleVC(s, false) != 0 }

// porterMGt1 is Porter's condition m > 1.
func porterMGt1(s []byte) bool {
	n := porterGobbleVC(s, false)
	return n != 0 && porterGobbleVC(s[n:], true) != 0
}

// porterMEq1 is Porter's condition m = 1.
func porterMEq1(s []byte) bool {
	n := porterGobbleVC(s, false)
	return n != 0 && porterGobbleVC(s[n:], true) == 0
}

// porterOStar is Porter's condition *o: s ends consonant-vowel-consonant,
// the last not w, x or y. Called only where m = 1 (so s is not empty).
func porterOStar(s []byte) bool {
	switch s[len(s)-1] {
	case 'w', 'x', 'y':
		return false
	}
	mask, cons := 0, false
	for _, c := range s {
		cons = !porterIsVowel(c, cons)
		mask <<= 1
		if cons {
			mask |= 1
		}
	}
	return mask&7 == 5
}

// porterHasVowel is Porter's condition *v* as fts5Porter_Vowel has it: y
// counts as a vowel anywhere but first, whatever precedes it.
func porterHasVowel(s []byte) bool {
	for i, c := range s {
		if porterIsVowel(c, i > 0) {
			return true
		}
	}
	return false
}

// porterMGt1ST is the condition m > 1 and *S or *T (for -ion).
func porterMGt1ST(s []byte) bool {
	c := s[len(s)-1]
	return (c == 's' || c == 't') && porterMGt1(s)
}

// porterRule replaces suffix with to when cond holds of the stem before it.
type porterRule struct {
	suffix, to string
	cond       func(stem []byte) bool
}

// porterStepRules is one of steps 2 to 4 as FTS5's generated code has it:
// a switch on the word's next-to-last byte (each rule's suffix has it
// there), then the first rule of that case whose suffix ends the word after
// at least one byte is the only one tried.
type porterStepRules [256][]porterRule

func newPorterStep(rules ...porterRule) *porterStepRules {
	var st porterStepRules
	for _, r := range rules {
		c := r.suffix[len(r.suffix)-2]
		st[c] = append(st[c], r)
	}
	return &st
}

// apply runs the step on b, returning the word (a prefix of b's array: no
// rule's output is longer than its suffix).
func (st *porterStepRules) apply(b []byte) []byte {
	n := len(b)
	if n < 2 { // too short for any rule (FTS5 reads a byte before its buffer here, to no effect)
		return b
	}
	for _, r := range st[b[n-2]] {
		if n > len(r.suffix) && string(b[n-len(r.suffix):]) == r.suffix {
			if stem := b[:n-len(r.suffix)]; r.cond(stem) {
				return append(stem, r.to...)
			}
			return b
		}
	}
	return b
}

// The rules of steps 2 to 4, in fts5_tokenize.c's order.
var (
	porterStep2 = newPorterStep(
		porterRule{"ational", "ate", porterMGt0},
		porterRule{"tional", "tion", porterMGt0},
		porterRule{"enci", "ence", porterMGt0},
		porterRule{"anci", "ance", porterMGt0},
		porterRule{"izer", "ize", porterMGt0},
		porterRule{"logi", "log", porterMGt0},
		porterRule{"bli", "ble", porterMGt0},
		porterRule{"alli", "al", porterMGt0},
		porterRule{"entli", "ent", porterMGt0},
		porterRule{"eli", "e", porterMGt0},
		porterRule{"ousli", "ous", porterMGt0},
		porterRule{"ization", "ize", porterMGt0},
		porterRule{"ation", "ate", porterMGt0},
		porterRule{"ator", "ate", porterMGt0},
		porterRule{"alism", "al", porterMGt0},
		porterRule{"iveness", "ive", porterMGt0},
		porterRule{"fulness", "ful", porterMGt0},
		porterRule{"ousness", "ous", porterMGt0},
		porterRule{"aliti", "al", porterMGt0},
		porterRule{"iviti", "ive", porterMGt0},
		porterRule{"biliti", "ble", porterMGt0},
	)
	porterStep3 = newPorterStep(
		porterRule{"ical", "ic", porterMGt0},
		porterRule{"ness", "", porterMGt0},
		porterRule{"icate", "ic", porterMGt0},
		porterRule{"iciti", "ic", porterMGt0},
		porterRule{"ful", "", porterMGt0},
		porterRule{"ative", "", porterMGt0},
		porterRule{"alize", "al", porterMGt0},
	)
	porterStep4 = newPorterStep(
		porterRule{"al", "", porterMGt1},
		porterRule{"ance", "", porterMGt1},
		porterRule{"ence", "", porterMGt1},
		porterRule{"er", "", porterMGt1},
		porterRule{"ic", "", porterMGt1},
		porterRule{"able", "", porterMGt1},
		porterRule{"ible", "", porterMGt1},
		porterRule{"ant", "", porterMGt1},
		porterRule{"ement", "", porterMGt1},
		porterRule{"ment", "", porterMGt1},
		porterRule{"ent", "", porterMGt1},
		porterRule{"ion", "", porterMGt1ST},
		porterRule{"ou", "", porterMGt1},
		porterRule{"ism", "", porterMGt1},
		porterRule{"ate", "", porterMGt1},
		porterRule{"iti", "", porterMGt1},
		porterRule{"ous", "", porterMGt1},
		porterRule{"ive", "", porterMGt1},
		porterRule{"ize", "", porterMGt1},
	)
)
