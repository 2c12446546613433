package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupEndToEnd backs up a running server over HTTP, checks that a
// restore refuses the store while the server runs, then restores it after
// the server stopped; the server also logs to LOG_FILE.
func TestBackupEndToEnd(t *testing.T) {
	dir, bdir := t.TempDir(), t.TempDir()
	logFile := filepath.Join(t.TempDir(), "logs", "contextd.log")
	tpl, err := filepath.Abs("../../templates/testdata")
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, dir, "BACKUP_DIRECTORY="+bdir, "LOG_FILE="+logFile, "TEMPLATES_DIRECTORY="+tpl)
	admin := s.key
	if r := s.must(200, "GET", "/v1/templates", admin, nil); len(r.body["items"].([]any)) != 1 {
		t.Errorf("templates: %s", r.raw)
	}
	if r := s.do("POST", "/v1/contexts", admin, map[string]any{"title": "d", "type": "decision", "metadata": map[string]any{"priority": 0}}); r.status/100 != 4 || !strings.Contains(r.raw, "body.metadata.priority") {
		t.Errorf("a decision with a bad priority: %d %s", r.status, r.raw)
	}
	id := s.must(201, "POST", "/v1/contexts", admin, map[string]any{"title": "kept"}).body["id"].(string)
	b := s.must(201, "POST", "/v1/admin/backups", admin, nil)
	path, _ := b.body["path"].(string)
	if !strings.HasPrefix(path, bdir) || b.body["seq"] == nil || b.body["counts"] == nil {
		t.Fatalf("backup: %s", b.raw)
	}
	if l := s.must(200, "GET", "/v1/admin/backups", admin, nil); len(l.body["items"].([]any)) != 1 {
		t.Fatalf("list: %s", l.raw)
	}
	s.must(204, "DELETE", "/v1/contexts/"+id, admin, nil)
	if h := s.must(200, "GET", "/v1/contexts/"+id+"/history", admin, nil); len(h.body["items"].([]any)) != 2 {
		t.Errorf("history: %s", h.raw)
	}

	// While the server runs, the store is in use.
	cmd := exec.Command(binary, "restore", path)
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "APP_ENV=test", "DATA_DIR=" + dir}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use") {
		t.Fatalf("restore beside a running server: %v %s", err, out)
	}
	s.stop()
	if _, errOut, err := cli(t, dir, nil, "restore", path); err != nil {
		t.Fatalf("restore: %v %s", err, errOut)
	}
	s2 := start(t, dir)
	if r := s2.must(200, "GET", "/v1/contexts/"+id, admin, nil); r.body["title"] != "kept" {
		t.Errorf("after restore: %s", r.raw)
	}
	s2.stop()
	var logged []byte
	logged, err = os.ReadFile(logFile)
	if err != nil || !strings.Contains(string(logged), "contextd listening") {
		t.Errorf("LOG_FILE: %v %q", err, logged)
	}
}
