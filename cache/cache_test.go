package cache_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/cache"
	"github.com/contextd/contextd/neo4j"
	"github.com/contextd/contextd/sqlite"
	"github.com/contextd/contextd/storetest"
)

var runID = func() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}()

// counts is a Recorder that counts results by op and outcome.
type counts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counts) CacheResult(op, result string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[result]++
	c.n[op+"/"+result]++
}

func (c *counts) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

func openSQLite(t testing.TB, dir string, now func() time.Time) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), dir, sqlite.Options{Now: now, ReadConns: 4, CacheSizeMB: 8})
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	return s
}

func redisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("REDIS_URL")
	if u == "" {
		t.Skip("REDIS_URL is not set (start one: redis-server --port 6390 --save '' --daemonize yes; REDIS_URL=redis://127.0.0.1:6390)")
	}
	return u
}

func newRedis(t testing.TB, prefix string) *cache.Redis {
	t.Helper()
	r, err := cache.NewRedis(context.Background(), cache.RedisOptions{URL: redisURL(t), Prefix: "cxdtest:" + runID + ":" + prefix + ":"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestConformanceMemory(t *testing.T) {
	root := t.TempDir()
	storetest.Run(t, func(t *testing.T, name string, now func() time.Time) contextd.Store {
		t.Helper()
		c := cache.Wrap(openSQLite(t, filepath.Join(root, name), now), cache.NewMemory(1<<20), cache.Options{Now: now})
		t.Cleanup(func() { c.Close() })
		return c
	})
}

func TestConformanceRedis(t *testing.T) {
	redisURL(t)
	root := t.TempDir()
	storetest.Run(t, func(t *testing.T, name string, now func() time.Time) contextd.Store {
		t.Helper()
		// The same name shares one prefix: a reopened store finds its cache.
		c := cache.Wrap(openSQLite(t, filepath.Join(root, name), now), newRedis(t, name), cache.Options{Now: now})
		t.Cleanup(func() { c.Close() })
		return c
	})
}

func nameHash(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:10])
}

func TestConformanceNeo4j(t *testing.T) {
	uri := os.Getenv("NEO4J_URI")
	if uri == "" {
		t.Skip("NEO4J_URI is not set; run tools/neo4j-test-server/test.sh ./cache/")
	}
	storetest.Run(t, func(t *testing.T, name string, now func() time.Time) contextd.Store {
		t.Helper()
		s, err := neo4j.Open(context.Background(), neo4j.Options{URI: uri, Username: os.Getenv("NEO4J_USERNAME"),
			Password: os.Getenv("NEO4J_PASSWORD"), Database: os.Getenv("NEO4J_DATABASE"),
			Namespace: "cache" + runID + "-" + nameHash(name), Now: now})
		if err != nil {
			t.Fatalf("open %s: %v", name, err)
		}
		c := cache.Wrap(s, cache.NewMemory(1<<20), cache.Options{Now: now})
		t.Cleanup(func() { c.Close() })
		return c
	})
}

// TestScopedKeys: a uid-bound caller never sees another user's cached
// item, and a tenant never sees another tenant's, whichever read first.
func TestScopedKeys(t *testing.T) {
	ctx := context.Background()
	rec := &counts{}
	c := cache.Wrap(openSQLite(t, t.TempDir(), nil), cache.NewMemory(0), cache.Options{Recorder: rec})
	t.Cleanup(func() { c.Close() })
	tenant := contextd.Scope{Tenant: "acme"}
	ann, bob := contextd.Scope{Tenant: "acme", UserID: "ann"}, contextd.Scope{Tenant: "acme", UserID: "bob"}
	other := contextd.Scope{Tenant: "globex"}

	made, err := c.CreateContexts(ctx, ann, []contextd.ContextCreate{{ID: "c1", Title: "ann's secret", UserID: "ann"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateContexts(ctx, other, []contextd.ContextCreate{{ID: "c1", Title: "globex's own"}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // the second round is answered from the cache
		if got, err := c.GetContext(ctx, ann, "c1"); err != nil || got.Title != "ann's secret" {
			t.Fatalf("ann reads her context: %v %v", got, err)
		}
		if got, err := c.GetContext(ctx, tenant, "c1"); err != nil || got.Title != "ann's secret" {
			t.Fatalf("the tenant-wide caller: %v %v", got, err)
		}
		if _, err := c.GetContext(ctx, bob, "c1"); contextd.ErrorCode(err) != contextd.ENOTFOUND {
			t.Fatalf("bob read ann's cached context: %v", err)
		}
		if got, err := c.GetContext(ctx, other, "c1"); err != nil || got.Title != "globex's own" {
			t.Fatalf("another tenant: %v %v", got, err)
		}
		list, _, err := c.FindContexts(ctx, bob, contextd.ContextFilter{Limit: 10})
		if err != nil || len(list) != 0 {
			t.Fatalf("bob lists ann's contexts: %v %v", list, err)
		}
		res, err := c.SearchContexts(ctx, bob, contextd.SearchQuery{Query: "secret", Limit: 10})
		if err != nil || res.Total != 0 {
			t.Fatalf("bob finds ann's context: %+v %v", res, err)
		}
	}
	if rec.get("get_context/hit") < 3 {
		t.Fatalf("the second round was not served from the cache: %v", rec.n)
	}
	_ = made
}

// TestWriteInvalidates: every kind of write is seen by the next read.
func TestWriteInvalidates(t *testing.T) {
	ctx := context.Background()
	rec := &counts{}
	c := cache.Wrap(openSQLite(t, t.TempDir(), nil), cache.NewMemory(0), cache.Options{Recorder: rec})
	t.Cleanup(func() { c.Close() })
	sc := contextd.Scope{Tenant: "acme"}
	if _, err := c.CreateContexts(ctx, sc, []contextd.ContextCreate{{ID: "a", Title: "one"}, {ID: "b", Title: "two"}}); err != nil {
		t.Fatal(err)
	}
	get := func() *contextd.Context {
		got, err := c.GetContext(ctx, sc, "a")
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	get()
	get()
	if rec.get("get_context/hit") != 1 {
		t.Fatalf("no hit: %v", rec.n)
	}
	title := "uno"
	if _, err := c.UpdateContext(ctx, sc, "a", contextd.ContextUpdate{Title: &title}); err != nil {
		t.Fatal(err)
	}
	if got := get(); got.Title != "uno" || got.Version != 2 {
		t.Fatalf("after an update: %+v", got)
	}
	if _, err := c.CreateRelationship(ctx, sc, contextd.RelationshipCreate{SourceID: "b", TargetID: "a", Type: "RELATES_TO"}); err != nil {
		t.Fatal(err)
	}
	if got := get(); len(got.Relationships) != 1 {
		t.Fatalf("the target's relationships after a new edge: %+v", got.Relationships)
	}
	s1, err := c.CreateSession(ctx, sc, contextd.SessionCreate{ID: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := c.GetSession(ctx, sc, "s1"); s.MemoryCount != 0 {
		t.Fatalf("session: %+v", s)
	}
	if _, err := c.CreateMemories(ctx, sc, []contextd.MemoryCreate{{Type: "fact", Content: "x", SessionID: s1.ID}}); err != nil {
		t.Fatal(err)
	}
	if s, _ := c.GetSession(ctx, sc, "s1"); s.MemoryCount != 1 {
		t.Fatalf("session count after a memory write: %+v", s)
	}
	if err := c.DeleteContext(ctx, sc, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetContext(ctx, sc, "a"); contextd.ErrorCode(err) != contextd.ENOTFOUND {
		t.Fatalf("a deleted context is still served: %v", err)
	}
}

// TestMemoryExpiry: session counts change when a memory expires, with no
// write: session reads bypass the cache from the earliest expiry on.
func TestMemoryExpiry(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	rec := &counts{}
	c := cache.Wrap(openSQLite(t, t.TempDir(), clock), cache.NewMemory(0), cache.Options{Now: clock, Recorder: rec})
	t.Cleanup(func() { c.Close() })
	sc := contextd.Scope{Tenant: "acme"}
	exp := now.Add(time.Hour)
	if _, err := c.CreateMemories(ctx, sc, []contextd.MemoryCreate{{Type: "fact", Content: "brief", SessionID: "s", ExpiresAt: &exp}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if s, err := c.GetSession(ctx, sc, "s"); err != nil || s.MemoryCount != 1 {
			t.Fatalf("before the expiry: %+v %v", s, err)
		}
	}
	if rec.get("get_session/hit") != 1 {
		t.Fatalf("sessions are not cached before the expiry: %v", rec.n)
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	if s, err := c.GetSession(ctx, sc, "s"); err != nil || s.MemoryCount != 0 {
		t.Fatalf("after the expiry: %+v %v", s, err)
	}
	if rec.get("get_session/bypass") != 1 {
		t.Fatalf("no bypass: %v", rec.n)
	}
}

// TestMemoryBound: the in-process cache holds at most its size in bytes.
func TestMemoryBound(t *testing.T) {
	ctx := context.Background()
	m := cache.NewMemory(64 << 10)
	val := make([]byte, 1000)
	for i := 0; i < 1000; i++ {
		gen, _, _, _ := m.Lookup(ctx, "t", "k")
		if ok, _ := m.Fill(ctx, "t", "k"+string(rune('a'+i%26))+hex.EncodeToString([]byte{byte(i), byte(i >> 8)}), gen, val, time.Minute); !ok {
			t.Fatalf("fill %d refused", i)
		}
	}
	n, size := m.Len()
	if size > 64<<10 || n == 0 || n > 64 {
		t.Fatalf("%d entries of %d bytes, bound 65536", n, size)
	}
}

// testFillRace is the protocol every backend keeps: no fill at a generation
// a write has moved, or while a write is in flight.
func testFillRace(t *testing.T, b cache.Backend) {
	ctx := context.Background()
	gen, _, _, err := b.Lookup(ctx, "t", "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.BeginWrite(ctx, "t", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.Fill(ctx, "t", "k", gen, []byte("old"), time.Minute); ok {
		t.Fatal("filled at a generation a write moved")
	}
	gen2, _, _, _ := b.Lookup(ctx, "t", "k")
	if gen2 == gen {
		t.Fatal("BeginWrite did not move the generation")
	}
	if ok, _ := b.Fill(ctx, "t", "k", gen2, []byte("maybe old"), time.Minute); ok {
		t.Fatal("filled while a write is in flight")
	}
	if err := b.EndWrite(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.Fill(ctx, "t", "k", gen2, []byte("maybe old"), time.Minute); ok {
		t.Fatal("filled at the generation of an in-flight write after it ended")
	}
	gen3, _, v, _ := b.Lookup(ctx, "t", "k")
	if v != nil {
		t.Fatalf("an entry survived the write: %q", v)
	}
	if ok, err := b.Fill(ctx, "t", "k", gen3, []byte("new"), time.Minute); !ok || err != nil {
		t.Fatalf("fill after the write: %v %v", ok, err)
	}
	if _, _, v, _ := b.Lookup(ctx, "t", "k"); string(v) != "new" {
		t.Fatalf("lookup after fill: %q", v)
	}
	if _, _, v, _ := b.Lookup(ctx, "u", "k"); v != nil {
		t.Fatalf("another tenant reads the entry: %q", v)
	}
}

func TestFillRaceMemory(t *testing.T) { testFillRace(t, cache.NewMemory(0)) }

func TestFillRaceRedis(t *testing.T) {
	r := newRedis(t, "race")
	t.Cleanup(func() { r.Close() })
	testFillRace(t, r)
}

// TestTwoReplicas: two contextd replicas (two decorators, two Redis
// clients) over one store. Whatever one acknowledges, a read that starts
// afterwards on the other never answers older.
func TestTwoReplicas(t *testing.T) {
	ctx := context.Background()
	store := openSQLite(t, t.TempDir(), nil)
	t.Cleanup(func() { store.Close() })
	recA, recB := &counts{}, &counts{}
	a := cache.Wrap(store, newRedis(t, "replicas"), cache.Options{Recorder: recA})
	b := cache.Wrap(store, newRedis(t, "replicas"), cache.Options{Recorder: recB})
	t.Cleanup(func() { a.Backend().Close(); b.Backend().Close() })
	sc := contextd.Scope{Tenant: "acme"}
	if _, err := a.CreateContexts(ctx, sc, []contextd.ContextCreate{{ID: "hot", Title: "v1", Content: "counter"}}); err != nil {
		t.Fatal(err)
	}

	var acked atomic.Int64 // the newest acknowledged version
	acked.Store(1)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for r := 0; r < 4; r++ {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				want := acked.Load()
				got, err := b.GetContext(ctx, sc, "hot")
				if err != nil {
					t.Error(err)
					return
				}
				if got.Version < want {
					t.Errorf("replica B served version %d after version %d was acknowledged", got.Version, want)
					return
				}
				res, err := b.SearchContexts(ctx, sc, contextd.SearchQuery{Query: "counter", Limit: 5})
				if err != nil {
					t.Error(err)
					return
				}
				if len(res.Results) != 1 || res.Results[0].Context.Version < want {
					t.Errorf("replica B's search served %+v after version %d was acknowledged", res.Results, want)
					return
				}
			}
		})
	}
	for i := 2; i <= 60; i++ {
		title := "v" + hex.EncodeToString([]byte{byte(i)})
		got, err := a.UpdateContext(ctx, sc, "hot", contextd.ContextUpdate{Title: &title})
		if err != nil {
			t.Fatal(err)
		}
		acked.Store(got.Version)
		time.Sleep(3 * time.Millisecond) // let B fill and hit between writes
	}
	close(done)
	wg.Wait()
	if recB.get("hit") == 0 {
		t.Fatalf("replica B never hit: the test proved nothing: %v", recB.n)
	}
	t.Logf("replica B: %d hits, %d misses", recB.get("hit"), recB.get("miss"))
}

// TestRedisDown: reads fall back to the store, writes are refused before
// they reach it, and nothing stale is served when Redis is back.
func TestRedisDown(t *testing.T) {
	ctx := context.Background()
	store := openSQLite(t, t.TempDir(), nil)
	t.Cleanup(func() { store.Close() })
	up := cache.Wrap(store, newRedis(t, "down"), cache.Options{})
	rec := &counts{}
	gone := newRedis(t, "down")
	down := cache.Wrap(store, gone, cache.Options{Recorder: rec})
	t.Cleanup(func() { up.Backend().Close() })
	sc := contextd.Scope{Tenant: "acme"}
	if _, err := up.CreateContexts(ctx, sc, []contextd.ContextCreate{{ID: "x", Title: "kept"}}); err != nil {
		t.Fatal(err)
	}
	up.GetContext(ctx, sc, "x") // cached
	gone.Close()                // this replica loses Redis
	if got, err := down.GetContext(ctx, sc, "x"); err != nil || got.Title != "kept" {
		t.Fatalf("a read without Redis: %v %v", got, err)
	}
	if rec.get("error") != 1 {
		t.Fatalf("the failed lookup was not counted: %v", rec.n)
	}
	title := "changed"
	_, err := down.UpdateContext(ctx, sc, "x", contextd.ContextUpdate{Title: &title})
	if contextd.ErrorCode(err) != contextd.EUNAVAILABLE {
		t.Fatalf("a write without Redis: %v, want unavailable", err)
	}
	if got, _ := store.GetContext(ctx, sc, "x"); got.Title != "kept" || got.Version != 1 {
		t.Fatalf("the refused write reached the store: %+v", got)
	}
	if got, _ := up.GetContext(ctx, sc, "x"); got.Title != "kept" {
		t.Fatalf("the other replica: %+v", got)
	}
}

func TestNewRedisUnreachable(t *testing.T) {
	start := time.Now()
	_, err := cache.NewRedis(context.Background(), cache.RedisOptions{URL: "redis://127.0.0.1:1", Timeout: 200 * time.Millisecond})
	if err == nil {
		t.Fatal("no error for a closed port")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
	if _, err := cache.NewRedis(context.Background(), cache.RedisOptions{URL: "http://x"}); err == nil {
		t.Fatal("a bad URL was accepted")
	}
}
