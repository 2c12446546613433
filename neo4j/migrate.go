package neo4j

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// migration is one versioned schema change. Each statement runs in its own
// transaction (Neo4j does not mix schema and data writes in one) and is
// idempotent (IF NOT EXISTS), so a migration cut short, or run by two
// contextd processes at once, is simply run again. A migration is recorded
// as a (:ContextdMigration {version}) node once its indexes are online.
type migration struct {
	version int
	name    string
	stmts   []string
}

// migrations, in version order. Never edit one that has shipped: add another.
var migrations = []migration{
	{1, "init", []string{
		// Uniqueness: ids are unique per tenant (uk = scope key/id), a key's
		// hash per namespace, an edge per (source, target, type) (dk).
		`CREATE CONSTRAINT contextd_migration_version IF NOT EXISTS FOR (n:ContextdMigration) REQUIRE n.version IS UNIQUE`,
		`CREATE CONSTRAINT context_uk IF NOT EXISTS FOR (n:Context) REQUIRE n.uk IS UNIQUE`,
		`CREATE CONSTRAINT memory_uk IF NOT EXISTS FOR (n:Memory) REQUIRE n.uk IS UNIQUE`,
		`CREATE CONSTRAINT session_uk IF NOT EXISTS FOR (n:Session) REQUIRE n.uk IS UNIQUE`,
		`CREATE CONSTRAINT tenant_sk IF NOT EXISTS FOR (n:Tenant) REQUIRE n.sk IS UNIQUE`,
		`CREATE CONSTRAINT apikey_uk IF NOT EXISTS FOR (n:ApiKey) REQUIRE n.uk IS UNIQUE`,
		`CREATE CONSTRAINT apikey_hk IF NOT EXISTS FOR (n:ApiKey) REQUIRE n.hk IS UNIQUE`,
		`CREATE CONSTRAINT link_uk IF NOT EXISTS FOR ()-[r:LINK]-() REQUIRE r.uk IS UNIQUE`,
		`CREATE CONSTRAINT link_dk IF NOT EXISTS FOR ()-[r:LINK]-() REQUIRE r.dk IS UNIQUE`,
		// Lists go by (scope, createdAt); sessions count their contexts and
		// memories by (scope, sessionId).
		`CREATE INDEX context_sk_created IF NOT EXISTS FOR (n:Context) ON (n.sk, n.createdAt)`,
		`CREATE INDEX context_sk_session IF NOT EXISTS FOR (n:Context) ON (n.sk, n.sessionId)`,
		`CREATE INDEX memory_sk_created IF NOT EXISTS FOR (n:Memory) ON (n.sk, n.createdAt)`,
		`CREATE INDEX memory_sk_session IF NOT EXISTS FOR (n:Memory) ON (n.sk, n.sessionId)`,
		`CREATE INDEX session_sk_created IF NOT EXISTS FOR (n:Session) ON (n.sk, n.createdAt)`,
		`CREATE INDEX apikey_ns_created IF NOT EXISTS FOR (n:ApiKey) ON (n.ns, n.createdAt)`,
		// Full text: the whitespace analyzer over text contextd has already
		// split, lower-cased and folded (normText), plus the tenant token.
		// Not eventually consistent: a search sees the writes committed before it.
		"CREATE FULLTEXT INDEX context_text IF NOT EXISTS FOR (n:Context) ON EACH [n.ftTitle, n.ftContent, n.ftk] " +
			"OPTIONS {indexConfig: {`fulltext.analyzer`: 'whitespace', `fulltext.eventually_consistent`: false}}",
		"CREATE FULLTEXT INDEX memory_text IF NOT EXISTS FOR (n:Memory) ON EACH [n.ftContent, n.ftk] " +
			"OPTIONS {indexConfig: {`fulltext.analyzer`: 'whitespace', `fulltext.eventually_consistent`: false}}",
	}},
	{2, "security", []string{
		// One key generation counter per namespace (see APIKeyGeneration).
		`CREATE CONSTRAINT keygeneration_ns IF NOT EXISTS FOR (n:KeyGeneration) REQUIRE n.ns IS UNIQUE`,
		// The audit trail, listed per tenant newest first.
		`CREATE CONSTRAINT audit_uk IF NOT EXISTS FOR (n:Audit) REQUIRE n.uk IS UNIQUE`,
		`CREATE INDEX audit_ns_tenant_id IF NOT EXISTS FOR (n:Audit) ON (n.ns, n.tenant, n.id)`,
		// Idempotency records by (namespace, tenant, credential, key), purged by age.
		`CREATE CONSTRAINT idempotency_ik IF NOT EXISTS FOR (n:Idempotency) REQUIRE n.ik IS UNIQUE`,
		`CREATE INDEX idempotency_ns_created IF NOT EXISTS FOR (n:Idempotency) ON (n.ns, n.createdAt)`,
	}},
	// Semantic search: nodes carry vec and vecModel; `contextd reindex`
	// finds the nodes without a vector of the current model by vecModel.
	{3, "vectors", []string{
		`CREATE INDEX context_vec_model IF NOT EXISTS FOR (n:Context) ON (n.vecModel)`,
		`CREATE INDEX memory_vec_model IF NOT EXISTS FOR (n:Memory) ON (n.vecModel)`,
	}},
	{4, "changelog", []string{
		// One seq counter per namespace (MERGE relies on the constraint).
		`CREATE CONSTRAINT change_seq_ns IF NOT EXISTS FOR (n:ContextdChangeSeq) REQUIRE n.ns IS UNIQUE`,
		// Replay and pruning go by (namespace, seq); history by object.
		`CREATE INDEX change_ns_seq IF NOT EXISTS FOR (n:ContextdChange) ON (n.ns, n.seq)`,
		`CREATE INDEX change_object IF NOT EXISTS FOR (n:ContextdChange) ON (n.sk, n.kind, n.oid)`,
	}},
}

