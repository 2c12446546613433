package sqlite_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/sqlite"
)

// BenchmarkEncryption runs the same operations on a plaintext and an
// encrypted store in one process, so that their ratio is the cost of
// encryption at rest (the driver change included: modernc for plaintext,
// ncruces with the adiantum VFS encrypted). "small-cache" gives the store a
// 16 MiB page cache for 10,000 contexts (about 30 MB), so that reads go
// through the VFS, and its decryption, more often.
//
//	go test -run '^$' -bench BenchmarkEncryption -benchtime 2s ./sqlite/
func BenchmarkEncryption(b *testing.B) {
	key := newKey(b)
	for _, cache := range []struct {
		name string
		mb   int
	}{{"default-cache", 0}, {"small-cache", 16}} {
		for _, mode := range []struct {
			name string
			key  []byte
		}{{"plain", nil}, {"encrypted", key}} {
			b.Run(cache.name+"/"+mode.name, func(b *testing.B) {
				s, err := sqlite.Open(context.Background(), b.TempDir(), sqlite.Options{EncryptionKey: mode.key, CacheSizeMB: cache.mb})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				sc := contextd.Scope{Tenant: "bench"}
				ids := seed(b, s, sc, 10000)
				ctx := context.Background()
				g := newTextGen(1)
				items := make([]contextd.ContextCreate, 256)
				for i := range items {
					items[i] = g.item()
				}
				b.Run("create", func(b *testing.B) {
					i := 0
					for b.Loop() {
						if _, err := s.CreateContexts(ctx, sc, items[i%len(items):i%len(items)+1]); err != nil {
							b.Fatal(err)
						}
						i++
					}
				})
				b.Run("get", func(b *testing.B) {
					r := rand.New(rand.NewPCG(7, 8))
					for b.Loop() {
						if _, err := s.GetContext(ctx, sc, ids[r.IntN(len(ids))]); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run("search", func(b *testing.B) {
					q := contextd.SearchQuery{Query: word(300) + " " + word(900), Limit: 20, Highlight: true}
					for b.Loop() {
						if _, err := s.SearchContexts(ctx, sc, q); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
		}
	}
}
