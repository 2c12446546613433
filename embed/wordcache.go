package embed

import (
	"sync"
	"sync/atomic"
)

// wordCache holds the WordPiece pieces of words that are not themselves a
// vocabulary entry (word -> pieces), for the tokenizer of every request.
//
// Reads take no lock and allocate nothing: a lookup by a word in a scratch
// buffer (m[string(b)]) goes to an immutable map published through an
// atomic pointer. New words go to a small map under a mutex, which is
// folded into a new published map once it holds a quarter as many words as
// the published one (at least foldMin): each word is copied O(1) times on
// average, and words in text follow a Zipf law, so after a warm-up nearly
// every lookup is answered by the published map alone. (sync.Map, before,
// cost an allocation of the key and an interface hash per lookup: 6% of a
// server's CPU under write load.) At most maxWords words are kept.
type wordCache struct {
	published atomic.Pointer[map[string][]int32]
	mu        sync.Mutex
	fresh     map[string][]int32 // guarded by mu: words not yet published
	n         int                // guarded by mu: words in published and fresh
}

// foldMin is the fewest fresh words folded into a new published map.
const foldMin = 64

// get returns the pieces of word w, if cached.
func (c *wordCache) get(w []byte) ([]int32, bool) { return lookup(c, w) }

// getString is get for a word in a string.
func (c *wordCache) getString(w string) ([]int32, bool) { return lookup(c, w) }

// lookup is get for a word of either type: string(w) in a map index does
// not allocate.
func lookup[W string | []byte](c *wordCache, w W) ([]int32, bool) {
	if m := c.published.Load(); m != nil {
		if v, ok := (*m)[string(w)]; ok {
			return v, true
		}
	}
	c.mu.Lock()
	v, ok := c.fresh[string(w)]
	c.mu.Unlock()
	return v, ok
}

// put caches the pieces of word w, unless the cache is full.
func (c *wordCache) put(w string, pieces []int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n >= maxWords {
		return
	}
	var pub map[string][]int32
	if m := c.published.Load(); m != nil {
		pub = *m
	}
	if _, ok := pub[w]; ok { // another caller cut it meanwhile
		return
	}
	if _, ok := c.fresh[w]; ok {
		return
	}
	if c.fresh == nil {
		c.fresh = map[string][]int32{}
	}
	c.fresh[w] = pieces
	c.n++
	if len(c.fresh) < max(foldMin, len(pub)/4) && c.n < maxWords {
		return
	}
	next := make(map[string][]int32, len(pub)+len(c.fresh))
	for k, v := range pub {
		next[k] = v
	}
	for k, v := range c.fresh {
		next[k] = v
	}
	c.published.Store(&next)
	c.fresh = nil
}
