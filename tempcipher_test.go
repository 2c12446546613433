package contextd_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/sqlite"
)

// TestSnapshotSpillFilesEncrypted: while a snapshot runs, its temporary
// files are complete on disk and hold none of the data in plaintext; the
// snapshot still reads every record back.
func TestSnapshotSpillFilesEncrypted(t *testing.T) {
	const marker = "spill-marker-93b2"
	ctx := context.Background()
	s, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sc := contextd.Scope{Tenant: "acme"}
	cs, err := s.CreateContexts(ctx, sc, []contextd.ContextCreate{{ID: "a", Title: marker, Content: marker}, {ID: "b", Title: "b " + marker,
		Relationships: []contextd.RelationshipCreate{{TargetID: "a", Type: contextd.RelRelatesTo}}}})
	if err != nil || len(cs) != 2 {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	var spilled int64
	var got []string
	_, err = contextd.Snapshot(ctx, s, "", tmp, func(int64) error {
		ents, err := os.ReadDir(tmp)
		if err != nil {
			return err
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(tmp, e.Name()))
			if err != nil {
				return err
			}
			spilled += int64(len(b))
			if bytes.Contains(b, []byte(marker)) || bytes.Contains(b, []byte(contextd.ExportFormat)) {
				t.Errorf("%s holds plaintext", e.Name())
			}
		}
		return nil
	}, func(rec *contextd.Record) error {
		got = append(got, rec.Kind)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if spilled == 0 {
		t.Error("no spill file seen: the test looked at nothing")
	}
	if len(got) != 3 { // two contexts, one relationship
		t.Errorf("records %v", got)
	}
}
