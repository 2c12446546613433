package storetest

import (
	"bytes"
	"slices"
	"time"

	"github.com/contextd/contextd"
)

// securityTests cover what the security gateway needs of a store: narrowed
// keys (scopes).
func securityTests() []test {
	return []test{
		{"security/key-scopes", testKeyScopes},
		{"security/key-generation", testKeyGeneration},
		{"security/key-last-used", testKeyLastUsed},
		{"security/idempotency", testIdempotency},
	}
}

// testKeyScopes: a key's scopes come back from every read, in order; a key
// without scopes has none (nil, not an empty list).
func testKeyScopes(e *env) {
	scopes := []contextd.Permission{contextd.PermContextsRead, contextd.PermSearch}
	secret, hash := contextd.NewAPIKeySecret()
	k := &contextd.APIKey{ID: contextd.NewID(e.now()), Tenant: "acme", Role: contextd.RoleReader, Name: "narrow",
		Prefix: secret[:10], CreatedAt: e.now(), Scopes: scopes}
	if err := e.s.CreateAPIKey(e.ctx, k, hash); err != nil {
		e.t.Fatalf("CreateAPIKey: %v", err)
	}
	_, wideHash := e.newKey("acme", contextd.RoleWriter, "wide", "", nil)
	got, err := e.s.APIKeyByHash(e.ctx, hash)
	if err != nil {
		e.t.Fatalf("APIKeyByHash: %v", err)
	}
	if !slices.Equal(got.Scopes, scopes) {
		e.t.Errorf("scopes by hash: %v, want %v", got.Scopes, scopes)
	}
	wide, err := e.s.APIKeyByHash(e.ctx, wideHash)
	if err != nil {
		e.t.Fatalf("APIKeyByHash: %v", err)
	}
	if wide.Scopes != nil {
		e.t.Errorf("a key without scopes reads back %#v, want nil", wide.Scopes)
	}
	all, err := e.s.FindAPIKeys(e.ctx, "acme")
	if err != nil {
		e.t.Fatalf("FindAPIKeys: %v", err)
	}
	found := false
	for _, x := range all {
		if x.ID == k.ID {
			found = true
			if !slices.Equal(x.Scopes, scopes) {
				e.t.Errorf("scopes in the list: %v, want %v", x.Scopes, scopes)
			}
		}
	}
	if !found {
		e.t.Errorf("the narrowed key is not listed")
	}
}

// testKeyGeneration: the generation changes with every key create and
// revoke (also a repeated revoke is harmless), and not with reads or uses.
func testKeyGeneration(e *env) {
	gen := func() int64 {
		e.t.Helper()
		g, err := e.s.APIKeyGeneration(e.ctx)
		if err != nil {
			e.t.Fatalf("APIKeyGeneration: %v", err)
		}
		return g
	}
	g0 := gen()
	if g0 != gen() {
		e.t.Fatalf("the generation moved without a change")
	}
	k, hash := e.newKey("acme", contextd.RoleWriter, "w", "", nil)
	g1 := gen()
	if g1 == g0 {
		e.t.Fatalf("creating a key left the generation at %d", g1)
	}
	if _, err := e.s.APIKeyByHash(e.ctx, hash); err != nil {
		e.t.Fatal(err)
	}
	if err := e.s.TouchAPIKey(e.ctx, k.ID, e.now()); err != nil {
		e.t.Fatalf("TouchAPIKey: %v", err)
	}
	if gen() != g1 {
		e.t.Fatalf("a read or a use moved the generation")
	}
	if err := e.s.RevokeAPIKey(e.ctx, "acme", k.ID, e.now()); err != nil {
		e.t.Fatal(err)
	}
	g2 := gen()
	if g2 == g1 {
		e.t.Fatalf("revoking a key left the generation at %d", g2)
	}
	err := e.s.RevokeAPIKey(e.ctx, "other", k.ID, e.now())
	e.wantCode(err, contextd.ENOTFOUND, "revoke in the wrong tenant")
}

