package sqlite

import (
	"bytes"
	"context"
	"encoding/binary"
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

// Refreshing the cache at the writer's own commits.
//
// Under a stream of writes every commit changes the header, and every
// authentication would read the generation from the database again (a
// reader connection and a query per request: 3% of a server's CPU under
// write load). The writer knows the generation of its own commits: before
// COMMIT it reads the generation inside its transaction (keyGenBeforeCommit)
// and the header's change counter, which cannot move while it holds the
// write lock; after COMMIT it reads the header again (keyGenAfterCommit).
// When the counter moved by exactly one (SQLite increments it once per
// committed transaction), the only commit in between was its own, and the
// new header and that generation are a true pair. A commit by another
// process in that window moves the counter twice or more, and the cache
// is then left alone: the next authentication reads the database.

// walIndexChangeOffset is the offset of iChange, the "counter incremented
// with each transaction", in each 48-byte copy of the WAL-index header
// (native byte order).
const walIndexChangeOffset = 8

// keyGenCommit is what keyGenBeforeCommit read inside a transaction.
type keyGenCommit struct {
	ok     bool
	change uint32 // the header's change counter before the commit
	gen    int64  // the generation as the transaction leaves it
}

// headerChange returns the change counter of a header read, and false when
// the read is torn (its two copies differ: a commit was writing it).
func headerChange(b *[walIndexHeaderBytes]byte) (uint32, bool) {
	const half = walIndexHeaderBytes / 2
	if !bytes.Equal(b[:half], b[half:]) {
		return 0, false
	}
	return binary.NativeEndian.Uint32(b[walIndexChangeOffset:]), true
}

// keyGenBeforeCommit reads, inside the writer's open transaction, the
// header's change counter and the generation the transaction leaves.
func (s *Store) keyGenBeforeCommit(ctx context.Context, c *conn) keyGenCommit {
	var b [walIndexHeaderBytes]byte
	if !s.keyGen.readStamp(&b) {
		return keyGenCommit{}
	}
	change, ok := headerChange(&b)
	if !ok {
		return keyGenCommit{}
	}
	var gen int64
	if err := c.QueryRowContext(ctx, `SELECT gen FROM key_generation WHERE id = 1`).Scan(&gen); err != nil {
		return keyGenCommit{}
	}
	return keyGenCommit{ok: true, change: change, gen: gen}
}

// keyGenAfterCommit caches the generation read before a commit that
// succeeded, with the header after it, when no other commit came between.
func (s *Store) keyGenAfterCommit(k keyGenCommit) {
	if !k.ok {
		return
	}
	var b [walIndexHeaderBytes]byte
	if !s.keyGen.readStamp(&b) {
		return
	}
	if change, ok := headerChange(&b); ok && change == k.change+1 {
		s.keyGen.put(b, k.gen)
	}
}
