package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/sqlite"
)

func TestCheckCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := contextd.ContextCreate{Title: "indexed", Content: "words"}
	if err := c.Normalize("body"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateContexts(ctx, contextd.Scope{Tenant: "t"}, []contextd.ContextCreate{c}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	env := map[string]string{"DATA_DIR": dir, "CONFIG_DIR": t.TempDir()}
	check := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := runCheck(ctx, args, func(k string) string { return env[k] }, &out, &errOut)
		return out.String(), err
	}

	out, err := check()
	if err != nil || !strings.Contains(out, "contexts_fts rows       1 rows, 1 indexed") || !strings.Contains(out, "integrity: ok (14 checks") ||
		!regexp.MustCompile(`ok +change log continuity +seq 1\.\.1, 1 changes`).MatchString(out) ||
		!strings.Contains(out, "have no vector (run contextd reindex)") || strings.Contains(out, "note:") {
		t.Fatalf("healthy store: %v\n%s", err, out)
	}
	out, err = check("--full", "--json")
	var rep contextd.CheckReport
	if err != nil || json.Unmarshal([]byte(out), &rep) != nil || !rep.OK || !rep.Full || len(rep.Items) != 19 {
		t.Fatalf("--full --json: %v\n%s", err, out)
	}

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO contexts (tenant, id, title, content, type, status, user_id, created_at, updated_at)
		VALUES ('t', 'ghost', 'not indexed', '', 'note', 'active', 'u', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, err = check()
	if err == nil || !strings.Contains(err.Error(), "integrity check failed: 2 of 14") || !strings.Contains(out, "FAIL  contexts_fts rows       1 rows of contexts are not indexed") {
		t.Fatalf("damaged store: %v\n%s", err, out)
	}
	if _, err := check("extra"); err == nil {
		t.Error("an argument was accepted")
	}
}
