package storetest

import (
	"fmt"
	"time"

	"github.com/contextd/contextd"
)

// auditTests cover the audit trail.
func auditTests() []test {
	return []test{
		{"audit/append-and-page", testAuditPage},
		{"audit/tenant-wall", testAuditTenants},
	}
}

func (e *env) appendAudit(tenant, action, target string, detail map[string]any) *contextd.AuditEvent {
	e.t.Helper()
	ev := &contextd.AuditEvent{ID: contextd.NewID(e.now()), Tenant: tenant, At: e.now(), Action: action,
		Principal: "key:k1", Target: target, Detail: detail}
	if err := e.s.AppendAudit(e.ctx, ev); err != nil {
		e.t.Fatalf("AppendAudit: %v", err)
	}
	return ev
}

// testAuditPage: events come back whole, newest first, page by page.
func testAuditPage(e *env) {
	var want []*contextd.AuditEvent
	for i := range 7 {
		want = append(want, e.appendAudit("acme", contextd.AuditKeyCreated, fmt.Sprint("key-", i),
			map[string]any{"role": "reader", "n": float64(i)}))
		e.clock.Advance(time.Millisecond)
	}
	var got []*contextd.AuditEvent
	cursor := ""
	for pages := 0; ; pages++ {
		page, next, err := e.s.FindAudit(e.ctx, "acme", contextd.AuditFilter{Limit: 3, Cursor: cursor})
		if err != nil {
			e.t.Fatalf("FindAudit: %v", err)
		}
		got = append(got, page...)
		if next == "" {
			break
		}
		if pages > 5 {
			e.t.Fatal("paging does not end")
		}
		cursor = next
	}
	if len(got) != len(want) {
		e.t.Fatalf("%d events, want %d", len(got), len(want))
	}
	for i, g := range got {
		w := want[len(want)-1-i]
		if g.ID != w.ID || g.Tenant != "acme" || !g.At.Equal(w.At) || g.Action != w.Action || g.Principal != w.Principal ||
			g.Target != w.Target || g.Detail["role"] != "reader" || g.Detail["n"] != w.Detail["n"] {
			e.t.Errorf("event %d: %+v, want %+v", i, g, w)
		}
	}
	empty := e.appendAudit("acme", contextd.AuditKeyRevoked, "key-0", nil)
	page, _, err := e.s.FindAudit(e.ctx, "acme", contextd.AuditFilter{Limit: 1})
	if err != nil || len(page) != 1 || page[0].ID != empty.ID || len(page[0].Detail) != 0 {
		e.t.Fatalf("newest event: %+v %v", page, err)
	}
	err = e.s.AppendAudit(e.ctx, &contextd.AuditEvent{ID: empty.ID, Tenant: "acme", At: e.now(), Action: "x", Principal: "p"})
	e.wantCode(err, contextd.ECONFLICT, "an event id twice")
	err = e.s.AppendAudit(e.ctx, &contextd.AuditEvent{ID: "x1", Tenant: "acme", At: e.now()})
	e.wantCode(err, contextd.EINVALID, "an event without an action")
}

// testAuditTenants: a tenant never sees another's events.
func testAuditTenants(e *env) {
	e.appendAudit("acme", contextd.AuditKeyCreated, "a", nil)
	e.appendAudit("globex", contextd.AuditKeyCreated, "g", nil)
	for tenant, target := range map[string]string{"acme": "a", "globex": "g"} {
		page, next, err := e.s.FindAudit(e.ctx, tenant, contextd.AuditFilter{Limit: 10})
		if err != nil {
			e.t.Fatal(err)
		}
		if len(page) != 1 || page[0].Target != target || next != "" {
			e.t.Errorf("%s sees %+v", tenant, page)
		}
	}
	page, _, err := e.s.FindAudit(e.ctx, "initech", contextd.AuditFilter{})
	if err != nil || len(page) != 0 {
		e.t.Errorf("an unknown tenant: %+v %v", page, err)
	}
}
