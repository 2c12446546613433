package sqlite_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/sqlite"
)

// TestRekey: plaintext -> encrypted -> another key -> plaintext, the data
// and its search intact at every step, the old key refused after each.
func TestRekey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := writeMarker(t, s)
	seedT(t, s, contextd.Scope{Tenant: "acme"}, 300)
	s.Close()
	k1, k2 := newKey(t), newKey(t)
	steps := []struct {
		from, to []byte
		keep     bool
	}{{nil, k1, false}, {k1, k2, true}, {k2, nil, false}}
	for i, st := range steps {
		res, err := sqlite.Rekey(ctx, dir, st.from, st.to, st.keep)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if res.Tables["contexts"] != 301 {
			t.Errorf("step %d: %v", i, res.Tables)
		}
		if st.keep != (res.Kept != "") {
			t.Errorf("step %d: kept %q", i, res.Kept)
		}
		if res.Kept != "" {
			if _, err := os.Stat(res.Kept); err != nil {
				t.Errorf("the kept file: %v", err)
			}
		}
		db, err := os.ReadFile(filepath.Join(dir, sqlite.FileName))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(db, []byte(marker)) != (st.to == nil) {
			t.Errorf("step %d: marker in the file = %v", i, bytes.Contains(db, []byte(marker)))
		}
		if _, err := sqlite.Open(ctx, dir, sqlite.Options{EncryptionKey: st.from}); err == nil {
			t.Errorf("step %d: the store still opens with the old key", i)
		}
		s, err := sqlite.Open(ctx, dir, sqlite.Options{EncryptionKey: st.to})
		if err != nil {
			t.Fatalf("step %d: open with the new key: %v", i, err)
		}
		if _, err := s.GetContext(ctx, contextd.Scope{Tenant: "acme"}, c.ID); err != nil {
			t.Errorf("step %d: %v", i, err)
		}
		hits, err := s.SearchContexts(ctx, contextd.Scope{Tenant: "acme"}, contextd.SearchQuery{Query: marker})
		if err != nil || len(hits.Results) != 1 {
			t.Errorf("step %d: search: %v, %v", i, hits, err)
		}
		s.Close()
	}
	// A wrong old key changes nothing.
	before, _ := os.ReadFile(filepath.Join(dir, sqlite.FileName))
	if _, err := sqlite.Rekey(ctx, dir, k1, k2, false); !errors.Is(err, sqlite.ErrNotEncrypted) {
		t.Errorf("rekey of a plaintext store with an old key: %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, sqlite.FileName))
	if !bytes.Equal(before, after) {
		t.Error("a failed rekey changed the file")
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() != sqlite.FileName && e.Name() != sqlite.FileName+"-wal" && e.Name() != sqlite.FileName+"-shm" && filepath.Ext(e.Name()) == "" {
			t.Logf("left in the directory: %s", e.Name())
		}
	}
}
