package sqlite

import "fmt"

// readerMmap returns the pragmas that let plaintext read connections read
// pages through one shared memory map of the file's first totalMB MiB
// instead of copying each page into their own page cache with a read(2):
// a point read (a context by id) then costs no system call and no page
// allocation, and the readers share one copy of the hot pages instead of
// each caching its own. The map is bounded by the store's cache budget
// (Options.CacheSizeMB), since the mapped pages count in the process's
// resident memory. Writes still go through the writer's write(2) calls
// (SQLite never writes through the map), so durability is unchanged.
func readerMmap(totalMB int) []string {
	return []string{fmt.Sprintf("mmap_size(%d)", int64(totalMB)<<20)}
}
