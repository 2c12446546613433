package sqlite_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/sqlite"
	"github.com/contextd/contextd/storetest"
)

func newKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, sqlite.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestConformanceEncrypted(t *testing.T) {
	root := t.TempDir()
	key := newKey(t)
	storetest.Run(t, func(t *testing.T, name string, now func() time.Time) contextd.Store {
		t.Helper()
		s, err := sqlite.Open(context.Background(), filepath.Join(root, name), sqlite.Options{Now: now, ReadConns: 4, CacheSizeMB: 8, EncryptionKey: key})
		if err != nil {
			t.Fatalf("open %s: %v", name, err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// marker is written in a context and looked for in the files on disk.
const marker = "plaintext-marker-7f3a9c"

func writeMarker(t *testing.T, s *sqlite.Store) *contextd.Context {
	t.Helper()
	cs, err := s.CreateContexts(context.Background(), contextd.Scope{Tenant: "acme"}, []contextd.ContextCreate{{
		Title: "title " + marker, Content: "content " + marker, Tags: []string{marker}, Metadata: map[string]any{"k": marker}}})
	if err != nil {
		t.Fatal(err)
	}
	return cs[0]
}

// storeFiles are the contents of every file of the store directory.
func storeFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	return files
}

func TestEncryptedFilesHoldNoPlaintext(t *testing.T) {
	for _, tc := range []struct {
		name      string
		key       []byte
		wantFound bool
	}{
		{"plaintext", nil, true}, // the test can fail: the marker is found in a plaintext store
		{"encrypted", newKey(t), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := sqlite.Open(context.Background(), dir, sqlite.Options{EncryptionKey: tc.key})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			writeMarker(t, s)
			st, err := s.IndexStats(context.Background(), contextd.Scope{Tenant: "acme"})
			if err != nil || st.IndexSizeBytes <= 0 {
				t.Errorf("IndexStats: %+v, %v; want a positive index size", st, err)
			}
			// While open: the commit is in the WAL.
			files := storeFiles(t, dir)
			if len(files[sqlite.FileName+"-wal"]) == 0 {
				t.Fatalf("no WAL on disk: %v", files)
			}
			found := false
			for name, b := range files {
				if bytes.Contains(b, []byte(marker)) {
					found = true
					if !tc.wantFound {
						t.Errorf("%s holds the marker in plaintext", name)
					}
				}
			}
			// After close: checkpointed into the database file.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			db, err := os.ReadFile(filepath.Join(dir, sqlite.FileName))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(db, []byte(marker)) {
				found = true
				if !tc.wantFound {
					t.Errorf("%s holds the marker in plaintext after close", sqlite.FileName)
				}
			}
			if found != tc.wantFound {
				t.Errorf("marker found = %v, want %v", found, tc.wantFound)
			}
			enc, err := sqlite.IsEncrypted(dir)
			if err != nil || enc != (tc.key != nil) {
				t.Errorf("IsEncrypted = %v, %v; want %v", enc, err, tc.key != nil)
			}
		})
	}
}

// A store opened with the wrong key, with a key while it is plaintext, or
// without one while it is encrypted, fails with a typed error, and the data
// is still there with the right key.
func TestKeyMismatch(t *testing.T) {
	ctx := context.Background()
	key, other := newKey(t), newKey(t)
	encDir, plainDir := t.TempDir(), t.TempDir()
	var ids []string
	for _, d := range []struct {
		dir string
		key []byte
	}{{encDir, key}, {plainDir, nil}} {
		s, err := sqlite.Open(ctx, d.dir, sqlite.Options{EncryptionKey: d.key})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, writeMarker(t, s).ID)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		dir  string
		key  []byte
		want error
	}{
		{"wrong key", encDir, other, sqlite.ErrWrongKey},
		{"no key", encDir, nil, sqlite.ErrEncrypted},
		{"key on plaintext", plainDir, key, sqlite.ErrNotEncrypted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := storeFiles(t, tc.dir)
			s, err := sqlite.Open(ctx, tc.dir, sqlite.Options{EncryptionKey: tc.key})
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			after := storeFiles(t, tc.dir)
			if !bytes.Equal(before[sqlite.FileName], after[sqlite.FileName]) {
				t.Error("the database file changed")
			}
		})
	}
	for i, d := range []struct {
		dir string
		key []byte
	}{{encDir, key}, {plainDir, nil}} {
		s, err := sqlite.Open(ctx, d.dir, sqlite.Options{EncryptionKey: d.key})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetContext(ctx, contextd.Scope{Tenant: "acme"}, ids[i]); err != nil {
			t.Errorf("%s: %v", d.dir, err)
		}
		s.Close()
	}
	for _, tc := range []struct {
		dir  string
		key  []byte
		want bool
	}{{encDir, key, true}, {encDir, other, false}, {encDir, nil, false}, {plainDir, nil, true}, {plainDir, key, false}} {
		if got := sqlite.KeyOpens(tc.dir, tc.key); got != tc.want {
			t.Errorf("KeyOpens(%s, key set %v) = %v", filepath.Base(tc.dir), tc.key != nil, got)
		}
	}
	if _, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{EncryptionKey: []byte("short")}); err == nil {
		t.Error("a short key was taken")
	}
}

// contextd check runs on an encrypted store as on a plaintext one.
func TestCheckEncrypted(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{EncryptionKey: newKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seedT(t, s, contextd.Scope{Tenant: "acme"}, 200)
	for _, full := range []bool{false, true} {
		rep, err := s.Check(ctx, contextd.CheckOptions{Full: full})
		if err != nil || !rep.OK {
			t.Fatalf("full=%v: %+v, %v", full, rep, err)
		}
	}
	st, err := s.Stats(ctx)
	if err != nil || st.SizeBytes <= 0 || st.IndexSizeBytes <= 0 {
		t.Errorf("Stats: %+v, %v", st, err)
	}
}
