package sqlite_test

import (
	"strconv"
	"testing"

	"github.com/contextd/contextd/sqlite"
)

// TestReadersMapTheFile: plaintext read connections read pages through a
// memory map of the file (no copy into each connection's page cache).
func TestReadersMapTheFile(t *testing.T) {
	s := openAt(t, t.TempDir())
	v, err := sqlite.ReaderPragma(s, "mmap_size")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := strconv.ParseInt(v, 10, 64); n < 1<<20 {
		t.Fatalf("readers' mmap_size = %s, want the file mapped", v)
	}
	if w, _ := sqlite.WriterPragma(s, "mmap_size"); w != "0" {
		t.Fatalf("the writer's mmap_size = %s, want 0 (writes through write(2) only)", w)
	}
}
