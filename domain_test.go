package contextd_test

import (
	"strings"
	"testing"
	"time"

	"github.com/contextd/contextd"
)

func TestContextCreateNormalize(t *testing.T) {
	c := contextd.ContextCreate{Title: "t"}
	if err := c.Normalize("body"); err != nil {
		t.Fatal(err)
	}
	if c.Type != "note" || c.Status != "active" || c.Tags == nil || c.Metadata == nil {
		t.Fatalf("defaults not applied: %+v", c)
	}
	bad := []struct {
		name string
		c    contextd.ContextCreate
		loc  string
	}{
		{"no title", contextd.ContextCreate{}, "body.title"},
		{"long title", contextd.ContextCreate{Title: strings.Repeat("é", 501)}, "body.title"},
		{"bad type", contextd.ContextCreate{Title: "t", Type: "Note"}, "body.type"},
		{"bad status", contextd.ContextCreate{Title: "t", Status: "gone"}, "body.status"},
		{"too many tags", contextd.ContextCreate{Title: "t", Tags: make([]string, 65)}, "body.tags"},
		{"long tag", contextd.ContextCreate{Title: "t", Tags: []string{strings.Repeat("x", 101)}}, "body.tags[0]"},
		{"big metadata", contextd.ContextCreate{Title: "t", Metadata: map[string]any{"x": strings.Repeat("x", 64<<10)}}, "body.metadata"},
		{"big content", contextd.ContextCreate{Title: "t", Content: strings.Repeat("x", 1<<20+1)}, "body.content"},
		{"bad id", contextd.ContextCreate{Title: "t", ID: "a/b"}, "body.id"},
		{"bad rel type", contextd.ContextCreate{Title: "t", Relationships: []contextd.RelationshipCreate{{Type: "relates", TargetID: "x"}}}, "body.relationships[0].type"},
	}
	for _, tt := range bad {
		err := tt.c.Normalize("body")
		if contextd.ErrorCode(err) != contextd.EINVALID {
			t.Errorf("%s: got %v, want invalid", tt.name, err)
			continue
		}
		if f := contextd.ErrorFields(err); len(f) == 0 || f[0].Location != tt.loc {
			t.Errorf("%s: fields %+v, want location %s", tt.name, f, tt.loc)
		}
	}
}

func TestTagsDeduplicated(t *testing.T) {
	c := contextd.ContextCreate{Title: "t", Tags: []string{"a", "b", "a"}}
	if err := c.Normalize("body"); err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Tags, ",") != "a,b" {
		t.Fatalf("tags = %v", c.Tags)
	}
}

func TestMemoryScoreOrdering(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := func(imp string, conf float64, age time.Duration) *contextd.Memory {
		return &contextd.Memory{Importance: imp, Confidence: conf, Timestamp: now.Add(-age)}
	}
	s := func(bm float64, mem *contextd.Memory) float64 { return contextd.MemoryScore(bm, true, mem, now) }
	if !(s(5, m("high", 1, 0)) > s(5, m("low", 1, 0))) {
		t.Error("importance should raise the score")
	}
	if !(s(5, m("medium", 1, 0)) > s(5, m("medium", 0.2, 0))) {
		t.Error("confidence should raise the score")
	}
	if !(s(5, m("medium", 1, 0)) > s(5, m("medium", 1, 90*24*time.Hour))) {
		t.Error("recency should raise the score")
	}
	if !(s(8, m("low", 0.5, 30*24*time.Hour)) > s(0.5, m("critical", 1, 0))) {
		t.Error("relevance should lead")
	}
}

func TestRoles(t *testing.T) {
	r := &contextd.Principal{Tenant: "t", Role: contextd.RoleReader}
	if r.Require(contextd.RoleReader) != nil || contextd.ErrorCode(r.Require(contextd.RoleWriter)) != contextd.EFORBIDDEN {
		t.Fatal("reader role checks wrong")
	}
	a := &contextd.Principal{Tenant: "t", Role: contextd.RoleAdmin}
	if a.Require(contextd.RoleWriter) != nil || a.Require(contextd.RoleAdmin) != nil {
		t.Fatal("admin should include writer")
	}
	var none *contextd.Principal
	if contextd.ErrorCode(none.Require(contextd.RoleReader)) != contextd.EUNAUTHORIZED {
		t.Fatal("nil principal should be unauthorized")
	}
}

func TestAPIKeySecret(t *testing.T) {
	k1, h1 := contextd.NewAPIKeySecret()
	k2, _ := contextd.NewAPIKeySecret()
	if k1 == k2 || !strings.HasPrefix(k1, contextd.APIKeyPrefix) || contextd.HashAPIKey(k1) != h1 || len(h1) != 64 {
		t.Fatalf("bad keys %q %q %q", k1, k2, h1)
	}
}

func TestNewIDOrdered(t *testing.T) {
	now := time.Now()
	a, b := contextd.NewID(now), contextd.NewID(now)
	if !(a < b) || !contextd.ValidID(a) {
		t.Fatalf("ids not ordered or invalid: %s %s", a, b)
	}
}
