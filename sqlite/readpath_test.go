package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/sqlite"
)

// TestReadersMapTheFile: plaintext read connections read pages through a
// memory map of the file (no copy into each connection's page cache).
func TestReadersMapTheFile(t *testing.T) {
	s := openAt(t, t.TempDir())
	v, err := sqlite.ReaderPragma(s, "mmap_size")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := strconv.ParseInt(v, 10, 64); n < 1<<20 {
		t.Fatalf("readers' mmap_size = %s, want the file mapped", v)
	}
	if w, _ := sqlite.WriterPragma(s, "mmap_size"); w != "0" {
		t.Fatalf("the writer's mmap_size = %s, want 0 (writes through write(2) only)", w)
	}
}

// TestGetContextEdgesMatchesLists: the one-statement get gives a context
// the same fields and edges (both directions, oldest first, within the
// scope's walls) as the list, which loads edges the general way.
func TestGetContextEdgesMatchesLists(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, t.TempDir())
	r := rand.New(rand.NewPCG(3, 4))
	types := []string{contextd.RelFollows, contextd.RelInfluences, contextd.RelContains}
	users := []string{"u1", "u2"}
	var items []contextd.ContextCreate
	for i := range 40 {
		it := contextd.ContextCreate{ID: fmt.Sprintf("c%02d", i), Title: "t", Content: "x",
			UserID: users[r.IntN(2)], Tags: []string{"a"}, Metadata: map[string]any{"i": i}}
		for j := range r.IntN(4) {
			if i == 0 {
				break
			}
			// Edges to earlier contexts only: CONTAINS stays acyclic.
			tgt := fmt.Sprintf("c%02d", r.IntN(i))
			dup := false
			for _, e := range it.Relationships {
				dup = dup || e.TargetID == tgt
			}
			if !dup {
				it.Relationships = append(it.Relationships, contextd.RelationshipCreate{Type: types[(i+j)%3], TargetID: tgt,
					Properties: map[string]any{"w": j}})
			}
		}
		items = append(items, it)
	}
	if _, err := s.CreateContexts(ctx, contextd.Scope{Tenant: "t"}, items); err != nil {
		t.Fatal(err)
	}
	for _, sc := range []contextd.Scope{{Tenant: "t"}, {Tenant: "t", UserID: "u1"}, {Tenant: "t", UserID: "u2"}} {
		listed := map[string]*contextd.Context{}
		cursor := ""
		for {
			page, next, err := s.FindContexts(ctx, sc, contextd.ContextFilter{Limit: contextd.MaxListLimit, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page {
				listed[c.ID] = c
			}
			if next == "" {
				break
			}
			cursor = next
		}
		edges := 0
		for _, it := range items {
			got, err := s.GetContext(ctx, sc, it.ID)
			want := listed[it.ID]
			if want == nil {
				if contextd.ErrorCode(err) != contextd.ENOTFOUND {
					t.Errorf("%+v %s: not listed, but get gave %v", sc, it.ID, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%+v %s: %v", sc, it.ID, err)
			}
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			if string(g) != string(w) {
				t.Errorf("%+v %s:\n get  %s\n list %s", sc, it.ID, g, w)
			}
			edges += len(got.Relationships)
		}
		if edges == 0 {
			t.Errorf("%+v: no edges were compared", sc)
		}
	}
	if _, err := s.GetContext(ctx, contextd.Scope{Tenant: "other"}, "c01"); contextd.ErrorCode(err) != contextd.ENOTFOUND {
		t.Errorf("another tenant's get: %v, want not_found", err)
	}
}
