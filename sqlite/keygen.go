package sqlite

import (
	"bytes"
	"os"
	"sync"
)

// The key generation is read on every API-key authentication. Reading it
// from the database costs a pooled connection and a query (tens of
// microseconds with this driver), while it changes only when a key is
// created, revoked or imported. keyGenCache answers from memory as long as
// nothing at all has been committed to the database since the generation
// was read, by any connection of any process: then the generation cannot
// have changed, and a key revoked by `contextd keys revoke` beside a
// running server still fails at once.
//
// "Nothing was committed" is read from the WAL-index header at the start of
// the -shm file (https://www.sqlite.org/walformat.html, section 2.1): every
// commit rewrites it (its frame count and checksums, or the salts when the
// WAL starts over), and it is the shared memory through which every
// connection to the database learns of commits, so it is current for all
// processes. Reading its 96 bytes (both copies of the header) is one
// pread(2). Only plaintext stores use it: the encrypting VFS keeps its
// shared memory its own way. Whenever the file cannot be read, the
// generation is read from the database as before.

// walIndexHeaderBytes covers both copies of the WAL-index header (48 bytes
// each), which a commit writes one after the other.
const walIndexHeaderBytes = 96

type keyGenCache struct {
	shm *os.File // the -shm file, read-only; nil: no cache

	mu    sync.Mutex
	valid bool
	stamp [walIndexHeaderBytes]byte // the header when gen was read
	gen   int64
}

// openKeyGenCache opens the -shm file of the database at path; it exists
// once a connection has opened the database in WAL mode. A cache that
// cannot open it stays off.
func openKeyGenCache(path string) *keyGenCache {
	f, err := os.Open(path + "-shm")
	if err != nil {
		return &keyGenCache{}
	}
	return &keyGenCache{shm: f}
}

// readStamp reads the WAL-index header into b.
func (c *keyGenCache) readStamp(b *[walIndexHeaderBytes]byte) bool {
	if c == nil || c.shm == nil {
		return false
	}
	n, err := c.shm.ReadAt(b[:], 0)
	return err == nil && n == len(b)
}

// get returns the cached generation and true when nothing was committed
// since it was read. Otherwise it returns the current header, to be given
// to put with the generation read after it.
func (c *keyGenCache) get() (gen int64, ok bool, stamp [walIndexHeaderBytes]byte, stampOK bool) {
	if !c.readStamp(&stamp) {
		return 0, false, stamp, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.valid && bytes.Equal(c.stamp[:], stamp[:]) {
		return c.gen, true, stamp, true
	}
	return 0, false, stamp, true
}

// put remembers gen, read from the database after the header was stamp.
// A header read before the query can only be older than the query's
// snapshot, so the pair errs towards reading again, never towards a stale
// generation.
func (c *keyGenCache) put(stamp [walIndexHeaderBytes]byte, gen int64) {
	c.mu.Lock()
	c.stamp, c.gen, c.valid = stamp, gen, true
	c.mu.Unlock()
}

func (c *keyGenCache) close() error {
	if c == nil || c.shm == nil {
		return nil
	}
	return c.shm.Close()
}
