package contextd

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestChangeLogSpan(t *testing.T) {
	for _, c := range []struct {
		span ChangeLogSpan
		ok   bool
		want string
	}{
		{ChangeLogSpan{}, true, "nothing written yet"},
		{ChangeLogSpan{Last: 40}, true, "all 40 changes pruned"},
		{ChangeLogSpan{Count: 10, Oldest: 31, Newest: 40, Last: 40}, true, "seq 31..40, 10 changes"},
		{ChangeLogSpan{Count: 9, Oldest: 31, Newest: 40, Last: 40}, false, "1 changes missing between seq 31 and 40"},
		{ChangeLogSpan{Count: 10, Oldest: 31, Newest: 40, Last: 42}, false, "the newest change is seq 40 but the log gave seqs up to 42"},
		// Read beside writers (Neo4j): changes committed after the counter was read.
		{ChangeLogSpan{Count: 12, Oldest: 31, Newest: 42, Last: 40}, true, "seq 31..42"},
	} {
		it := c.span.ContinuityItem()
		if it.OK != c.ok || !strings.Contains(it.Detail, c.want) {
			t.Errorf("%+v: %+v, want ok=%v and %q", c.span, it, c.ok, c.want)
		}
	}
}

func TestChangeOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var o ChangeOrder
	o.Add(7, t0)
	o.Add(8, t0.Add(time.Second))
	o.Add(9, t0.Add(-time.Minute)) // a writer that read the clock before queueing: within the slack
	if it := o.Item("order"); !it.OK || !strings.Contains(it.Detail, "3 changes in order (1 committed up to") {
		t.Fatalf("within the slack: %+v", it)
	}
	o.Add(11, t0.Add(-time.Hour))
	it := o.Item("order")
	if it.OK || !strings.Contains(it.Detail, "1 gaps and 1 times going back") || !strings.Contains(it.Detail, "seq 11 follows seq 9") ||
		!strings.Contains(it.Detail, "seq 11 is 59m0s older than seq 9") {
		t.Fatalf("gap and clock going back: %+v", it)
	}
}

func TestChangeAgreement(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	state := func(v any) json.RawMessage {
		b, _ := json.Marshal(v)
		return b
	}
	span := ChangeLogSpan{Count: 5, Oldest: 1, Newest: 5, Last: 5, OldestAt: t0}
	cases := []struct {
		o    LoggedObject
		want string // "" when it agrees
	}{
		{LoggedObject{Kind: KindContext, Tenant: "t", ID: "c", Version: 2, Stamp: t0,
			Newest: &Change{Seq: 3, Op: OpUpdate, Version: 2, State: state(map[string]any{"version": 2, "updatedAt": t0})}}, ""},
		{LoggedObject{Kind: KindContext, Tenant: "t", ID: "c", Version: 3, Stamp: t0,
			Newest: &Change{Seq: 3, Op: OpUpdate, Version: 2, State: state(map[string]any{"version": 2, "updatedAt": t0})}},
			"context t/c is at version 3 but its newest change (seq 3) says version 2"},
		{LoggedObject{Kind: KindSession, Tenant: "t", ID: "s", Stamp: t0.Add(time.Second),
			Newest: &Change{Seq: 4, Op: OpUpdate, State: state(map[string]any{"updatedAt": t0, "lastActiveAt": t0.Add(time.Second)})}}, ""},
		{LoggedObject{Kind: KindRelationship, Tenant: "t", ID: "r", Stamp: t0,
			Newest: &Change{Seq: 2, Op: OpRestore, State: state(map[string]any{"createdAt": t0})}}, ""},
		{LoggedObject{Kind: KindMemory, Tenant: "t", ID: "m", Version: 1, Stamp: t0,
			Newest: &Change{Seq: 5, Op: OpDelete, Version: 1, State: json.RawMessage("null")}}, "exists but its newest change (seq 5) deleted it"},
		// No change: fine when written before the log (with the slack), not after.
		{LoggedObject{Kind: KindMemory, Tenant: "t", ID: "old", Version: 1, Stamp: t0.Add(ChangeClockSlack)}, ""},
		{LoggedObject{Kind: KindMemory, Tenant: "t", ID: "new", Version: 1, Stamp: t0.Add(ChangeClockSlack + 1)}, "has no change in the log"},
	}
	a := NewChangeAgreement(span)
	bad := 0
	for _, c := range cases {
		got := a.Judge(c.o)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s %s: %q, want %q", c.o.Kind, c.o.ID, got, c.want)
		}
		if got != "" {
			bad++
		}
		a.Live(c.o)
	}
	a.Orphan(&Change{Seq: 9, Op: OpDelete, Kind: KindContext, Tenant: "t", ID: "gone"})
	a.Orphan(&Change{Seq: 10, Op: OpCreate, Kind: KindContext, Tenant: "t", ID: "lost"})
	it := a.Item("agree")
	if it.OK || it.Rows != int64(len(cases)) || !strings.Contains(it.Detail, "4 objects disagree") ||
		!strings.Contains(it.Detail, "context t/lost has no row but its newest change (seq 10, create) did not delete it") {
		t.Fatalf("item: %+v (%d bad objects)", it, bad)
	}
	if it := NewChangeAgreement(ChangeLogSpan{}).Item("agree"); !it.OK {
		t.Errorf("an empty comparison: %+v", it)
	}
}

func TestVectorCountsItem(t *testing.T) {
	off := VectorCounts{Kind: VectorContext, Rows: 3}.Item()
	if !off.OK || !strings.Contains(off.Detail, "semantic search is off") {
		t.Errorf("off: %+v", off)
	}
	if it := (VectorCounts{Kind: VectorContext, Rows: 3, Orphans: 1}).Item(); it.OK {
		t.Errorf("an orphan passes with semantic search off: %+v", it)
	}
	it := VectorCounts{Kind: VectorMemory, Model: "m", Dims: 4, Rows: 10, Current: 7, Stale: 2, Unembedded: 1}.Item()
	if !it.OK || it.Detail != "2 rows have a vector of another model; 1 rows written before semantic search was on, or restored or imported, have no vector (run contextd reindex)" {
		t.Errorf("warnings only: %+v", it)
	}
	it = VectorCounts{Kind: VectorMemory, Model: "m", Rows: 10, Current: 9, Missing: 1, Lengths: []int{4, 5}, Examples: []string{"t/x has no vector"}}.Item()
	if it.OK || it.Detail != "1 rows written with an embedder have no vector; the vectors of m have 2 different lengths [4 5]; e.g. t/x has no vector" {
		t.Errorf("failures: %+v", it)
	}
}
