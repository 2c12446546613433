package embed

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Tokenizer is BERT's uncased WordPiece tokenizer: control characters
// dropped, CJK ideographs split apart, lower-cased, accents stripped,
// punctuation split off, then every word cut greedily into the longest
// vocabulary pieces, continuation pieces written "##piece". Special tokens
// such as "[CLS]" in the text are ordinary text here.
type Tokenizer struct {
	vocab map[string]int32
	unk   int32
	// words caches the pieces of words seen that are not a vocabulary
	// entry: words in text follow a Zipf law, so most are cut once.
	// Bounded by maxWords (wordcache.go).
	words wordCache
}

// maxWordChars is BERT's limit: a longer word is one unknown token.
const maxWordChars = 100

// maxWords bounds the word cache (a few MiB).
const maxWords = 1 << 16

// NewTokenizer builds a tokenizer over a vocabulary, one token per entry in
// id order. unk is the unknown token ("[UNK]").
func NewTokenizer(vocab []string, unk string) *Tokenizer {
	t := &Tokenizer{vocab: make(map[string]int32, len(vocab)), unk: -1}
	for i, v := range vocab {
		if _, dup := t.vocab[v]; !dup {
			t.vocab[v] = int32(i)
		}
	}
	if id, ok := t.vocab[unk]; ok {
		t.unk = id
	}
	return t
}

// Tokenize returns the token ids of text (without [CLS] and [SEP]).
func (t *Tokenizer) Tokenize(text string) []int32 {
	return t.AppendIDs(nil, text)
}

// AppendIDs appends the token ids of text to ids and returns the result.
// An ASCII text (the common case) is split in one pass over its bytes with
// no allocation per word; any other text goes through basicTokens. Both
// give the same words (TestTokenizeASCIIPath).
func (t *Tokenizer) AppendIDs(ids []int32, text string) []int32 {
	if !isASCII(text) {
		for _, w := range basicTokens(text) {
			ids = t.appendWord(ids, w)
		}
		return ids
	}
	var buf [maxWordChars + 1]byte
	cur := buf[:0]
	flush := func() {
		if len(cur) > 0 {
			ids = t.appendWordBytes(ids, cur)
			cur = cur[:0]
		}
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			flush()
		case c < 0x20 || c == 0x7f:
			// Control characters are dropped, joining what is on each side.
		case isPunct(rune(c)):
			flush()
			ids = t.appendWordBytes(ids, []byte{c})
		default:
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if len(cur) == cap(cur) {
				// Longer than BERT's limit: the whole word is one unknown
				// token, as wordPiece makes it.
				for i+1 < len(text) && !isASCIIBreak(text[i+1]) {
					i++
				}
				cur = cur[:0]
				ids = t.appendUnk(ids)
				continue
			}
			cur = append(cur, c)
		}
	}
	flush()
	return ids
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// isASCIIBreak reports whether an ASCII byte ends a word: white space or
// punctuation.
func isASCIIBreak(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || isPunct(rune(c))
}

// appendWordBytes is appendWord for a word in a scratch buffer: a word that
// is one vocabulary entry (most of them) or already cut is found without
// allocating.
func (t *Tokenizer) appendWordBytes(ids []int32, w []byte) []int32 {
	if id, ok := t.vocab[string(w)]; ok {
		return append(ids, id)
	}
	if v, ok := t.words.get(w); ok {
		return append(ids, v...)
	}
	return t.cutWord(ids, string(w))
}

// appendWord appends the pieces of one basic word. A word that is itself a
// vocabulary entry is that entry (what wordPiece's first, longest try
// finds); others are cut once and cached.
func (t *Tokenizer) appendWord(ids []int32, w string) []int32 {
	if id, ok := t.vocab[w]; ok && len(w) <= maxWordChars {
		return append(ids, id)
	}
	if v, ok := t.words.getString(w); ok {
		return append(ids, v...)
	}
	return t.cutWord(ids, w)
}

// cutWord appends the pieces of a word that is not a vocabulary entry and
// not cached, and caches them.
func (t *Tokenizer) cutWord(ids []int32, w string) []int32 {
	pieces := t.wordPiece(w, nil)
	t.words.put(w, pieces)
	return append(ids, pieces...)
}

// wordPiece appends the pieces of word to ids: the longest vocabulary
// entries from the left, continuations prefixed "##".
func (t *Tokenizer) wordPiece(word string, ids []int32) []int32 {
	// Byte offsets of the runes: pieces are cut at rune boundaries.
	offs := make([]int, 0, len(word)+1)
	for i := range word {
		offs = append(offs, i)
	}
	n := len(offs) // runes
	if n > maxWordChars {
		return t.appendUnk(ids)
	}
	offs = append(offs, len(word))
	mark := len(ids)
	buf := make([]byte, 0, len(word)+2)
	for start := 0; start < n; {
		end, cur := n, int32(-1)
		for start < end {
			buf = buf[:0]
			if start > 0 {
				buf = append(buf, "##"...)
			}
			buf = append(buf, word[offs[start]:offs[end]]...)
			if id, ok := t.vocab[string(buf)]; ok { // no allocation for the lookup
				cur = id
				break
			}
			end--
		}
		if cur < 0 {
			return t.appendUnk(ids[:mark])
		}
		ids = append(ids, cur)
		start = end
	}
	return ids
}

func (t *Tokenizer) appendUnk(ids []int32) []int32 {
	if t.unk < 0 {
		return ids
	}
	return append(ids, t.unk)
}

// basicTokens splits text into lower-case, accent-free words and single
// punctuation characters.
func basicTokens(text string) []string {
	var clean strings.Builder
	for _, r := range text {
		switch {
		case r == 0 || r == unicode.ReplacementChar:
		case r == ' ' || r == '\t' || r == '\n' || r == '\r' || unicode.Is(unicode.Zs, r):
			clean.WriteByte(' ')
		case unicode.IsControl(r) || unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs):
		case isCJK(r):
			clean.WriteByte(' ')
			clean.WriteRune(r)
			clean.WriteByte(' ')
		default:
			clean.WriteRune(r)
		}
	}
	var words []string
	for _, tok := range strings.Fields(clean.String()) {
		tok = norm.NFD.String(strings.ToLower(tok))
		var cur strings.Builder
		for _, r := range tok {
			switch {
			case unicode.Is(unicode.Mn, r):
			case isPunct(r):
				if cur.Len() > 0 {
					words = append(words, cur.String())
					cur.Reset()
				}
				words = append(words, string(r))
			default:
				cur.WriteRune(r)
			}
		}
		if cur.Len() > 0 {
			words = append(words, cur.String())
		}
	}
	return words
}

// isPunct is BERT's punctuation: ASCII symbols and Unicode P* categories.
func isPunct(r rune) bool {
	if (r >= 33 && r <= 47) || (r >= 58 && r <= 64) || (r >= 91 && r <= 96) || (r >= 123 && r <= 126) {
		return true
	}
	return unicode.IsPunct(r)
}

func isCJK(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) || (r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) || (r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B820 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}
