package neo4j

import (
	"context"
	"strconv"

	"github.com/contextd/contextd"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

var (
	_ contextd.Exporter = (*Store)(nil)
	_ contextd.Importer = (*Store)(nil)
)

// exportPage is how many records one read transaction of Export takes.
const exportPage = 1000

// Export implements contextd.Exporter, for the store's namespace. Records
// are read in pages by their unique key, each page in its own read
// transaction and handed to fn outside it; run it on a store nobody writes
// to for an exact copy.
func (s *Store) Export(ctx context.Context, fn func(*contextd.Record) error) error {
	err := s.exportPages(ctx, "export api keys",
		`MATCH (a:ApiKey) WHERE a.ns = $ns AND a.uk > $after RETURN a.uk AS pos, a`+keyProj+` AS a, a.hash AS hash ORDER BY a.uk LIMIT $lim`,
		params{"ns": s.ns}, func(row map[string]any) (*contextd.Record, error) {
			k, err := decodeKey(row["a"])
			if err != nil {
				return nil, err
			}
			return &contextd.Record{Kind: contextd.KindAPIKey, Tenant: k.Tenant, APIKey: k, KeyHash: str(row["hash"])}, nil
		}, fn)
	if err != nil {
		return err
	}
	// The tenants of the namespace: their scope keys are the tenant alone
	// (no namespace) or namespace/tenant.
	nsCond, p := `NOT n.sk CONTAINS '/'`, params{}
	if s.ns != "" {
		nsCond, p = `n.sk STARTS WITH $prefix`, params{"prefix": s.ns + "/"}
	}
	var tenants []string
	err = s.read(ctx, "export tenants", func(tx neo4j.ManagedTransaction) error {
		tenants = tenants[:0]
		rows, err := collect(ctx, tx, `MATCH (n) WHERE (n:Context OR n:Session OR n:Memory) AND `+nsCond+`
			RETURN DISTINCT n.tenant AS t ORDER BY t`, p)
		for _, r := range rows {
			tenants = append(tenants, str(r["t"]))
		}
		return err
	})
	if err != nil {
		return err
	}
	for _, t := range tenants {
		sk := s.sk(t)
		tp := params{"prefix": sk + "/"}
		steps := []struct {
			op, query string
			decode    func(map[string]any) (*contextd.Record, error)
		}{
			{"export sessions", `MATCH (s:Session) WHERE s.uk STARTS WITH $prefix AND s.uk > $after
				RETURN s.uk AS pos, s {.id, .userId, .title, .metadata, .createdAt, .updatedAt, .lastActiveAt} AS s,
				0 AS memories, 0 AS contexts ORDER BY s.uk LIMIT $lim`,
				func(row map[string]any) (*contextd.Record, error) {
					ss, err := decodeSession(row)
					return &contextd.Record{Kind: contextd.KindSession, Tenant: t, Session: ss}, err
				}},
			{"export contexts", `MATCH (c:Context) WHERE c.uk STARTS WITH $prefix AND c.uk > $after
				RETURN c.uk AS pos, c` + ctxProj + ` AS c ORDER BY c.uk LIMIT $lim`,
				func(row map[string]any) (*contextd.Record, error) {
					c, err := decodeContext(row["c"])
					if c != nil {
						c.Relationships = nil
					}
					return &contextd.Record{Kind: contextd.KindContext, Tenant: t, Context: c}, err
				}},
			{"export relationships", `MATCH (a:Context)-[r:LINK]->(b:Context) WHERE r.uk STARTS WITH $prefix AND r.uk > $after
				RETURN r.uk AS pos, r.id AS id, r.type AS type, a.id AS src, b.id AS dst, r.props AS props, r.createdAt AS at
				ORDER BY r.uk LIMIT $lim`,
				func(row map[string]any) (*contextd.Record, error) {
					r, err := decodeRel(row)
					return &contextd.Record{Kind: contextd.KindRelationship, Tenant: t, Relationship: r}, err
				}},
			{"export memories", `MATCH (m:Memory) WHERE m.uk STARTS WITH $prefix AND m.uk > $after
				RETURN m.uk AS pos, m` + memProj + ` AS m ORDER BY m.uk LIMIT $lim`,
				func(row map[string]any) (*contextd.Record, error) {
					m, err := decodeMemory(row["m"])
					return &contextd.Record{Kind: contextd.KindMemory, Tenant: t, Memory: m}, err
				}},
		}
		for _, st := range steps {
			if err := s.exportPages(ctx, st.op, st.query, tp, st.decode, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// exportPages pages through query by its pos column ($after, $lim) and
// calls fn with each decoded record.
func (s *Store) exportPages(ctx context.Context, op, query string, p params,
	decode func(map[string]any) (*contextd.Record, error), fn func(*contextd.Record) error) error {
	after := ""
	for {
		var page []*contextd.Record
		err := s.read(ctx, op, func(tx neo4j.ManagedTransaction) error {
			page = page[:0]
			q := params{"after": after, "lim": int64(exportPage)}
			for k, v := range p {
				q[k] = v
			}
			rows, err := collect(ctx, tx, query, q)
			if err != nil {
				return err
			}
			for _, row := range rows {
				rec, err := decode(row)
				if err != nil {
					return err
				}
				page = append(page, rec)
			}
			if len(rows) > 0 {
				after = str(rows[len(rows)-1]["pos"])
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, rec := range page {
			if err := fn(rec); err != nil {
				return err
			}
		}
		if len(page) < exportPage {
			return nil
		}
	}
}

// Import implements contextd.Importer: runs of records of one kind are
// written with one UNWIND statement each, in one transaction.
func (s *Store) Import(ctx context.Context, recs []*contextd.Record) error {
	if len(recs) == 0 {
		return nil
	}
	// Build every row first: a bad record fails before anything runs.
	type run struct {
		kind string
		rows []any
		from int // index of the first record, for messages
	}
	var runs []*run
	for i, rec := range recs {
		row, err := s.importRow(rec)
		if err != nil {
			if e, ok := err.(*contextd.Error); ok {
				return &contextd.Error{Code: e.Code, Message: "record " + strconv.Itoa(i) + ": " + e.Message}
			}
			return err
		}
		if n := len(runs); n == 0 || runs[n-1].kind != rec.Kind {
			runs = append(runs, &run{kind: rec.Kind, from: i})
		}
		r := runs[len(runs)-1]
		r.rows = append(r.rows, row)
	}
	return s.write(ctx, "import", func(tx neo4j.ManagedTransaction) error {
		for _, r := range runs {
			if err := s.importRun(ctx, tx, r.kind, r.rows, r.from); err != nil {
				return err
			}
		}
		return nil
	})
}

// importRow is the stored form of one record.
func (s *Store) importRow(rec *contextd.Record) (params, error) {
	if rec == nil {
		return nil, contextd.Errorf(contextd.EINVALID, "a nil record")
	}
	missing := contextd.Errorf(contextd.EINVALID, "a %s record without its object", rec.Kind)
	sc := contextd.Scope{Tenant: rec.Tenant}
	sk := s.sk(rec.Tenant)
	switch rec.Kind {
	case contextd.KindAPIKey:
		k := rec.APIKey
		if k == nil || rec.KeyHash == "" {
			return nil, missing
		}
		return params{"sk": s.sk(k.Tenant), "tenant": k.Tenant, "ns": s.ns, "uk": s.nsKey(k.ID), "hk": s.nsKey(rec.KeyHash),
			"id": k.ID, "hash": rec.KeyHash, "role": string(k.Role), "name": k.Name, "userId": k.UserID, "prefix": k.Prefix,
			"createdAt": nanos(k.CreatedAt), "expiresAt": nullNanos(k.ExpiresAt), "revokedAt": nullNanos(k.RevokedAt),
			"scopes": contextd.JoinPermissions(k.Scopes, " ")}, nil
	case contextd.KindSession:
		ss := rec.Session
		if ss == nil {
			return nil, missing
		}
		meta, err := jsonText(orEmpty(ss.Metadata))
		if err != nil {
			return nil, err
		}
		return params{"uk": uk(sk, ss.ID), "sk": sk, "tenant": rec.Tenant, "id": ss.ID, "userId": ss.UserID, "title": ss.Title,
			"metadata": meta, "createdAt": nanos(ss.CreatedAt), "updatedAt": nanos(ss.UpdatedAt), "lastActiveAt": nanos(ss.LastActiveAt)}, nil
	case contextd.KindContext:
		if rec.Context == nil {
			return nil, missing
		}
		c := *rec.Context
		if c.Tags == nil {
			c.Tags = []string{}
		}
		c.Metadata = orEmpty(c.Metadata)
		return s.contextProps(sc, &c)
	case contextd.KindRelationship:
		r := rec.Relationship
		if r == nil {
			return nil, missing
		}
		props, err := jsonText(orEmpty(r.Properties))
		if err != nil {
			return nil, err
		}
		return params{"a": uk(sk, r.SourceID), "b": uk(sk, r.TargetID), "uk": uk(sk, r.ID), "sk": sk,
			"dk": sk + "/" + r.SourceID + "/" + r.TargetID + "/" + r.Type, "id": r.ID, "type": r.Type, "props": props,
			"at": nanos(r.CreatedAt), "src": r.SourceID, "dst": r.TargetID}, nil
	case contextd.KindMemory:
		if rec.Memory == nil {
			return nil, missing
		}
		m := *rec.Memory
		if m.Tags == nil {
			m.Tags = []string{}
		}
		m.Metadata = orEmpty(m.Metadata)
		return s.memoryProps(sc, &m)
	}
	return nil, contextd.Errorf(contextd.EINVALID, "unknown record kind %q", rec.Kind)
}

// importRun writes rows of one kind. Taken ids fail on the uniqueness
// constraints (ECONFLICT, see fail).
func (s *Store) importRun(ctx context.Context, tx neo4j.ManagedTransaction, kind string, rows []any, from int) error {
	p := params{"rows": rows}
	switch kind {
	case contextd.KindAPIKey:
		if err := s.bumpKeyGeneration(ctx, tx); err != nil {
			return err
		}
		return exec(ctx, tx, `UNWIND $rows AS row
			MERGE (t:Tenant {sk: row.sk}) ON CREATE SET t.name = row.tenant, t.ns = row.ns, t.createdAt = row.createdAt
			CREATE (a:ApiKey) SET a = row {.uk, .hk, .ns, .id, .tenant, .hash, .role, .name, .userId, .prefix, .createdAt, .expiresAt, .revokedAt, .scopes}`, p)
	case contextd.KindSession:
		return exec(ctx, tx, `UNWIND $rows AS row CREATE (s:Session) SET s = row`, p)
	case contextd.KindContext:
		return exec(ctx, tx, `UNWIND $rows AS row CREATE (c:Context) SET c = row`, p)
	case contextd.KindMemory:
		return exec(ctx, tx, `UNWIND $rows AS row CREATE (m:Memory) SET m = row`, p)
	case contextd.KindRelationship:
		missing, err := collect(ctx, tx, `UNWIND range(0, size($rows) - 1) AS i WITH i, $rows[i] AS row
			WHERE NOT EXISTS { MATCH (:Context {uk: row.a}) } OR NOT EXISTS { MATCH (:Context {uk: row.b}) }
			RETURN i, row.src AS src, row.dst AS dst LIMIT 1`, p)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			return contextd.Errorf(contextd.ENOTFOUND, "record %d: a context of relationship %s -> %s is not in the store",
				from+int(i64(missing[0]["i"])), str(missing[0]["src"]), str(missing[0]["dst"]))
		}
		return exec(ctx, tx, `UNWIND $rows AS row MATCH (a:Context {uk: row.a}), (b:Context {uk: row.b})
			CREATE (a)-[:LINK {uk: row.uk, dk: row.dk, sk: row.sk, id: row.id, type: row.type, props: row.props, createdAt: row.at}]->(b)`, p)
	}
	return contextd.Errorf(contextd.EINVALID, "unknown record kind %q", kind)
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
