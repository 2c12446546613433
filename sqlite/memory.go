package sqlite

import "fmt"

// SQLite's memory in this process is bounded by the store's cache budget
// (Options.CacheSizeMB), split here between the connections' page caches
// and the readers' memory maps of the file. Two things make the split less
// simple than "budget / connections":
//
//   - modernc.org/sqlite allocates through modernc.org/memory, whose slots
//     are powers of two: a cached page (the 4 KiB page, SQLite's header of
//     its page, ~300 B) takes an 8 KiB slot. PRAGMA cache_size counts a page
//     as page size + header, so a cache_size of N KiB held about 2N KiB of
//     resident memory (measured: 1,000 tenants of 1,000 contexts, five
//     connections of 51 MiB, 600 MiB of SQLite's anonymous memory). The
//     plaintext store asks for half the KiB.
//   - each reader maps the file on its own, and resident memory counts a
//     mapped page once per mapping that touched it: four readers mapping
//     256 MiB held up to 1 GiB of the file's pages as resident (RssFile).
//     The readers' maps together take a quarter of the budget.
//
// SQLite's soft heap limit (set below too) is not enforced by this build of
// SQLite (SQLITE_DEFAULT_MEMSTATUS=0: no memory accounting), so these sizes
// are the bound.
type memoryPlan struct {
	cacheKiB  int   // PRAGMA cache_size of each connection, KiB (as SQLite counts a page)
	mmapBytes int64 // PRAGMA mmap_size of each plaintext reader; 0 without a map
}

// slotFactor is how much resident memory modernc.org/memory gives a cached
// page per byte SQLite counts for it (an 8 KiB slot for 4 KiB + header).
const slotFactor = 2

// planMemory splits totalMB MiB over the writer and readConns readers. An
// encrypted store (the ncruces driver: its own allocator, in its own linear
// memory) maps nothing and counts pages as SQLite does.
func planMemory(totalMB, readConns int, plaintext bool) memoryPlan {
	conns := readConns + 1
	if !plaintext {
		return memoryPlan{cacheKiB: max(2048, totalMB*1024/conns)}
	}
	mapKiB := totalMB * 1024 / 4
	perMap := mapKiB / max(readConns, 1)
	return memoryPlan{
		cacheKiB:  max(1024, (totalMB*1024-mapKiB)/conns/slotFactor),
		mmapBytes: int64(max(perMap, 1024)) << 10,
	}
}

// cachePragma is the page cache pragma of every connection.
func (p memoryPlan) cachePragma() string { return fmt.Sprintf("cache_size(%d)", -p.cacheKiB) }

// readerPragmas are the readers' own pragmas: the map of the file, if any.
func (p memoryPlan) readerPragmas() []string {
	if p.mmapBytes <= 0 {
		return nil
	}
	return []string{fmt.Sprintf("mmap_size(%d)", p.mmapBytes)}
}
