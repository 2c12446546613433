package templates_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/templates"
)

func TestLoad(t *testing.T) {
	s, err := templates.Load("testdata")
	if err != nil {
		t.Fatal(err)
	}
	d := s.Get("decision")
	if d == nil || d.DefaultStatus != "draft" || len(d.DefaultTags) != 1 {
		t.Fatalf("decision template: %+v", d)
	}
	if err := s.CheckMetadata("decision", map[string]any{"priority": 3.0}, "m"); err != nil {
		t.Errorf("valid metadata: %v", err)
	}
	err = s.CheckMetadata("decision", map[string]any{"priority": 3.5}, "m")
	if contextd.ErrorCode(err) != contextd.EINVALID || contextd.ErrorFields(err)[0].Location != "m.priority" {
		t.Errorf("3.5 for an integer: %v", err)
	}
	if err := s.CheckMetadata("note", map[string]any{"anything": true}, "m"); err != nil {
		t.Errorf("a type without template: %v", err)
	}
	// A missing directory is no templates; a bad file is an error naming it.
	if s, err := templates.Load(filepath.Join(t.TempDir(), "none")); err != nil || len(s.List()) != 0 {
		t.Errorf("missing dir: %v %v", s, err)
	}
	for name, body := range map[string]string{
		"bad.json":   `{"metadataSchema": {"type": "nope"}}`,
		"BAD.json":   `{}`,
		"x.json":     `{"defaultStatus": "sleeping"}`,
		"junk.json":  `{"unknown": 1}`,
		"trunc.json": `{"type": "x"`,
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600)
		if _, err := templates.Load(dir); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s %s: %v, want an error naming the file", name, body, err)
		}
	}
}
