package contextd_test

import (
	"context"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/sqlite"
)

// TestKeyCacheRevokedElsewhere: a key revoked through another store handle
// (another process, as `contextd keys revoke` is) stops at once although its
// lookup was cached; lastUsedAt is written off the request path.
func TestKeyCacheRevokedElsewhere(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	other, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	svc := contextd.NewService(st)
	k, key, err := svc.NewAPIKey(ctx, contextd.KeyCreate{Tenant: "t", Role: contextd.RoleReader, Name: "n"})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // the second and third come from the cache
		if _, err := svc.Authenticate(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	if err := other.RevokeAPIKey(ctx, "", k.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, key); contextd.ErrorCode(err) != contextd.EUNAUTHORIZED {
		t.Fatalf("revoked elsewhere: %v, want unauthorized", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := st.APIKeyByHash(ctx, contextd.HashAPIKey(key))
		if err != nil {
			t.Fatal(err)
		}
		if got.LastUsedAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("lastUsedAt never written")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkAuthenticate compares a cached key check (generation read) with
// the lookup it replaces.
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, b.TempDir(), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	svc := contextd.NewService(st)
	_, key, err := svc.NewAPIKey(ctx, contextd.KeyCreate{Tenant: "t", Role: contextd.RoleReader, Name: "n"})
	if err != nil {
		b.Fatal(err)
	}
	hash := contextd.HashAPIKey(key)
	b.Run("store-lookup", func(b *testing.B) {
		for b.Loop() {
			if _, err := st.APIKeyByHash(ctx, hash); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("generation-read", func(b *testing.B) {
		for b.Loop() {
			if _, err := st.APIKeyGeneration(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("authenticate-cached", func(b *testing.B) {
		for b.Loop() {
			if _, err := svc.Authenticate(ctx, key); err != nil {
				b.Fatal(err)
			}
		}
	})
}
