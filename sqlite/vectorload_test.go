package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/contextd/contextd"
)

// TestLoadContextVectorsAsRows: the streamed loader gives the entries the
// former loader built from whole rows (scanContext and DecodeVector), in
// the same order, with the same vectors to the bit; the entries do not
// share memory with the next row's (the loader's buffer is rewritten).
func TestLoadContextVectorsAsRows(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir(), Options{TopKMinContexts: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := rand.New(rand.NewPCG(5, 6))
	var items []contextd.ContextCreate
	for i := range 700 {
		v := make([]float32, 24)
		for j := range v {
			v[j] = float32(r.NormFloat64())
		}
		it := contextd.ContextCreate{Title: "t", Content: "c", Vector: v, VectorModel: "m",
			Type: []string{"note", "task", "idea"}[i%3], UserID: fmt.Sprintf("u%d", i%4), SessionID: fmt.Sprintf("s%d", i%7),
			Tags: [][]string{nil, {"a"}, {"a", "b"}, {"ünï", "c"}}[i%4], Metadata: map[string]any{"k": i % 5, "s": fmt.Sprint("v", i%3), "b": i%2 == 0}}
		switch i {
		case 5:
			it.VectorModel = "other"
		case 6:
			it.Vector, it.VectorModel = nil, ""
		case 7:
			it.Metadata = nil
		}
		items = append(items, it)
	}
	if _, err := s.CreateContexts(ctx, contextd.Scope{Tenant: "a"}, items); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateContexts(ctx, contextd.Scope{Tenant: "b"}, items[:3]); err != nil {
		t.Fatal(err)
	}
	// The former loader: whole rows, a Context each, the vector decoded.
	var want []contextd.VectorEntry
	err = s.read(ctx, "rows", func(tx *conn) error {
		rows, err := tx.QueryContext(ctx, `SELECT c.pk, c.id, '', '', c.type, c.status, c.user_id, c.session_id,
				c.tags, c.metadata, c.created_at, c.updated_at, c.version, v.vec
				FROM contexts c JOIN vectors v ON v.kind = 'context' AND v.row_pk = c.pk
				WHERE c.tenant = ? AND v.model = ?`, "a", "m")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var blob []byte
			c, _, err := scanContext(withExtra{rows, []any{&blob}})
			if err != nil {
				return err
			}
			want = append(want, contextd.ContextVectorEntry(c, contextd.DecodeVector(blob)))
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []contextd.VectorEntry
	err = s.loadVectors(ctx, "a", contextd.VectorContext, "m", func(e contextd.VectorEntry) {
		// Kept past the call: copied, as the index copies what it keeps.
		e.ID, e.Type, e.Status = clone(e.ID), clone(e.Type), clone(e.Status)
		e.UserID, e.SessionID = clone(e.UserID), clone(e.SessionID)
		e.Vector = slices.Clone(e.Vector)
		tags := make([]string, len(e.Tags))
		for i, tg := range e.Tags {
			tags[i] = clone(tg)
		}
		e.Tags = tags
		meta := map[string]any{}
		for k, v := range e.Metadata {
			if str, ok := v.(string); ok {
				v = clone(str)
			}
			meta[clone(k)] = v
		}
		e.Metadata = meta
		got = append(got, e)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 698 || len(got) != len(want) {
		t.Fatalf("loaded %d entries, the rows give %d (want 698)", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("entry %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	// The index loaded this way filters on the rows' own strings (it kept
	// copies, not views of the loader's buffer): every filter finds
	// exactly the rows that match it.
	s.UseVectorModel("m")
	for _, f := range []contextd.SearchFilters{
		{Types: []string{"task"}}, {Tags: []string{"ünï"}}, {Tags: []string{"a", "b"}}, {UserID: "u2", SessionID: "s3"},
		{Metadata: map[string]any{"s": "v1"}}, {Metadata: map[string]any{"k": 3, "b": true}},
	} {
		match := 0
		for _, e := range want {
			ok := (f.Types == nil || e.Type == f.Types[0]) && (f.UserID == "" || e.UserID == f.UserID) &&
				(f.SessionID == "" || e.SessionID == f.SessionID)
			for _, tg := range f.Tags {
				ok = ok && slices.Contains(e.Tags, tg)
			}
			for k, v := range f.Metadata {
				ok = ok && fmt.Sprint(e.Metadata[k]) == fmt.Sprint(v)
			}
			if ok {
				match++
			}
		}
		hits, total, err := s.NearestVectors(ctx, contextd.VectorContext, want[0].Vector,
			contextd.VectorFilter{Scope: contextd.Scope{Tenant: "a"}, Contexts: &f}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if match == 0 || total != match || len(hits) != match {
			t.Fatalf("filter %+v: %d hits of %d passing, want %d (> 0)", f, len(hits), total, match)
		}
	}
}

func clone(s string) string { return string([]byte(s)) }
