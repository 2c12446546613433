package storetest

import (
	"slices"
	"time"

	"github.com/contextd/contextd"
)

func keyTests() []test {
	return []test{
		{"keys/create-by-hash", testKeyCreate},
		{"keys/find", testKeyFind},
		{"keys/revoke", testKeyRevoke},
		{"keys/revoke-wrong-tenant", testKeyRevokeWrongTenant},
		{"keys/count", testKeyCount},
	}
}

// newKey stores a key made at the clock's time and returns it with its hash.
func (e *env) newKey(tenant string, role contextd.Role, name, uid string, expires *time.Time) (*contextd.APIKey, string) {
	e.t.Helper()
	secret, hash := contextd.NewAPIKeySecret()
	now := e.now()
	k := &contextd.APIKey{ID: contextd.NewID(now), Tenant: tenant, Role: role, Name: name, UserID: uid,
		Prefix: secret[:len(contextd.APIKeyPrefix)+6], CreatedAt: now, ExpiresAt: expires}
	if err := e.s.CreateAPIKey(e.ctx, k, hash); err != nil {
		e.t.Fatalf("CreateAPIKey: %v", err)
	}
	return k, hash
}

func (e *env) checkKey(what string, got, want *contextd.APIKey) {
	e.t.Helper()
	if got == nil {
		e.t.Fatalf("%s: nil key", what)
	}
	if got.ID != want.ID || got.Tenant != want.Tenant || got.Role != want.Role || got.Name != want.Name ||
		got.UserID != want.UserID || got.Prefix != want.Prefix || !got.CreatedAt.Equal(want.CreatedAt) {
		e.t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
	for _, p := range []struct {
		name      string
		got, want *time.Time
	}{{"expiresAt", got.ExpiresAt, want.ExpiresAt}, {"revokedAt", got.RevokedAt, want.RevokedAt}} {
		if (p.got == nil) != (p.want == nil) || (p.got != nil && !p.got.Equal(*p.want)) {
			e.t.Errorf("%s: %s %s, want %s", what, p.name, fmtTimePtr(p.got), fmtTimePtr(p.want))
		}
	}
}

func testKeyCreate(e *env) {
	exp := e.now().Add(30 * 24 * time.Hour)
	k1, h1 := e.newKey("acme", contextd.RoleAdmin, "ci", "", nil)
	k2, h2 := e.newKey("acme", contextd.RoleReader, "bot", "u-7", &exp)
	got, err := e.s.APIKeyByHash(e.ctx, h1)
	if err != nil {
		e.t.Fatalf("APIKeyByHash: %v", err)
	}
	e.checkKey("key 1", got, k1)
	got, err = e.s.APIKeyByHash(e.ctx, h2)
	if err != nil {
		e.t.Fatalf("APIKeyByHash: %v", err)
	}
	e.checkKey("key 2", got, k2)
	if !got.Active(e.now()) || got.Active(exp.Add(time.Second)) {
		e.t.Errorf("key 2 activity is wrong around its expiry")
	}
	_, err = e.s.APIKeyByHash(e.ctx, contextd.HashAPIKey("cxd_not_a_key"))
	e.wantCode(err, contextd.ENOTFOUND, "unknown hash")
	_, err = e.s.APIKeyByHash(e.ctx, "")
	e.wantCode(err, contextd.ENOTFOUND, "empty hash")
}

func testKeyFind(e *env) {
	var acme, globex []*contextd.APIKey
	for i := range 3 {
		e.tick()
		k, _ := e.newKey("acme", contextd.RoleWriter, "a"+itoa(i), "", nil)
		acme = append(acme, k)
		e.tick()
		k, _ = e.newKey("globex", contextd.RoleReader, "g"+itoa(i), "", nil)
		globex = append(globex, k)
	}
	newestFirst := func(ks []*contextd.APIKey) []string {
		var ids []string
		for _, k := range slices.Backward(ks) {
			ids = append(ids, k.ID)
		}
		return ids
	}
	keyIDs := func(ks []*contextd.APIKey) []string {
		var ids []string
		for _, k := range ks {
			ids = append(ids, k.ID)
		}
		return ids
	}
	got, err := e.s.FindAPIKeys(e.ctx, "acme")
	if err != nil {
		e.t.Fatalf("FindAPIKeys: %v", err)
	}
	if !slices.Equal(keyIDs(got), newestFirst(acme)) {
		e.t.Errorf("acme keys %v, want newest first %v", keyIDs(got), newestFirst(acme))
	}
	for _, k := range got {
		e.checkKey("listed", k, acme[slices.IndexFunc(acme, func(a *contextd.APIKey) bool { return a.ID == k.ID })])
	}
	got, err = e.s.FindAPIKeys(e.ctx, "globex")
	if err != nil {
		e.t.Fatal(err)
	}
	if !slices.Equal(keyIDs(got), newestFirst(globex)) {
		e.t.Errorf("globex keys %v, want %v", keyIDs(got), newestFirst(globex))
	}
	got, err = e.s.FindAPIKeys(e.ctx, "")
	if err != nil {
		e.t.Fatal(err)
	}
	all := []*contextd.APIKey{acme[0], globex[0], acme[1], globex[1], acme[2], globex[2]}
	if !slices.Equal(keyIDs(got), newestFirst(all)) {
		e.t.Errorf("all keys %v, want newest first %v", keyIDs(got), newestFirst(all))
	}
	got, err = e.s.FindAPIKeys(e.ctx, "nobody")
	if err != nil || len(got) != 0 {
		e.t.Errorf("keys of an unknown tenant: %v, %v", keyIDs(got), err)
	}
}

func testKeyRevoke(e *env) {
	k, h := e.newKey("acme", contextd.RoleAdmin, "ci", "", nil)
	other, oh := e.newKey("acme", contextd.RoleAdmin, "other", "", nil)
	at := e.clock.Advance(time.Hour)
	if err := e.s.RevokeAPIKey(e.ctx, "acme", k.ID, at); err != nil {
		e.t.Fatalf("RevokeAPIKey: %v", err)
	}
	got, err := e.s.APIKeyByHash(e.ctx, h)
	if err != nil {
		e.t.Fatalf("APIKeyByHash of a revoked key: %v (it must still be found, with revokedAt set)", err)
	}
	want := *k
	want.RevokedAt = &at
	e.checkKey("revoked", got, &want)
	if got.Active(e.now()) {
		e.t.Errorf("a revoked key is active")
	}
	listed, err := e.s.FindAPIKeys(e.ctx, "acme")
	if err != nil {
		e.t.Fatal(err)
	}
	for _, l := range listed {
		if l.ID == k.ID && (l.RevokedAt == nil || !l.RevokedAt.Equal(at)) {
			e.t.Errorf("FindAPIKeys shows revokedAt %s", fmtTimePtr(l.RevokedAt))
		}
	}
	if g, _ := e.s.APIKeyByHash(e.ctx, oh); g == nil || g.RevokedAt != nil {
		e.t.Errorf("revoking one key touched another: %+v", g)
	}
	// Tenant "" matches any tenant.
	if err := e.s.RevokeAPIKey(e.ctx, "", other.ID, at); err != nil {
		e.t.Errorf("RevokeAPIKey with tenant \"\": %v", err)
	}
	if g, _ := e.s.APIKeyByHash(e.ctx, oh); g == nil || g.RevokedAt == nil {
		e.t.Errorf("revoke with tenant \"\" did not revoke")
	}
	e.wantCode(e.s.RevokeAPIKey(e.ctx, "acme", "no-such-key", at), contextd.ENOTFOUND, "revoke a missing key")
}

func testKeyRevokeWrongTenant(e *env) {
	k, h := e.newKey("acme", contextd.RoleAdmin, "ci", "", nil)
	e.newKey("globex", contextd.RoleAdmin, "theirs", "", nil)
	e.wantCode(e.s.RevokeAPIKey(e.ctx, "globex", k.ID, e.now()), contextd.ENOTFOUND, "revoke in the wrong tenant")
	got, err := e.s.APIKeyByHash(e.ctx, h)
	if err != nil {
		e.t.Fatal(err)
	}
	if got.RevokedAt != nil {
		e.t.Errorf("a revoke in the wrong tenant revoked the key")
	}
}

func testKeyCount(e *env) {
	n, err := e.s.CountAPIKeys(e.ctx)
	if err != nil || n != 0 {
		e.t.Fatalf("CountAPIKeys on an empty store: %d, %v", n, err)
	}
	k, _ := e.newKey("acme", contextd.RoleAdmin, "a", "", nil)
	e.newKey("acme", contextd.RoleReader, "b", "", nil)
	e.newKey("globex", contextd.RoleWriter, "c", "", nil)
	if err := e.s.RevokeAPIKey(e.ctx, "acme", k.ID, e.now()); err != nil {
		e.t.Fatal(err)
	}
	n, err = e.s.CountAPIKeys(e.ctx)
	if err != nil || n != 3 {
		e.t.Errorf("CountAPIKeys: %d, %v; want 3 (revoked keys count)", n, err)
	}
}
