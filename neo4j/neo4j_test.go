package neo4j_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/neo4j"
	"github.com/contextd/contextd/storetest"
)

// serverURI returns NEO4J_URI, or skips the test: the Neo4j tests need a
// server (tools/neo4j-test-server/test.sh starts one and runs them).
func serverURI(t *testing.T) string {
	t.Helper()
	uri := os.Getenv("NEO4J_URI")
	if uri == "" {
		t.Skip("NEO4J_URI is not set; run tools/neo4j-test-server/test.sh")
	}
	return uri
}

// runID keeps the namespaces of one test run apart from earlier runs on the
// same server.
var runID = func() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}()

// namespace maps a store name to its namespace: the same name gives the same
// namespace (reopen finds its data), another name an empty store.
func namespace(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "t" + runID + "-" + hex.EncodeToString(sum[:10])
}

func open(t *testing.T, name string, now func() time.Time) *neo4j.Store {
	t.Helper()
	s, err := neo4j.Open(context.Background(), neo4j.Options{
		URI: serverURI(t), Username: os.Getenv("NEO4J_USERNAME"), Password: os.Getenv("NEO4J_PASSWORD"),
		Database: os.Getenv("NEO4J_DATABASE"), Namespace: namespace(name), Now: now,
	})
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	serverURI(t)
	storetest.Run(t, func(t *testing.T, name string, now func() time.Time) contextd.Store {
		t.Helper()
		return open(t, name, now)
	})
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, uri := range []string{"", "http://localhost:7474", "not a uri"} {
		if _, err := neo4j.Open(ctx, neo4j.Options{URI: uri}); err == nil {
			t.Errorf("Open(%q): no error", uri)
		}
	}
	if _, err := neo4j.Open(ctx, neo4j.Options{URI: "bolt://127.0.0.1:7687", Namespace: "bad/namespace"}); err == nil {
		t.Errorf("a namespace with a slash was accepted")
	}
	// Nothing listens on port 1: EUNAVAILABLE, quickly.
	start := time.Now()
	_, err := neo4j.Open(ctx, neo4j.Options{URI: "bolt://127.0.0.1:1", ConnectTimeout: time.Second})
	if code := contextd.ErrorCode(err); code != contextd.EUNAVAILABLE {
		t.Errorf("Open of a closed port: code %q (%v), want unavailable", code, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Open of a closed port took %v", d)
	}
}

func TestClosedStore(t *testing.T) {
	s := open(t, "closed-"+runID, nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetContext(context.Background(), contextd.Scope{Tenant: "acme"}, "x")
	if code := contextd.ErrorCode(err); code != contextd.EUNAVAILABLE {
		t.Errorf("a call on a closed store: %q (%v), want unavailable", code, err)
	}
	if err := s.Ping(context.Background()); contextd.ErrorCode(err) != contextd.EUNAVAILABLE {
		t.Errorf("Ping on a closed store: %v", err)
	}
}

func TestSchemaMigrated(t *testing.T) {
	a := open(t, "schema-a", nil)
	b := open(t, "schema-b", nil) // a second store on the same database finds the schema in place
	for _, s := range []*neo4j.Store{a, b} {
		if err := s.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if neo4j.SchemaVersion() < 1 {
		t.Errorf("SchemaVersion %d", neo4j.SchemaVersion())
	}
}
