package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/sqlite"
)

// TestWALFramesPerWrite is a diagnostic, not a check: with WAL_FRAMES=1 it
// writes single creates and memory writes, concurrently, on a seeded store
// and logs the pages each transaction wrote to the WAL, by b-tree.
//
//	WAL_FRAMES=1 go test -run WALFrames -v ./sqlite/
func TestWALFramesPerWrite(t *testing.T) {
	if os.Getenv("WAL_FRAMES") == "" {
		t.Skip("diagnostic: set WAL_FRAMES=1")
	}
	dir := t.TempDir()
	s := openAt(t, dir)
	sc := contextd.Scope{Tenant: "bench"}
	ctx := context.Background()
	seedT(t, s, sc, 5000)
	g := newTextGen(3)
	for i := 0; i < 50; i++ {
		ms := make([]contextd.MemoryCreate, 100)
		for j := range ms {
			ms[j] = contextd.MemoryCreate{Content: g.words(50), SessionID: "s" + strconv.Itoa(j%200), Tags: []string{"a"}}
		}
		if _, err := s.CreateMemories(ctx, sc, ms); err != nil {
			t.Fatal(err)
		}
	}
	vec := make([]float32, 384)
	for i := range vec {
		vec[i] = float32(i%7) - 3
	}
	wal := filepath.Join(dir, sqlite.FileName+"-wal")
	for _, tc := range []struct {
		name string
		fn   func(i int) error
	}{
		{"create", func(i int) error {
			it := g.item()
			it.Vector, it.VectorModel = vec, "m"
			_, err := s.CreateContexts(ctx, sc, []contextd.ContextCreate{it})
			return err
		}},
		{"memory", func(i int) error {
			_, err := s.CreateMemories(ctx, sc, []contextd.MemoryCreate{{Content: g.words(50), SessionID: "s" + strconv.Itoa(i%200),
				Tags: []string{"a"}, Vector: vec, VectorModel: "m"}})
			return err
		}},
	} {
		for round := 0; round < 3; round++ {
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for w := 0; w < 8; w++ {
				wg.Go(func() {
					if err := tc.fn(round*8 + w); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			b, err := os.ReadFile(wal)
			if err != nil {
				t.Fatal(err)
			}
			txs := walTransactions(b)
			t.Logf("%s round %d: %d transactions in the WAL", tc.name, round, len(txs))
			names := pageNames(t, dir)
			for _, tx := range txs[max(0, len(txs)-3):] {
				t.Logf("  %d pages: %s", len(tx), byName(tx, names))
			}
		}
	}
}

// walTransactions returns the page numbers of each valid transaction in a
// WAL file, in order.
func walTransactions(b []byte) [][]uint32 {
	if len(b) < 32 {
		return nil
	}
	pgsz := int(binary.BigEndian.Uint32(b[8:12]))
	salt1, salt2 := binary.BigEndian.Uint32(b[16:20]), binary.BigEndian.Uint32(b[20:24])
	var out [][]uint32
	var cur []uint32
	for off := 32; off+24+pgsz <= len(b); off += 24 + pgsz {
		h := b[off : off+24]
		if binary.BigEndian.Uint32(h[8:12]) != salt1 || binary.BigEndian.Uint32(h[12:16]) != salt2 {
			break
		}
		cur = append(cur, binary.BigEndian.Uint32(h[0:4]))
		if binary.BigEndian.Uint32(h[4:8]) != 0 { // commit frame
			sort.Slice(cur, func(i, j int) bool { return cur[i] < cur[j] })
			out = append(out, cur)
			cur = nil
		}
	}
	return out
}

// pageNames maps the pages of the database to their b-tree's name.
func pageNames(t *testing.T, dir string) map[uint32]string {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name, pageno FROM dbstat`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[uint32]string{}
	for rows.Next() {
		var name string
		var pg uint32
		if err := rows.Scan(&name, &pg); err != nil {
			t.Fatal(err)
		}
		out[pg] = name
	}
	return out
}

// byName counts pages by b-tree name.
func byName(pages []uint32, names map[uint32]string) string {
	n := map[string]int{}
	for _, p := range pages {
		name := names[p]
		if name == "" {
			name = "?" + fmt.Sprint(p)
		}
		n[name]++
	}
	keys := make([]string, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s:%d ", k, n[k])
	}
	return b.String()
}
