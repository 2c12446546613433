package contextd

import (
	"hash/maphash"
	"slices"
)

// idTable holds a shard's row ids and finds a row's slot by id, in about 45
// bytes a row for 26-character ids where a []string with a map[string]int
// took about 90 (a string header, the id's own allocation rounded up to
// its size class, and the map's key, value and control bytes):
//
//   - the ids' bytes one after the other in one arena, slot i's at
//     refs[i] (offset<<16 | length);
//   - an open-addressing hash table (linear probing) of slot+1, 0 empty,
//     kept at most 3/4 full: 5.3-10.7 bytes a row.
//
// A removed id's bytes stay in the arena as garbage until they are half of
// it, when the arena is compacted.
type idTable struct {
	arena []byte
	refs  []uint64
	dead  int      // bytes of the arena no slot refers to
	table []uint32 // slot+1 at each position, 0 empty; len is a power of two
	seed  maphash.Seed
}

func newIDTable() *idTable { return &idTable{seed: maphash.MakeSeed()} }

// grow makes room for n more ids of about 26 bytes (a ULID's length).
func (t *idTable) grow(n int) {
	t.arena = slices.Grow(t.arena, 26*n)
	t.refs = slices.Grow(t.refs, n)
	t.resize(len(t.refs) + n)
}

// resize sets the table's size for n ids, when it must grow.
func (t *idTable) resize(n int) {
	size := 8
	for size*3 < n*4 {
		size *= 2
	}
	if size <= len(t.table) {
		return
	}
	t.table = make([]uint32, size)
	mask := size - 1
	for slot := range t.refs {
		p := t.hash(t.key(slot)) & mask
		for t.table[p] != 0 {
			p = (p + 1) & mask
		}
		t.table[p] = uint32(slot + 1)
	}
}

func (t *idTable) n() int { return len(t.refs) }

func (t *idTable) hash(id []byte) int { return int(maphash.Bytes(t.seed, id)) }

// key is the bytes of slot's id (not to be kept: compaction moves them).
func (t *idTable) key(slot int) []byte {
	r := t.refs[slot]
	off, n := int(r>>16), int(r&0xffff)
	return t.arena[off : off+n]
}

// id is slot's id.
func (t *idTable) id(slot int) string { return string(t.key(slot)) }

// less reports whether slot i's id sorts before slot j's.
func (t *idTable) less(i, j int) bool { return string(t.key(i)) < string(t.key(j)) }

// pos is the table position of id, or of the empty position where it would go.
func (t *idTable) pos(id string) (int, bool) {
	mask := len(t.table) - 1
	p := int(maphash.String(t.seed, id)) & mask
	for {
		v := t.table[p]
		if v == 0 {
			return p, false
		}
		if string(t.key(int(v-1))) == id {
			return p, true
		}
		p = (p + 1) & mask
	}
}

// find returns id's slot.
func (t *idTable) find(id string) (int, bool) {
	if len(t.table) == 0 {
		return 0, false
	}
	p, ok := t.pos(id)
	if !ok {
		return 0, false
	}
	return int(t.table[p] - 1), true
}

// add appends id (not held yet) as the next slot and returns it. Ids are at
// most 65,535 bytes (ValidID's are at most 128).
func (t *idTable) add(id string) int {
	t.resize(len(t.refs) + 1)
	slot := len(t.refs)
	t.refs = append(t.refs, uint64(len(t.arena))<<16|uint64(len(id)&0xffff))
	t.arena = append(t.arena, id[:min(len(id), 0xffff)]...)
	p, _ := t.pos(id)
	t.table[p] = uint32(slot + 1)
	return slot
}

// removeSwap removes slot i's id; the last slot's id, when i is not last,
// moves to slot i (as the shard moves its columns).
func (t *idTable) removeSwap(i int) {
	last := len(t.refs) - 1
	p, _ := t.pos(t.id(i))
	t.del(p)
	t.dead += int(t.refs[i] & 0xffff)
	if i != last {
		q, _ := t.pos(t.id(last))
		t.table[q] = uint32(i + 1)
		t.refs[i] = t.refs[last]
	}
	t.refs = t.refs[:last]
	if t.dead > 4096 && t.dead > len(t.arena)/2 {
		t.compact()
	}
}

// del empties table position p, moving later entries of its probe run back
// (backward-shift deletion: no tombstones).
func (t *idTable) del(p int) {
	mask := len(t.table) - 1
	for {
		t.table[p] = 0
		q := p
		for {
			q = (q + 1) & mask
			v := t.table[q]
			if v == 0 {
				return
			}
			h := t.hash(t.key(int(v-1))) & mask
			// The entry at q stays when its home h lies cyclically in (p, q].
			if (p < q && p < h && h <= q) || (p > q && (p < h || h <= q)) {
				continue
			}
			t.table[p] = v
			p = q
			break
		}
	}
}

// compact copies the live ids into a new arena.
func (t *idTable) compact() {
	arena := make([]byte, 0, len(t.arena)-t.dead)
	for slot, r := range t.refs {
		off, n := int(r>>16), int(r&0xffff)
		t.refs[slot] = uint64(len(arena))<<16 | uint64(n)
		arena = append(arena, t.arena[off:off+n]...)
	}
	t.arena, t.dead = arena, 0
}

// bytes is the memory the table holds.
func (t *idTable) bytes() int64 {
	return int64(cap(t.arena)) + 8*int64(cap(t.refs)) + 4*int64(len(t.table))
}
