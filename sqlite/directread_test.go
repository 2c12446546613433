package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql/driver"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/contextd/contextd"
)

// readRows reads every row of query as strings and ints through each
// column reader, the way read says per column ('s' string, 'i' int), with
// the error of each column as a value too, so that failures compare.
func readRows(t *testing.T, read string, run func(each func(rowReader) error) error) []string {
	t.Helper()
	var out []string
	err := run(func(row rowReader) error {
		var sb strings.Builder
		for i, k := range read {
			var (
				v   any
				err error
			)
			if k == 's' {
				v, err = row.str(i)
			} else {
				v, err = row.int(i)
			}
			fmt.Fprintf(&sb, "%d=%#v/%v;", i, v, err)
		}
		out = append(out, sb.String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestQueryDirectReadsAsTheDriver: a statement read on the C API gives the
// values (and conversion errors) the driver's rows give, column by column,
// for every storage class; and the reader connections of a plaintext store
// do take the C API.
func TestQueryDirectReadsAsTheDriver(t *testing.T) {
	ctx := context.Background()
	s := openDirect(t)
	c, err := s.readers.take(ctx, s.closed)
	if err != nil {
		t.Fatal(err)
	}
	defer s.readers.put(c)
	const q = `SELECT ?1, ?2, 42, -7, 3.5, NULL, x'00ff41', '12', 'x12', '', ?2 || ?1, 1e300, 9223372036854775807`
	for _, args := range [][2]string{{"a", "b"}, {"", ""}, {"ünïcødé \x00 nul", strings.Repeat("long ", 1000)}} {
		named := []driver.NamedValue{{Ordinal: 1, Value: args[0]}, {Ordinal: 2, Value: args[1]}}
		plain := args[:]
		for _, read := range []string{"sssssssssssss", "iiiiiiiiiiiii"} {
			direct := readRows(t, read, func(each func(rowReader) error) error { return c.queryDirect(q, plain, false, each) })
			raw := readRows(t, read, func(each func(rowReader) error) error {
				return c.queryRaw(ctx, q, named, func(row []driver.Value) error { return each(valueRow(row)) })
			})
			if !reflect.DeepEqual(direct, raw) {
				t.Fatalf("args %q, read %s:\ndirect %v\nraw    %v", args, read, direct, raw)
			}
		}
	}
	if c.direct.off || c.direct.tls == nil || len(c.direct.stmts) != 1 {
		t.Fatalf("the reader did not take the C API: off %v, %d statements", c.direct.off, len(c.direct.stmts))
	}
	// A statement that does not prepare is left to the driver, which reports it.
	err = c.queryRows(ctx, "SELECT nope FROM nowhere", nil, func(rowReader) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Fatalf("a bad statement: %v", err)
	}
}

// TestGetContextDirectMatchesRaw: the get reads the same context (fields,
// edges in order) on the C API as through the driver, over many contexts
// with and without a user scope, unknown ids and other tenants included.
func TestGetContextDirectMatchesRaw(t *testing.T) {
	ctx := context.Background()
	s := openDirect(t)
	sc := contextd.Scope{Tenant: "t"}
	var items []contextd.ContextCreate
	for i := range 120 {
		it := contextd.ContextCreate{ID: fmt.Sprintf("c%03d", i), Title: fmt.Sprintf("tïtle %d \"q\"", i),
			Content: strings.Repeat("content ", i), Type: "note", UserID: []string{"", "u1", "u2"}[i%3],
			SessionID: []string{"", "s1"}[i%2], Tags: []string{"a", fmt.Sprint(i % 5)}[:i%3],
			Metadata: map[string]any{"i": i, "f": float64(i) / 3, "nested": map[string]any{"k": []any{1, "x", nil}}}}
		if i > 0 {
			it.Relationships = []contextd.RelationshipCreate{{Type: contextd.RelFollows, TargetID: fmt.Sprintf("c%03d", i-1),
				Properties: map[string]any{"w": i}}}
		}
		if i > 10 && i%4 == 0 {
			it.Relationships = append(it.Relationships, contextd.RelationshipCreate{Type: contextd.RelInfluences, TargetID: fmt.Sprintf("c%03d", i/2)})
		}
		items = append(items, it)
	}
	if _, err := s.CreateContexts(ctx, sc, items); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateContexts(ctx, contextd.Scope{Tenant: "other"}, []contextd.ContextCreate{{ID: "c000", Title: "x", Content: "y", Type: "note"}}); err != nil {
		t.Fatal(err)
	}
	c, err := s.readers.take(ctx, s.closed)
	if err != nil {
		t.Fatal(err)
	}
	defer s.readers.put(c)
	read := func(direct bool, sc contextd.Scope, id string) (*contextd.Context, error) {
		c.direct.off = !direct
		defer func() { c.direct.off = false }()
		return getContextEdges(ctx, c, sc, id)
	}
	n := 0
	for _, scope := range []contextd.Scope{sc, {Tenant: "t", UserID: "u1"}, {Tenant: "t", UserID: "u2"}, {Tenant: "other"}, {Tenant: "nobody"}} {
		for i := range 125 {
			id := fmt.Sprintf("c%03d", i)
			a, errA := read(true, scope, id)
			b, errB := read(false, scope, id)
			if fmt.Sprint(errA) != fmt.Sprint(errB) || !reflect.DeepEqual(a, b) {
				t.Fatalf("%+v %s:\ndirect %+v %v\nraw    %+v %v", scope, id, a, errA, b, errB)
			}
			if errA == nil {
				n++
			}
		}
	}
	if n < 200 {
		t.Fatalf("only %d contexts compared", n)
	}
	if len(c.direct.stmts) == 0 {
		t.Fatal("the get did not take the C API")
	}
}

// TestEncryptedStoreReadsThroughTheDriver: an encrypted store's
// connections (another driver) take the driver's way, and read the same.
func TestEncryptedStoreReadsThroughTheDriver(t *testing.T) {
	ctx := context.Background()
	key := make([]byte, KeySize)
	_, _ = rand.Read(key)
	s, err := Open(ctx, t.TempDir(), Options{EncryptionKey: key, ReadConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sc := contextd.Scope{Tenant: "t"}
	if _, err := s.CreateContexts(ctx, sc, []contextd.ContextCreate{{ID: "a", Title: "x", Content: "y", Type: "note"},
		{ID: "b", Title: "x", Content: "y", Type: "note", Relationships: []contextd.RelationshipCreate{{Type: contextd.RelFollows, TargetID: "a"}}}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetContext(ctx, sc, "b")
	if err != nil || len(got.Relationships) != 1 {
		t.Fatalf("%+v, %v", got, err)
	}
	c, err := s.readers.take(ctx, s.closed)
	if err != nil {
		t.Fatal(err)
	}
	defer s.readers.put(c)
	if !c.direct.off || len(c.direct.stmts) != 0 {
		t.Fatalf("an encrypted connection took the C API: off %v", c.direct.off)
	}
}

// openDirect opens a plaintext store in a temporary directory.
func openDirect(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), t.TempDir(), Options{TopKMinContexts: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkGetContextEdges reads contexts (about 1.5 KB, half of them with
// an edge) by id on one reader connection, on the C API and through the
// driver's statement (queryRaw), for allocs/op and ns/op side by side.
func BenchmarkGetContextEdges(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, b.TempDir(), Options{TopKMinContexts: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sc := contextd.Scope{Tenant: "t"}
	items := make([]contextd.ContextCreate, 1000)
	for i := range items {
		items[i] = contextd.ContextCreate{ID: fmt.Sprintf("c%04d", i), Title: "title", Content: strings.Repeat("memory context graph ", 70),
			Type: "note", Tags: []string{"a", "b"}, Metadata: map[string]any{"n": i, "src": "bench"}}
		if i%2 == 1 {
			items[i].Relationships = []contextd.RelationshipCreate{{Type: contextd.RelFollows, TargetID: items[i-1].ID}}
		}
	}
	if _, err := s.CreateContexts(ctx, sc, items); err != nil {
		b.Fatal(err)
	}
	c, err := s.readers.take(ctx, s.closed)
	if err != nil {
		b.Fatal(err)
	}
	defer s.readers.put(c)
	for _, direct := range []bool{true, false} {
		name := map[bool]string{true: "direct", false: "raw"}[direct]
		b.Run(name, func(b *testing.B) {
			c.direct.off = !direct
			defer func() { c.direct.off = false }()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := getContextEdges(ctx, c, sc, items[i%len(items)].ID); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
