package main_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func hexKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// grepTree reports the files under dir whose bytes contain marker.
func grepTree(t *testing.T, dir, marker string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(marker)) {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// oneLineNaming checks that a command failed with one line naming setting.
func oneLineNaming(t *testing.T, what, errOut string, err error, setting, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if err == nil || len(lines) != 1 || !strings.Contains(lines[0], setting) || !strings.Contains(lines[0], want) {
		t.Errorf("%s: err %v, stderr %q; want one line naming %s (%q)", what, err, errOut, setting, want)
	}
}

// TestEncryptionAtRest: a server with ENCRYPTION_KEY keeps no plaintext in
// its store or backups; the wrong key, no key, or a key on a plaintext store
// stop it with one line naming the setting; exports are encrypted and import
// reads them; rekey rotates the key and old backups stay readable through
// ENCRYPTION_PREVIOUS_KEYS; a plaintext store is encrypted by rekey.
func TestEncryptionAtRest(t *testing.T) {
	const marker = "e2e-secret-marker-41c7"
	k1, k2 := hexKey(t), hexKey(t)
	dir, bdir := t.TempDir(), t.TempDir()
	env1 := []string{"ENCRYPTION_KEY=" + k1, "BACKUP_DIRECTORY=" + bdir}

	s := start(t, dir, env1...)
	admin := s.key
	id := s.must(201, "POST", "/v1/contexts", admin, map[string]any{"title": "t " + marker, "content": marker, "tags": []string{marker}}).body["id"].(string)
	if r := s.must(200, "GET", "/v1/search?q="+marker, admin, nil); len(r.body["results"].([]any)) != 1 {
		t.Errorf("search on the encrypted store: %s", r.raw)
	}
	b1 := s.must(201, "POST", "/v1/admin/backups", admin, nil).body["path"].(string)
	if f := grepTree(t, dir, marker); len(f) > 0 {
		t.Errorf("plaintext in the running store's files: %v", f)
	}
	s.stop()
	if f := grepTree(t, dir, marker); len(f) > 0 {
		t.Errorf("plaintext in the store's files: %v", f)
	}
	if f := grepTree(t, bdir, marker); len(f) > 0 {
		t.Errorf("plaintext in the backup: %v", f)
	}

	// Mismatched keys stop every command that opens the store.
	_, errOut, err := cli(t, dir, nil, "keys", "list")
	oneLineNaming(t, "no key", errOut, err, "ENCRYPTION_KEY", "is encrypted")
	_, errOut, err = cli(t, dir, []string{"ENCRYPTION_KEY=" + k2}, "keys", "list")
	oneLineNaming(t, "wrong key", errOut, err, "ENCRYPTION_KEY", "another key")
	_, errOut, err = cli(t, dir, []string{"ENCRYPTION_KEY=" + k2, "ENCRYPTION_PREVIOUS_KEYS=" + hexKey(t) + "," + k1}, "keys", "list")
	oneLineNaming(t, "rotation configured, rekey not run", errOut, err, "ENCRYPTION_KEY", "key 2 of ENCRYPTION_PREVIOUS_KEYS")
	_, errOut, err = cli(t, dir, []string{"ENCRYPTION_KEY=abc"}, "keys", "list")
	oneLineNaming(t, "short key", errOut, err, "ENCRYPTION_KEY", "64 hex digits")
	if strings.Contains(errOut, k2) {
		t.Error("an error repeats the key")
	}
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(k1+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := cli(t, dir, []string{"ENCRYPTION_KEY_FILE=" + keyFile}, "keys", "list"); err != nil {
		t.Errorf("ENCRYPTION_KEY_FILE: %v %s %s", err, out, errOut)
	}

	// Backups: verify needs the key.
	_, errOut, err = cli(t, dir, nil, "backup", "verify", b1)
	oneLineNaming(t, "verify without key", errOut, err, "ENCRYPTION_KEY", "encrypted")
	if out, errOut, err := cli(t, dir, env1, "backup", "verify", b1); err != nil || !strings.HasPrefix(out, "ok") {
		t.Errorf("verify: %v %s %s", err, out, errOut)
	}

	// Exports: encrypted with the key, read back by import, plaintext on request.
	exp := filepath.Join(t.TempDir(), "export.ndjson")
	if _, errOut, err := cli(t, dir, env1, "export", "--out", exp); err != nil {
		t.Fatalf("export: %v %s", err, errOut)
	}
	if b, _ := os.ReadFile(exp); !bytes.HasPrefix(b, []byte("age-encryption.org/v1")) || bytes.Contains(b, []byte(marker)) {
		t.Errorf("the export is not encrypted: %.60q", b)
	}
	dir2 := t.TempDir()
	_, errOut, err = cli(t, dir2, nil, "import", exp)
	oneLineNaming(t, "import without key", errOut, err, "ENCRYPTION_KEY", "encrypted")
	if out, errOut, err := cli(t, dir2, []string{"ENCRYPTION_KEY=" + k1}, "import", exp); err != nil {
		t.Fatalf("import: %v %s %s", err, out, errOut)
	}
	if out, errOut, err := cli(t, dir2, []string{"ENCRYPTION_KEY=" + k1}, "export", "--plaintext"); err != nil || !strings.Contains(out, marker) {
		t.Errorf("export --plaintext of the imported store: %v %s %.200s", err, errOut, out)
	}
	if out, errOut, err := cli(t, dir2, []string{"ENCRYPTION_KEY=" + k1}, "decrypt", exp); err != nil || !strings.HasPrefix(out, `{"format":"contextd-export"`) || !strings.Contains(out, marker) {
		t.Errorf("decrypt of the export: %v %s %.200s", err, errOut, out)
	}
	_, errOut, err = cli(t, dir2, []string{"ENCRYPTION_KEY=" + k2}, "decrypt", exp)
	oneLineNaming(t, "decrypt with another key", errOut, err, "ENCRYPTION_KEY", "ENCRYPTION_PREVIOUS_KEYS")

	// Rotation: k1 -> k2; the old backup reads with k1 among the previous keys.
	newKeyFile := filepath.Join(t.TempDir(), "new-key")
	if err := os.WriteFile(newKeyFile, []byte(k2), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := cli(t, dir, env1, "rekey", "--new-key-file", newKeyFile); err != nil || !strings.Contains(errOut, "ENCRYPTION_PREVIOUS_KEYS") {
		t.Fatalf("rekey: %v %s %s", err, out, errOut)
	}
	_, errOut, err = cli(t, dir, env1, "keys", "list")
	oneLineNaming(t, "old key after rekey", errOut, err, "ENCRYPTION_KEY", "another key")
	env2 := []string{"ENCRYPTION_KEY=" + k2, "ENCRYPTION_PREVIOUS_KEYS=" + k1, "BACKUP_DIRECTORY=" + bdir}
	s = start(t, dir, env2...)
	if r := s.must(200, "GET", "/v1/contexts/"+id, admin, nil); !strings.Contains(r.raw, marker) {
		t.Errorf("after rekey: %s", r.raw)
	}
	s.stop()
	if out, errOut, err := cli(t, dir, env2, "backup", "verify", b1); err != nil || !strings.HasPrefix(out, "ok") {
		t.Errorf("verify of an old backup after rotation: %v %s %s", err, out, errOut)
	}
	_, errOut, err = cli(t, dir, []string{"ENCRYPTION_KEY=" + k2}, "backup", "verify", b1)
	oneLineNaming(t, "old backup without the previous key", errOut, err, "ENCRYPTION_KEY", "ENCRYPTION_PREVIOUS_KEYS")
	if out, errOut, err := cli(t, dir, env2, "restore", b1); err != nil {
		t.Fatalf("restore of an old backup after rotation: %v %s %s", err, out, errOut)
	}
	s = start(t, dir, env2...)
	s.must(200, "GET", "/v1/contexts/"+id, admin, nil)
	s.stop()
	if f := grepTree(t, dir, marker); len(f) > 0 {
		t.Errorf("plaintext in the restored store: %v", f)
	}

	// A plaintext store: a key stops it; rekey encrypts it.
	plain := t.TempDir()
	s = start(t, plain)
	s.must(201, "POST", "/v1/contexts", s.key, map[string]any{"title": marker})
	s.stop()
	_, errOut, err = cli(t, plain, []string{"ENCRYPTION_KEY=" + k1}, "keys", "list")
	oneLineNaming(t, "key on a plaintext store", errOut, err, "ENCRYPTION_KEY", "not encrypted")
	if out, errOut, err := cli(t, plain, []string{"ENCRYPTION_NEW_KEY=" + k1}, "rekey"); err != nil {
		t.Fatalf("rekey of a plaintext store: %v %s %s", err, out, errOut)
	}
	if f := grepTree(t, plain, marker); len(f) > 0 {
		t.Errorf("plaintext left after rekey: %v", f)
	}
	if out, errOut, err := cli(t, plain, []string{"ENCRYPTION_KEY=" + k1}, "export", "--plaintext"); err != nil || !strings.Contains(out, marker) {
		t.Errorf("export after encrypting: %v %s", err, errOut)
	}
	if out, errOut, err := cli(t, plain, []string{"ENCRYPTION_KEY=" + k1}, "rekey", "--decrypt"); err != nil {
		t.Fatalf("rekey --decrypt: %v %s %s", err, out, errOut)
	}
	if out, errOut, err := cli(t, plain, nil, "keys", "list"); err != nil {
		t.Errorf("the decrypted store: %v %s %s", err, out, errOut)
	}
	if _, _, err := cli(t, plain, nil, "rekey", "--help"); err == nil {
		t.Error("rekey --help should exit 2")
	}
}

// TestCrashSafetyEncrypted is TestCrashSafety on an encrypted store.
func TestCrashSafetyEncrypted(t *testing.T) {
	crashSafety(t, []string{"ENCRYPTION_KEY=" + hexKey(t)})
}