// testKeyLastUsed: lastUsedAt is absent until a use, then the latest use;
// it never moves back.
func testKeyLastUsed(e *env) {
	k, hash := e.newKey("acme", contextd.RoleReader, "r", "", nil)
	got, err := e.s.APIKeyByHash(e.ctx, hash)
	if err != nil {
		e.t.Fatal(err)
	}
	if got.LastUsedAt != nil {
		e.t.Fatalf("a new key has lastUsedAt %v", got.LastUsedAt)
	}
	t1 := e.now().Add(time.Minute)
	if err := e.s.TouchAPIKey(e.ctx, k.ID, t1); err != nil {
		e.t.Fatal(err)
	}
	if err := e.s.TouchAPIKey(e.ctx, k.ID, t1.Add(-30*time.Second)); err != nil {
		e.t.Fatal(err)
	}
	if err := e.s.TouchAPIKey(e.ctx, "no-such-key", t1); err != nil {
		e.t.Fatalf("touching a missing key: %v", err)
	}
	got, err = e.s.APIKeyByHash(e.ctx, hash)
	if err != nil {
		e.t.Fatal(err)
	}
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(t1) {
		e.t.Fatalf("lastUsedAt %v, want %v", got.LastUsedAt, t1)
	}
	list, err := e.s.FindAPIKeys(e.ctx, "acme")
	if err != nil {
		e.t.Fatal(err)
	}
	if len(list) != 1 || list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(t1) {
		e.t.Fatalf("listed lastUsedAt wrong: %+v", list)
	}
}

// testIdempotency: a reservation, its answer, replays while fresh, a new run
// once expired, and release of a running reservation only.
func testIdempotency(e *env) {
	rec := func() *contextd.IdempotencyRecord {
		return &contextd.IdempotencyRecord{Tenant: "acme", Credential: "k:acme/1", Key: "op-1", RequestHash: "h1", CreatedAt: e.now()}
	}
	reserve := func(r *contextd.IdempotencyRecord, notBefore time.Time) *contextd.IdempotencyRecord {
		e.t.Helper()
		got, err := e.s.ReserveIdempotency(e.ctx, r, notBefore)
		if err != nil {
			e.t.Fatalf("ReserveIdempotency: %v", err)
		}
		return got
	}
	dayAgo := func() time.Time { return e.now().Add(-contextd.IdempotencyTTL) }
	if got := reserve(rec(), dayAgo()); got != nil {
		e.t.Fatalf("first reservation found %+v", got)
	}
	if got := reserve(rec(), dayAgo()); got == nil || got.Status != 0 || got.RequestHash != "h1" {
		e.t.Fatalf("second reservation: %+v, want the running one", got)
	}
	other := rec()
	other.Credential = "k:acme/2"
	if got := reserve(other, dayAgo()); got != nil {
		e.t.Fatalf("another credential shares the key: %+v", got)
	}
	done := rec()
	done.Status, done.Body, done.Header = 201, []byte(`{"id":"x"}`), map[string]string{"Location": "/v1/contexts/x"}
	if err := e.s.CompleteIdempotency(e.ctx, done); err != nil {
		e.t.Fatal(err)
	}
	if err := e.s.ReleaseIdempotency(e.ctx, "acme", "k:acme/1", "op-1"); err != nil {
		e.t.Fatal(err)
	}
	got := reserve(rec(), dayAgo())
	if got == nil || got.Status != 201 || !bytes.Equal(got.Body, done.Body) || got.Header["Location"] != "/v1/contexts/x" {
		e.t.Fatalf("replay: %+v (a completed record must survive a release)", got)
	}
	if err := e.s.ReleaseIdempotency(e.ctx, "acme", "k:acme/2", "op-1"); err != nil {
		e.t.Fatal(err)
	}
	if got := reserve(other, dayAgo()); got != nil {
		e.t.Fatalf("a released reservation is still there: %+v", got)
	}
	e.clock.Advance(contextd.IdempotencyTTL + time.Second)
	fresh := rec()
	fresh.RequestHash = "h2"
	if got := reserve(fresh, dayAgo()); got != nil {
		e.t.Fatalf("an expired record was replayed: %+v", got)
	}
	if got := reserve(rec(), dayAgo()); got == nil || got.RequestHash != "h2" || got.Status != 0 {
		e.t.Fatalf("after expiry: %+v", got)
	}
}
