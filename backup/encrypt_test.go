package backup_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/atrest"
	"github.com/contextd/contextd/backup"
)

func randKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, atrest.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// TestEncryptedBackup: with a cipher the backup's files hold no plaintext,
// verify, restore and point-in-time restore read them with the key (or a
// previous one after rotation), and fail clearly without it.
func TestEncryptedBackup(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	src := openSQLite(t, t.TempDir(), clk.Now)
	svc := contextd.NewService(src)
	svc.Now = clk.Now
	const marker = "backup-marker-5d1e"
	create(t, svc, contextd.ContextCreate{ID: "a", Title: "alpha " + marker, Content: marker})
	clk.tick()
	keys := &atrest.Keys{Current: randKey(t)}
	bdir := t.TempDir()
	mgr, err := backup.New(backup.Options{Dir: bdir, Store: src, Now: clk.Now, Cipher: keys})
	if err != nil {
		t.Fatal(err)
	}
	b1, err := mgr.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clk.tick()
	create(t, svc, contextd.ContextCreate{ID: "b", Title: "beta " + marker})
	between := clk.tick()
	clk.tick()
	create(t, svc, contextd.ContextCreate{ID: "c", Title: "gamma"})
	clk.tick()
	b2, err := mgr.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []*contextd.BackupManifest{b1, b2} {
		for _, name := range []string{backup.DataFile, backup.ChangesFile} {
			data, err := os.ReadFile(filepath.Join(b.Path, name))
			if err != nil {
				t.Fatal(err)
			}
			if !atrest.IsEncrypted(data) || bytes.Contains(data, []byte(marker)) {
				t.Errorf("%s/%s is not encrypted", filepath.Base(b.Path), name)
			}
		}
	}
	if _, err := backup.Verify(b1.Path, keys); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if _, err := backup.Verify(b1.Path, &atrest.Keys{}); !errors.Is(err, atrest.ErrNoKey) {
		t.Errorf("Verify without a key: %v", err)
	}
	if _, err := backup.Verify(b1.Path, nil); err == nil || !strings.Contains(err.Error(), "encrypted") {
		t.Errorf("Verify without a cipher: %v", err)
	}
	if _, err := backup.Verify(b1.Path, &atrest.Keys{Current: randKey(t)}); !errors.Is(err, atrest.ErrWrongKey) {
		t.Errorf("Verify with another key: %v", err)
	}
	// After a rotation the old key is a previous one.
	rotated := &atrest.Keys{Current: randKey(t), Previous: [][]byte{keys.Current}}
	dst := openSQLite(t, t.TempDir(), clk.Now)
	later, err := backup.Later(bdir, b1, rotated)
	if err != nil {
		t.Fatal(err)
	}
	res, err := backup.Restore(ctx, b1.Path, dst, backup.RestoreOptions{ToTime: between, Sources: later, Cipher: rotated})
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if res.Replayed == 0 {
		t.Error("nothing replayed from the later encrypted backup")
	}
	for _, id := range []string{"a", "b"} {
		if _, err := dst.GetContext(ctx, contextd.Scope{Tenant: "acme"}, id); err != nil {
			t.Errorf("restored %s: %v", id, err)
		}
	}
	if _, err := dst.GetContext(ctx, contextd.Scope{Tenant: "acme"}, "c"); contextd.ErrorCode(err) != contextd.ENOTFOUND {
		t.Errorf("c, written after the moment: %v", err)
	}
	// A plaintext backup still reads with keys set.
	plainMgr, err := backup.New(backup.Options{Dir: t.TempDir(), Store: src, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := plainMgr.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Verify(pb.Path, keys); err != nil {
		t.Errorf("Verify of a plaintext backup with keys: %v", err)
	}
}
