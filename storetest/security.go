package storetest

import (
	"slices"

	"github.com/contextd/contextd"
)

// securityTests cover what the security gateway needs of a store: narrowed
// keys (scopes).
func securityTests() []test {
	return []test{
		{"security/key-scopes", testKeyScopes},
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
