package neo4j

import (
	"context"
	"time"

	"github.com/contextd/contextd"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// The change log (migration 4): one (:ContextdChange {ns, sk, tenant, seq,
// at, principal, op, kind, oid, userId, version, state}) node per committed
// mutation, created in the mutation's transaction. Seqs come from one
// (:ContextdChangeSeq {ns, value}) counter node per namespace, write-locked
// before it is read, so concurrent writers take turns and a rolled-back
// transaction gives its numbers back: seqs are strictly increasing and
// continuous.

var _ contextd.ChangeLog = (*Store)(nil)

// changeRow is the stored form of a change (Seq is given by logChanges).
func (s *Store) changeRow(ch *contextd.Change, now time.Time) params {
	return params{"ns": s.ns, "sk": s.sk(ch.Tenant), "tenant": ch.Tenant, "at": nanos(now), "principal": ch.Principal,
		"op": ch.Op, "kind": ch.Kind, "oid": ch.ID, "userId": ch.UserID, "version": ch.Version, "state": ch.StoredState()}
}

// logChanges records changes in order, numbering them from the counter.
func (s *Store) logChanges(ctx context.Context, tx neo4j.ManagedTransaction, rows []any) error {
	if len(rows) == 0 {
		return nil
	}
	return exec(ctx, tx, `MERGE (q:ContextdChangeSeq {ns: $ns}) ON CREATE SET q.value = 0
		SET q.lock = true
		WITH q, q.value AS base
		SET q.value = base + size($rows)
		REMOVE q.lock
		WITH base
		UNWIND range(0, size($rows) - 1) AS i
		WITH base, i, $rows[i] AS row
		CREATE (c:ContextdChange) SET c = row, c.seq = base + i + 1`, params{"ns": s.ns, "rows": rows})
}

// putRow is the change recording rec's new state.
func (s *Store) putRow(sc contextd.Scope, op string, rec *contextd.Record, now time.Time) (params, error) {
	ch, err := contextd.PutChange(sc, op, rec)
	if err != nil {
		return nil, err
	}
	return s.changeRow(ch, now), nil
}

// deleteRow is the change recording a deletion.
func (s *Store) deleteRow(sc contextd.Scope, kind, id, userID string, version int64, now time.Time) params {
	return s.changeRow(contextd.DeleteChange(sc, kind, id, userID, version), now)
}

// logPut records the new state of rec's object.
func (s *Store) logPut(ctx context.Context, tx neo4j.ManagedTransaction, sc contextd.Scope, op string, rec *contextd.Record, now time.Time) error {
	row, err := s.putRow(sc, op, rec, now)
	if err != nil {
		return err
	}
	return s.logChanges(ctx, tx, []any{row})
}

// logSession records the current state of session id of the tenant.
func (s *Store) logSession(ctx context.Context, tx neo4j.ManagedTransaction, sc contextd.Scope, op, id string, now time.Time) error {
	row, err := single(ctx, tx, `MATCH (s:Session {uk: $uk})
		RETURN s {.id, .userId, .title, .metadata, .createdAt, .updatedAt, .lastActiveAt} AS s, 0 AS memories, 0 AS contexts`,
		params{"uk": uk(s.sk(sc.Tenant), id)})
	if err != nil || row == nil {
		return err
	}
	ss, err := decodeSession(row)
	if err != nil {
		return err
	}
	return s.logPut(ctx, tx, sc, op, &contextd.Record{Kind: contextd.KindSession, Tenant: sc.Tenant, Session: ss}, now)
}

func decodeChange(row map[string]any) *contextd.Change {
	c, _ := row["c"].(map[string]any)
	st, ok := c["state"].(string)
	return &contextd.Change{Seq: i64(c["seq"]), At: fromNanos(i64(c["at"])), Tenant: str(c["tenant"]), Principal: str(c["principal"]),
		Op: str(c["op"]), Kind: str(c["kind"]), ID: str(c["oid"]), UserID: str(c["userId"]), Version: i64(c["version"]),
		State: contextd.StateFromStored(st, ok)}
}

const changeReturn = ` RETURN c {.seq, .at, .tenant, .principal, .op, .kind, .oid, .userId, .version, .state} AS c`

// Changes implements contextd.ChangeLog.
func (s *Store) Changes(ctx context.Context, sc contextd.Scope, f contextd.ChangeFilter) ([]*contextd.Change, string, error) {
	w := newWhere(nil)
	w.add("c.sk = %s", s.sk(sc.Tenant))
	if sc.UserID != "" {
		w.add("c.userId = %s", sc.UserID)
	}
	if f.Kind != "" {
		w.add("c.kind = %s", f.Kind)
	}
	if f.ID != "" {
		w.add("c.oid = %s", f.ID)
	}
	if f.After > 0 {
		w.add("c.seq > %s", f.After)
	}
	if !f.Until.IsZero() {
		w.add("c.at <= %s", nanos(f.Until))
	}
	limit := f.StoreLimit()
	w.p["limit"] = int64(limit + 1)
	out := []*contextd.Change{}
	err := s.read(ctx, "changes", func(tx neo4j.ManagedTransaction) error {
		out = out[:0]
		rows, err := collect(ctx, tx, `MATCH (c:ContextdChange) WHERE `+w.String()+changeReturn+` ORDER BY c.seq LIMIT $limit`, w.p)
		if err != nil {
			return err
		}
		for _, r := range rows {
			out = append(out, decodeChange(r))
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	out, next := contextd.CutPage(out, limit, contextd.ChangeSeqCursor)
	return out, next, nil
}

// changePage is how many changes one read of ReadChanges takes.
const changePage = 1000

// ReadChanges implements contextd.ChangeLog.
func (s *Store) ReadChanges(ctx context.Context, after, upTo int64, fn func(*contextd.Change) error) error {
	if upTo <= 0 {
		upTo = 1<<63 - 1
	}
	return contextd.ReadChangePages(after, changePage, func(after int64) (page []*contextd.Change, err error) {
		err = s.read(ctx, "read changes", func(tx neo4j.ManagedTransaction) error {
			page = page[:0]
			rows, err := collect(ctx, tx, `MATCH (c:ContextdChange) WHERE c.ns = $ns AND c.seq > $after AND c.seq <= $upTo`+
				changeReturn+` ORDER BY c.seq LIMIT $limit`, params{"ns": s.ns, "after": after, "upTo": upTo, "limit": int64(changePage)})
			if err != nil {
				return err
			}
			for _, r := range rows {
				page = append(page, decodeChange(r))
			}
			return nil
		})
		return page, err
	}, fn)
}

// LastChange implements contextd.ChangeLog: the counter, which pruning
// leaves alone.
func (s *Store) LastChange(ctx context.Context) (int64, error) {
	var seq int64
	err := s.read(ctx, "last change", func(tx neo4j.ManagedTransaction) error {
		row, err := single(ctx, tx, `MATCH (q:ContextdChangeSeq {ns: $ns}) RETURN q.value AS v`, params{"ns": s.ns})
		if row != nil {
			seq = i64(row["v"])
		}
		return err
	})
	return seq, err
}

// PruneChanges implements contextd.ChangeLog, in batches of 10,000.
func (s *Store) PruneChanges(ctx context.Context, upTo int64) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.write(ctx, "prune changes", func(tx neo4j.ManagedTransaction) error {
			row, err := single(ctx, tx, `MATCH (c:ContextdChange) WHERE c.ns = $ns AND c.seq <= $upTo
				WITH c LIMIT 10000 DELETE c RETURN count(*) AS n`, params{"ns": s.ns, "upTo": upTo})
			if row != nil {
				n = i64(row["n"])
			}
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < 10000 {
			return total, nil
		}
	}
}

// RestoreObjects implements contextd.ChangeLog.
func (s *Store) RestoreObjects(ctx context.Context, sc contextd.Scope, del []contextd.ObjectRef, recs []*contextd.Record) error {
	now := s.clock()
	tenant := contextd.Scope{Tenant: sc.Tenant, Principal: sc.Principal}
	type put struct {
		kind string
		row  params
		log  params
	}
	puts := make([]put, len(recs))
	for i, rec := range recs {
		if rec.Kind == contextd.KindAPIKey {
			return contextd.Errorf(contextd.EINVALID, "record %d: API keys are not restored selectively", i)
		}
		rec.Tenant = sc.Tenant
		row, err := s.importRow(rec)
		if err != nil {
			return err
		}
		lg, err := s.putRow(tenant, contextd.OpRestore, rec, now)
		if err != nil {
			return err
		}
		puts[i] = put{rec.Kind, row, lg}
	}
	return s.write(ctx, "restore objects", func(tx neo4j.ManagedTransaction) error {
		for _, ref := range del {
			var err error
			switch ref.Kind {
			case contextd.KindContext:
				err = s.deleteContextTx(ctx, tx, tenant, ref.ID, now)
			case contextd.KindRelationship:
				err = s.deleteRelationshipTx(ctx, tx, tenant, ref.ID, now)
			case contextd.KindMemory:
				err = s.deleteMemoryTx(ctx, tx, tenant, ref.ID, time.Time{}, now)
			case contextd.KindSession:
				err = s.deleteSessionTx(ctx, tx, tenant, ref.ID, now)
			default:
				err = contextd.Errorf(contextd.EINVALID, "unknown kind %q", ref.Kind)
			}
			if err != nil && contextd.ErrorCode(err) != contextd.ENOTFOUND {
				return err
			}
		}
		for i, p := range puts {
			if err := s.importRun(ctx, tx, p.kind, []any{p.row}, i); err != nil {
				return err
			}
			if err := s.logChanges(ctx, tx, []any{p.log}); err != nil {
				return err
			}
		}
		return nil
	})
}

// deleteContextTx deletes a visible context with its edges, logging each.
func (s *Store) deleteContextTx(ctx context.Context, tx neo4j.ManagedTransaction, sc contextd.Scope, id string, now time.Time) error {
	w := newWhere(nil)
	s.visible(w, sc, "c")
	w.p["uk"] = uk(s.sk(sc.Tenant), id)
	row, err := single(ctx, tx, `MATCH (c:Context {uk: $uk}) WHERE `+w.String()+`
		WITH c, c.userId AS uid, c.version AS v, [(c)-[r:LINK]-() | r.id] AS edges
		DETACH DELETE c RETURN uid, v, edges`, w.p)
	if err != nil {
		return err
	}
	if row == nil {
		return notFound("context", id)
	}
	var rows []any
	for _, e := range strs(row["edges"]) {
		rows = append(rows, s.deleteRow(sc, contextd.KindRelationship, e, "", 0, now))
	}
	rows = append(rows, s.deleteRow(sc, contextd.KindContext, id, str(row["uid"]), i64(row["v"]), now))
	return s.logChanges(ctx, tx, rows)
}

// deleteRelationshipTx deletes one visible edge and logs it.
func (s *Store) deleteRelationshipTx(ctx context.Context, tx neo4j.ManagedTransaction, sc contextd.Scope, id string, now time.Time) error {
	w := newWhere(params{"uk": uk(s.sk(sc.Tenant), id)})
	s.edgeVisible(w, sc)
	row, err := single(ctx, tx, `MATCH (a:Context)-[r:LINK {uk: $uk}]->(b:Context) WHERE `+w.String()+` DELETE r RETURN true AS gone`, w.p)
	if err != nil {
		return err
	}
	if row == nil {
		return notFound("relationship", id)
	}
	return s.logChanges(ctx, tx, []any{s.deleteRow(sc, contextd.KindRelationship, id, "", 0, now)})
}

// deleteMemoryTx deletes one visible memory live at liveAt (any memory when
// liveAt is zero) and logs it.
func (s *Store) deleteMemoryTx(ctx context.Context, tx neo4j.ManagedTransaction, sc contextd.Scope, id string, liveAt, now time.Time) error {
	w := newWhere(params{"uk": uk(s.sk(sc.Tenant), id)})
	if liveAt.IsZero() {
		s.visible(w, sc, "m")
	} else {
		s.live(w, sc, "m", liveAt)
	}
	row, err := single(ctx, tx, `MATCH (m:Memory {uk: $uk}) WHERE `+w.String()+`
		WITH m, m.userId AS uid, m.version AS v DETACH DELETE m RETURN uid, v`, w.p)
	if err != nil {
		return err
	}
	if row == nil {
		return notFound("memory", id)
	}
	return s.logChanges(ctx, tx, []any{s.deleteRow(sc, contextd.KindMemory, id, str(row["uid"]), i64(row["v"]), now)})
}

// deleteSessionTx deletes a visible session and its memories, logging each.
func (s *Store) deleteSessionTx(ctx context.Context, tx neo4j.ManagedTransaction, sc contextd.Scope, id string, now time.Time) error {
	sk := s.sk(sc.Tenant)
	w := newWhere(params{"uk": uk(sk, id)})
	s.visible(w, sc, "s")
	row, err := single(ctx, tx, `MATCH (s:Session {uk: $uk}) WHERE `+w.String()+` WITH s, s.userId AS uid DETACH DELETE s RETURN uid`, w.p)
	if err != nil {
		return err
	}
	if row == nil {
		return notFound("session", id)
	}
	gone, err := collect(ctx, tx, `MATCH (m:Memory) WHERE m.sk = $sk AND m.sessionId = $id
		WITH m, m.id AS id, m.userId AS uid, m.version AS v ORDER BY m.createdAt, m.id DETACH DELETE m RETURN id, uid, v`,
		params{"sk": sk, "id": id})
	if err != nil {
		return err
	}
	var rows []any
	for _, g := range gone {
		rows = append(rows, s.deleteRow(sc, contextd.KindMemory, str(g["id"]), str(g["uid"]), i64(g["v"]), now))
	}
	rows = append(rows, s.deleteRow(sc, contextd.KindSession, id, str(row["uid"]), 0, now))
	return s.logChanges(ctx, tx, rows)
}

// ImportChanges implements contextd.ChangeLog: the changes are created with
// their seqs and the counter moves to the highest.
func (s *Store) ImportChanges(ctx context.Context, chs []*contextd.Change) error {
	if len(chs) == 0 {
		return nil
	}
	rows := make([]any, len(chs))
	var top int64
	for i, ch := range chs {
		row := s.changeRow(ch, ch.At)
		row["seq"] = ch.Seq
		rows[i] = row
		top = max(top, ch.Seq)
	}
	return s.write(ctx, "import changes", func(tx neo4j.ManagedTransaction) error {
		taken, err := single(ctx, tx, `UNWIND $rows AS row MATCH (c:ContextdChange {ns: $ns, seq: row.seq}) RETURN c.seq AS seq LIMIT 1`,
			params{"ns": s.ns, "rows": rows})
		if err != nil {
			return err
		}
		if taken != nil {
			return contextd.Errorf(contextd.ECONFLICT, "change %d is already in the log", i64(taken["seq"]))
		}
		return exec(ctx, tx, `MERGE (q:ContextdChangeSeq {ns: $ns}) ON CREATE SET q.value = 0
			SET q.lock = true
			WITH q SET q.value = CASE WHEN q.value < $top THEN $top ELSE q.value END
			REMOVE q.lock
			WITH q UNWIND $rows AS row CREATE (c:ContextdChange) SET c = row`, params{"ns": s.ns, "rows": rows, "top": top})
	})
}