// SchemaVersion is the version of the newest migration.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

// migrateMu serializes migrations of the stores of one process (tests open
// many at once); other processes are covered by idempotent statements.
var migrateMu sync.Mutex

// migrate applies the migrations the database has not recorded.
func (s *Store) migrate(ctx context.Context) error {
	migrateMu.Lock()
	defer migrateMu.Unlock()
	applied := map[int]bool{}
	err := s.read(ctx, "read migrations", func(tx neo4j.ManagedTransaction) error {
		rows, err := collect(ctx, tx, `MATCH (m:ContextdMigration) RETURN m.version AS v`, nil)
		for _, r := range rows {
			applied[int(i64(r["v"]))] = true
		}
		return err
	})
	if err != nil {
		return err
	}
	for _, m := range migrations {
		if applied[m.version] {
			continue
		}
		s.log.Info("applying migration", "version", m.version, "name", m.name)
		for _, stmt := range m.stmts {
			err := s.write(ctx, fmt.Sprintf("migration %d", m.version), func(tx neo4j.ManagedTransaction) error {
				return exec(ctx, tx, stmt, nil)
			})
			if err != nil && !alreadyExists(err) {
				return fmt.Errorf("neo4j: migration %d (%s): %w", m.version, m.name, err)
			}
		}
		err := s.write(ctx, "await indexes", func(tx neo4j.ManagedTransaction) error {
			return exec(ctx, tx, `CALL db.awaitIndexes(300)`, nil)
		})
		if err != nil {
			return fmt.Errorf("neo4j: migration %d (%s): indexes: %w", m.version, m.name, err)
		}
		err = s.write(ctx, "record migration", func(tx neo4j.ManagedTransaction) error {
			return exec(ctx, tx, `MERGE (m:ContextdMigration {version: $v})
				ON CREATE SET m.name = $name, m.appliedAt = $at`, params{"v": int64(m.version), "name": m.name, "at": nanos(s.clock())})
		})
		if err != nil {
			return fmt.Errorf("neo4j: migration %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

// alreadyExists reports whether a schema statement lost a race with another
// process creating the same index or constraint.
func alreadyExists(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "EquivalentSchemaRuleAlreadyExists") || strings.Contains(msg, "AlreadyExists")
}
