package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/backup"
)

// cli runs one command with DATA_DIR and BACKUP_DIRECTORY set.
func cli(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return ""
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, getenv, &stdout, &stderr)
	if err != nil {
		t.Logf("contextd %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), err
}

func TestBackupRestoreCommands(t *testing.T) {
	root := t.TempDir()
	data, bdir := filepath.Join(root, "data"), filepath.Join(root, "backups")
	env := map[string]string{"APP_ENV": "test", "DATA_DIR": data, "BACKUP_DIRECTORY": bdir, "LOG_LEVEL": "error"}
	ctx := context.Background()

	s := openSQLite(t, data)
	seedStore(t, s)
	atBackup := dump(t, s)
	s.Close()

	out, err := cli(t, env, "backup")
	if err != nil {
		t.Fatal(err)
	}
	path := strings.TrimSpace(out)
	if !strings.HasPrefix(path, bdir) {
		t.Fatalf("backup printed %q, want a path in %s", path, bdir)
	}
	if out, err := cli(t, env, "backup", "verify", path); err != nil || !strings.HasPrefix(out, "ok") {
		t.Fatalf("verify: %q, %v", out, err)
	}
	// Into a DATA_DIR that holds no store yet (a new machine).
	fresh := filepath.Join(root, "fresh")
	if _, err := cli(t, map[string]string{"APP_ENV": "test", "DATA_DIR": fresh, "LOG_LEVEL": "error"}, "restore", path); err != nil {
		t.Fatalf("restore into an empty DATA_DIR: %v", err)
	}
	fs := openSQLite(t, fresh)
	if got := dump(t, fs); !slices.Equal(got, atBackup) {
		t.Errorf("restore into an empty DATA_DIR: the data differs from the backup\n got %v\nwant %v", got, atBackup)
	}
	fs.Close()

	// Write more: one write, a moment, another write, then delete.
	time.Sleep(20 * time.Millisecond)
	s = openSQLite(t, data)
	sc := contextd.Scope{Tenant: "acme"}
	t1 := "first edit"
	if _, err := s.UpdateContext(ctx, sc, "b", contextd.ContextUpdate{Title: &t1}); err != nil {
		t.Fatal(err)
	}
	afterFirst := dump(t, s)
	time.Sleep(20 * time.Millisecond)
	between := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	t2 := "second edit"
	if _, err := s.UpdateContext(ctx, sc, "b", contextd.ContextUpdate{Title: &t2}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteContext(ctx, sc, "c"); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// A store in use is not replaced.
	release, err := backup.LockDir(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli(t, env, "restore", path); contextd.ErrorCode(err) != contextd.EUNAVAILABLE {
		t.Errorf("restore while the store is in use: %v, want unavailable", err)
	}
	release()

	// Point in time: between the two writes (the backup and the old store's log).
	if _, err := cli(t, env, "restore", bdir, "--to-time", between.Format(time.RFC3339Nano)); err != nil {
		t.Fatal(err)
	}
	s = openSQLite(t, data)
	if got := dump(t, s); !slices.Equal(got, afterFirst) {
		t.Errorf("restore --to-time: the data differs from the state between the writes\n got %v\nwant %v", got, afterFirst)
	}
	s.Close()
	// The backup as it is.
	if _, err := cli(t, env, "restore", path); err != nil {
		t.Fatal(err)
	}
	s = openSQLite(t, data)
	if got := dump(t, s); !slices.Equal(got, atBackup) {
		t.Errorf("restore: the data differs from the backup's")
	}
	s.Close()

	// A flipped byte: verify fails with the reason.
	gz := filepath.Join(path, backup.DataFile)
	b, _ := os.ReadFile(gz)
	b[len(b)/3] ^= 0x10
	os.WriteFile(gz, b, 0o600)
	if _, err := cli(t, env, "backup", "verify", path); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("verify of a damaged backup: %v", err)
	}
}

func TestExportImportCommands(t *testing.T) {
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	s := openSQLite(t, a)
	seedStore(t, s)
	want := dump(t, s)
	s.Close()
	envA := map[string]string{"APP_ENV": "test", "DATA_DIR": a, "LOG_LEVEL": "error"}
	envB := map[string]string{"APP_ENV": "test", "DATA_DIR": b, "LOG_LEVEL": "error"}
	file := filepath.Join(root, "export.ndjson")
	if _, err := cli(t, envA, "export", "--out", file); err != nil {
		t.Fatal(err)
	}
	out, err := cli(t, envB, "import", file)
	if err != nil {
		t.Fatal(err)
	}
	var res contextd.ImportResult
	json.Unmarshal([]byte(out), &res)
	if res.Imported == 0 || res.Skipped != 0 {
		t.Errorf("first import: %s", out)
	}
	// The import gave the imported rows vectors: nothing is left to reindex.
	if out, err := cli(t, envB, "reindex"); err != nil || !strings.Contains(out, "reindexed 0 contexts and 0 memories") {
		t.Errorf("reindex after import: %q %v, want nothing to do", out, err)
	}
	out, err = cli(t, envB, "import", file)
	if err != nil {
		t.Fatal(err)
	}
	var again contextd.ImportResult
	json.Unmarshal([]byte(out), &again)
	if again.Skipped != res.Imported || again.Imported != 0 {
		t.Errorf("second import: %s, want everything skipped (%d)", out, res.Imported)
	}
	s = openSQLite(t, b)
	if got := dump(t, s); !slices.Equal(got, want) {
		t.Errorf("export + import: the data differs\n got %v\nwant %v", got, want)
	}
	s.Close()

	// One tenant, into another tenant.
	one := filepath.Join(root, "acme.ndjson")
	if _, err := cli(t, envA, "export", "--tenant", "acme", "--out", one); err != nil {
		t.Fatal(err)
	}
	if out, err := cli(t, envB, "import", "--tenant", "copy", one); err != nil || !strings.Contains(out, `"imported":`) {
		t.Fatalf("import --tenant: %s %v", out, err)
	}

	// Graph formats.
	gml, err := cli(t, envA, "export", "--format", "graphml")
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(strings.NewReader(gml))
	nodes, edges := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("GraphML is not well-formed: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "node":
				nodes++
			case "edge":
				edges++
			}
		}
	}
	if nodes != 6 || edges != 4 {
		t.Errorf("GraphML: %d nodes, %d edges; want 6 and 4", nodes, edges)
	}
	cy, err := cli(t, envA, "export", "--format", "cypher", "--tenant", "acme")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(cy, "CREATE (:Context"); n != 3 {
		t.Errorf("cypher: %d contexts, want 3:\n%s", n, cy)
	}
	if !strings.Contains(cy, `CREATE (a)-[:CONTAINS {id: "c-a"`) || !strings.Contains(cy, "-[:CUSTOM_EDGE") {
		t.Errorf("cypher: edges missing:\n%s", cy)
	}
	// The reference MCP memory format still imports.
	mem := filepath.Join(root, "memory.jsonl")
	os.WriteFile(mem, []byte(`{"type":"entity","name":"Ada","entityType":"person","observations":["likes tea"]}`+"\n"), 0o600)
	if out, err := cli(t, envB, "import", "--tenant", "mcp", mem); err != nil || !strings.Contains(out, "1") {
		t.Errorf("import of a memory.jsonl: %s %v", out, err)
	}
}
