package neo4j

import (
	"context"
	"fmt"
	"time"

	"github.com/contextd/contextd"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

var _ contextd.Checker = (*Store)(nil)

// Check implements contextd.Checker for the store's namespace. Neo4j keeps
// its own indexes consistent with the nodes in each transaction, so the
// checks are of what contextd itself keeps beside the nodes:
//   - full-text: each full-text index is ONLINE (a failed or populating
//     index finds nothing), and every context and memory carries its
//     tenant's search token (without it, searches miss the node);
//   - change log: its seqs are continuous from the oldest retained change to
//     the counter (counts on the change_ns_seq index), and the newest
//     contextd.ChangeTail changes are in time order and agree with their
//     objects;
//   - vectors: every context and memory created since the namespace first
//     stored a vector of its kind has one, of opts.VectorModel and its
//     length opts.VectorDims; vec and vecModel come together (one pass over
//     the nodes of each kind).
//
// opts.Full compares the whole change log with every node and every logged
// object (one index seek each, a page of 1,000 nodes per read transaction).
// Every check only reads. Neo4j reads are not one snapshot, so an object
// found disagreeing with its newest change is read again after a moment
// and reported only when it still disagrees (a write that committed between
// two reads is no alarm).
func (s *Store) Check(ctx context.Context, opts contextd.CheckOptions) (*contextd.CheckReport, error) {
	start := time.Now()
	rep := &contextd.CheckReport{OK: true, Full: opts.Full, StartedAt: s.clock()}
	add := func(it contextd.CheckItem) {
		rep.Items = append(rep.Items, it)
		rep.OK = rep.OK && it.OK
	}
	if err := s.checkFullText(ctx, add); err != nil {
		return nil, err
	}
	if err := s.checkChangeLog(ctx, opts.Full, add); err != nil {
		return nil, err
	}
	if err := s.checkVectors(ctx, opts, add); err != nil {
		return nil, err
	}
	rep.DurationMs = float64(time.Since(start).Microseconds()) / 1000
	return rep, nil
}

// nsNodes is the condition that node n is of the store's namespace (its
// scope key is the tenant alone, or namespace/tenant), with its parameters.
func (s *Store) nsNodes(n string) (string, params) {
	if s.ns == "" {
		return `NOT ` + n + `.sk CONTAINS '/'`, params{"ns": s.ns}
	}
	return n + `.sk STARTS WITH $prefix`, params{"ns": s.ns, "prefix": s.ns + "/"}
}

// checkFullText adds an item per full-text index.
func (s *Store) checkFullText(ctx context.Context, add func(contextd.CheckItem)) error {
	for _, ix := range []struct{ index, label string }{{"context_text", "Context"}, {"memory_text", "Memory"}} {
		it := contextd.CheckItem{Name: ix.index + " index", OK: true}
		err := s.read(ctx, "check "+ix.index, func(tx neo4j.ManagedTransaction) error {
			row, err := single(ctx, tx, `SHOW INDEXES YIELD name, state, populationPercent WHERE name = $name
				RETURN state, populationPercent AS pct`, params{"name": ix.index})
			if err != nil {
				return err
			}
			if row == nil {
				it.OK, it.Detail = false, "the index does not exist"
				return nil
			}
			if st := str(row["state"]); st != "ONLINE" {
				it.OK, it.Detail = false, fmt.Sprintf("the index is %s (%v%% populated)", st, row["pct"])
				return nil
			}
			// Each tenant's nodes carry its token: count them per tenant.
			cond, p := s.nsNodes("n")
			rows, err := collect(ctx, tx, `MATCH (n:`+ix.label+`) WHERE `+cond+`
				RETURN n.sk AS sk, count(n) AS rows, collect(DISTINCT n.ftk)[..3] AS tokens, count(n.ftk) AS tokened,
				count(n.ftContent) AS texts`, p)
			if err != nil {
				return err
			}
			var bad int64
			var example string
			for _, r := range rows {
				n := i64(r["rows"])
				it.Rows += n
				toks := strs(r["tokens"])
				want := ftk(str(r["sk"]))
				if len(toks) == 1 && toks[0] == want && i64(r["tokened"]) == n && i64(r["texts"]) == n {
					it.Indexed += n
					continue
				}
				// Count the tenant's nodes that lack the token or the text.
				row, err := single(ctx, tx, `MATCH (n:`+ix.label+` {sk: $sk}) WHERE n.ftk IS NULL OR n.ftk <> $ftk OR n.ftContent IS NULL
					RETURN count(n) AS bad, collect(n.id)[0] AS id`, params{"sk": str(r["sk"]), "ftk": want})
				if err != nil {
					return err
				}
				b := i64(row["bad"])
				bad += b
				it.Indexed += n - b
				if example == "" && b > 0 {
					example = str(r["sk"]) + "/" + str(row["id"])
				}
			}
			if bad > 0 {
				it.OK = false
				it.Detail = fmt.Sprintf("%d %s nodes lack their tenant's search token or text, so searches miss them (e.g. %s)",
					bad, ix.label, example)
			}
			return nil
		})
		if err != nil {
			return err
		}
		add(it)
	}
	return nil
}

// changeSpan reads the retained log's extent.
func (s *Store) changeSpan(ctx context.Context) (contextd.ChangeLogSpan, error) {
	var sp contextd.ChangeLogSpan
	err := s.read(ctx, "check change log", func(tx neo4j.ManagedTransaction) error {
		// The counter first: changes committed meanwhile only raise Newest.
		row, err := single(ctx, tx, `MATCH (q:ContextdChangeSeq {ns: $ns}) RETURN q.value AS v`, params{"ns": s.ns})
		if err != nil {
			return err
		} else if row != nil {
			sp.Last = i64(row["v"])
		}
		row, err = single(ctx, tx, `MATCH (c:ContextdChange) WHERE c.ns = $ns
			RETURN count(c) AS n, min(c.seq) AS oldest, max(c.seq) AS newest`, params{"ns": s.ns})
		if err != nil {
			return err
		}
		sp.Count, sp.Oldest, sp.Newest = i64(row["n"]), i64(row["oldest"]), i64(row["newest"])
		if sp.Count > 0 {
			row, err := single(ctx, tx, `MATCH (c:ContextdChange) WHERE c.ns = $ns AND c.seq = $seq RETURN c.at AS at`,
				params{"ns": s.ns, "seq": sp.Oldest})
			if err != nil {
				return err
			}
			sp.OldestAt = fromNanos(i64(row["at"]))
		}
		return nil
	})
	return sp, err
}

// loggedKind is a kind of object the change log records: how to match its
// node (n) or edge, and its version and stamp (contextd.LoggedObject).
type loggedKind struct{ kind, match, version, stamp string }

var loggedKinds = []loggedKind{
	{contextd.KindContext, `MATCH (n:Context)`, `n.version`, `n.updatedAt`},
	{contextd.KindMemory, `MATCH (n:Memory)`, `n.version`, `n.updatedAt`},
	{contextd.KindSession, `MATCH (n:Session)`, `0`,
		`CASE WHEN n.lastActiveAt > n.updatedAt THEN n.lastActiveAt ELSE n.updatedAt END`},
	{contextd.KindRelationship, `MATCH ()-[n:LINK]->()`, `0`, `n.createdAt`},
}

// objRef names an object of the namespace by its scope key and id.
type objRef struct{ sk, id string }

// observed is an object as one read found it: its node (live) and its
// newest change (obj.Newest, nil when the log has none).
type observed struct {
	live bool
	obj  contextd.LoggedObject
}

// readObjects reads the node and the newest change of each object of kind
// lk, each object in one statement.
func (s *Store) readObjects(ctx context.Context, lk loggedKind, refs []objRef) ([]observed, error) {
	objs := make([]any, len(refs))
	for i, r := range refs {
		objs[i] = map[string]any{"uk": uk(r.sk, r.id), "sk": r.sk, "id": r.id}
	}
	var out []observed
	err := s.read(ctx, "check change log", func(tx neo4j.ManagedTransaction) error {
		out = out[:0]
		rows, err := collect(ctx, tx, `UNWIND $objs AS o
			CALL (o) { OPTIONAL `+lk.match+` WHERE n.uk = o.uk RETURN n LIMIT 1 }
			OPTIONAL MATCH (c:ContextdChange) WHERE c.sk = o.sk AND c.kind = $kind AND c.oid = o.id
			WITH o, n, max(c.seq) AS top
			OPTIONAL MATCH (c:ContextdChange) WHERE c.ns = $ns AND c.seq = top
			RETURN o.sk AS sk, o.id AS id, n IS NOT NULL AS live, `+lk.version+` AS version, `+lk.stamp+` AS stamp,
				CASE WHEN c IS NULL THEN NULL ELSE c {.seq, .at, .tenant, .principal, .op, .kind, .oid, .userId, .version, .state} END AS c`,
			params{"objs": objs, "kind": lk.kind, "ns": s.ns})
		for _, r := range rows {
			ob := observed{obj: contextd.LoggedObject{Kind: lk.kind, Tenant: tenantOf(s.ns, str(r["sk"])), ID: str(r["id"]),
				Version: i64(r["version"]), Stamp: fromNanos(i64(r["stamp"]))}}
			ob.live, _ = r["live"].(bool)
			if r["c"] != nil {
				ob.obj.Newest = decodeChange(r)
			}
			out = append(out, ob)
		}
		return err
	})
	return out, err
}

// maxSuspects bounds the objects read again before a problem is reported;
// more problems than that are a damaged store, not a race.
const maxSuspects = 100

// recheckDelay is how long a suspect object is left before it is read again.
const recheckDelay = 200 * time.Millisecond

// agree judges objects of kind lk. Reads beside a running server are not one
// snapshot (Neo4j reads committed data statement by statement), so an
// object found disagreeing is read again, after a moment, and reported only
// when it still disagrees.
func (s *Store) agree(ctx context.Context, lk loggedKind, refs []objRef, agree *contextd.ChangeAgreement) error {
	obs, err := s.readObjects(ctx, lk, refs)
	if err != nil {
		return err
	}
	judge := func(ob observed) string {
		switch {
		case ob.live:
			return agree.Judge(ob.obj)
		case ob.obj.Newest != nil:
			return contextd.JudgeOrphan(ob.obj.Newest)
		}
		return ""
	}
	record := func(ob observed) {
		switch {
		case ob.live:
			agree.Live(ob.obj)
		case ob.obj.Newest != nil:
			agree.Orphan(ob.obj.Newest)
		}
	}
	var suspects []objRef
	for _, ob := range obs {
		if judge(ob) != "" && len(suspects) < maxSuspects {
			suspects = append(suspects, objRef{s.sk(ob.obj.Tenant), ob.obj.ID})
			continue
		}
		record(ob)
	}
	if len(suspects) == 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(recheckDelay):
	}
	again, err := s.readObjects(ctx, lk, suspects)
	if err != nil {
		return err
	}
	for _, ob := range again {
		record(ob)
	}
	return nil
}

// checkChangeLog adds the change-log items (see Check).
func (s *Store) checkChangeLog(ctx context.Context, full bool, add func(contextd.CheckItem)) error {
	sp, err := s.changeSpan(ctx)
	if err != nil {
		return err
	}
	add(sp.ContinuityItem())

	var order contextd.ChangeOrder
	agree := contextd.NewChangeAgreement(sp)
	if full {
		err = s.changeTimes(ctx, order.Add)
		if err == nil {
			err = s.agreeAll(ctx, agree)
		}
	} else {
		var tail []*contextd.Change
		err = s.read(ctx, "check change log", func(tx neo4j.ManagedTransaction) error {
			tail = tail[:0]
			rows, err := collect(ctx, tx, `MATCH (c:ContextdChange) WHERE c.ns = $ns`+changeReturn+` ORDER BY c.seq DESC LIMIT $limit`,
				params{"ns": s.ns, "limit": int64(contextd.ChangeTail)})
			for _, r := range rows {
				tail = append(tail, decodeChange(r))
			}
			return err
		})
		for i := len(tail) - 1; i >= 0; i-- {
			order.Add(tail[i].Seq, tail[i].At)
		}
		if err == nil {
			err = s.agreeTail(ctx, tail, agree)
		}
	}
	if err != nil {
		return err
	}
	add(contextd.TailItem(order.Item("change log order"), full))
	add(contextd.TailItem(agree.Item("change log vs rows"), full))
	return nil
}

// agreeTail compares the objects of the newest changes with their nodes.
func (s *Store) agreeTail(ctx context.Context, tail []*contextd.Change, agree *contextd.ChangeAgreement) error {
	seen := map[string]bool{}
	byKind := map[string][]objRef{}
	for _, ch := range tail {
		k := ch.Kind + " " + uk(s.sk(ch.Tenant), ch.ID)
		if !seen[k] {
			seen[k] = true
			byKind[ch.Kind] = append(byKind[ch.Kind], objRef{s.sk(ch.Tenant), ch.ID})
		}
	}
	for _, lk := range loggedKinds {
		if refs := byKind[lk.kind]; len(refs) > 0 {
			if err := s.agree(ctx, lk, refs, agree); err != nil {
				return err
			}
		}
	}
	return nil
}

// agreeAll compares every node with its object's newest change, a page of
// nodes at a time, and then the objects whose newest change is not a delete
// yet have no node.
func (s *Store) agreeAll(ctx context.Context, agree *contextd.ChangeAgreement) error {
	cond, p := s.nsNodes("n")
	for _, lk := range loggedKinds {
		after := ""
		for {
			var page []objRef
			pp := params{"after": after, "limit": int64(exportPage)}
			for k, v := range p {
				pp[k] = v
			}
			err := s.read(ctx, "check change log", func(tx neo4j.ManagedTransaction) error {
				page = page[:0]
				rows, err := collect(ctx, tx, lk.match+` WHERE `+cond+` AND n.uk > $after
					RETURN n.uk AS uk, n.sk AS sk, n.id AS id ORDER BY n.uk LIMIT $limit`, pp)
				for _, r := range rows {
					page = append(page, objRef{str(r["sk"]), str(r["id"])})
					after = str(r["uk"])
				}
				return err
			})
			if err != nil {
				return err
			}
			if len(page) > 0 {
				if err := s.agree(ctx, lk, page, agree); err != nil {
					return err
				}
			}
			if len(page) < exportPage {
				break
			}
		}
	}
	// Objects whose newest change is not a delete and that have no node:
	// one pass over the log (grouped by object on the server).
	byKind := map[string][]objRef{}
	err := s.read(ctx, "check change log", func(tx neo4j.ManagedTransaction) error {
		rows, err := collect(ctx, tx, `MATCH (c:ContextdChange) WHERE c.ns = $ns
			WITH c.sk AS sk, c.kind AS kind, c.oid AS oid, max(c.seq) AS top
			MATCH (c:ContextdChange) WHERE c.ns = $ns AND c.seq = top AND c.op <> 'delete'
			WITH c, sk + '/' + oid AS k
			WHERE NOT (CASE c.kind
				WHEN 'context' THEN EXISTS { MATCH (x:Context {uk: k}) }
				WHEN 'memory' THEN EXISTS { MATCH (x:Memory {uk: k}) }
				WHEN 'session' THEN EXISTS { MATCH (x:Session {uk: k}) }
				WHEN 'relationship' THEN EXISTS { MATCH ()-[x:LINK {uk: k}]->() }
				ELSE true END)
			RETURN c.kind AS kind, c.sk AS sk, c.oid AS oid LIMIT $limit`, params{"ns": s.ns, "limit": int64(exportPage)})
		for _, r := range rows {
			byKind[str(r["kind"])] = append(byKind[str(r["kind"])], objRef{str(r["sk"]), str(r["oid"])})
		}
		return err
	})
	if err != nil {
		return err
	}
	for _, lk := range loggedKinds {
		if refs := byKind[lk.kind]; len(refs) > 0 {
			if err := s.agree(ctx, lk, refs, agree); err != nil {
				return err
			}
		}
	}
	return nil
}

// changeTimes calls fn with the seq and time of every change of the
// namespace, in seq order, 10,000 per read transaction.
func (s *Store) changeTimes(ctx context.Context, fn func(seq int64, at time.Time)) error {
	const page = 10000
	var after int64
	for {
		var rows []map[string]any
		err := s.read(ctx, "check change log", func(tx neo4j.ManagedTransaction) error {
			var err error
			rows, err = collect(ctx, tx, `MATCH (c:ContextdChange) WHERE c.ns = $ns AND c.seq > $after
				RETURN c.seq AS seq, c.at AS at ORDER BY c.seq LIMIT $limit`, params{"ns": s.ns, "after": after, "limit": int64(page)})
			return err
		})
		if err != nil {
			return err
		}
		for _, r := range rows {
			after = i64(r["seq"])
			fn(after, fromNanos(i64(r["at"])))
		}
		if len(rows) < page {
			return nil
		}
	}
}

// tenantOf is the tenant of scope key sk in namespace ns.
func tenantOf(ns, sk string) string {
	if ns == "" {
		return sk
	}
	return sk[len(ns)+1:]
}

// checkVectors adds an item per vector kind (see Check).
func (s *Store) checkVectors(ctx context.Context, opts contextd.CheckOptions, add func(contextd.CheckItem)) error {
	cond, p := s.nsNodes("n")
	for _, vk := range []struct{ kind, label string }{{contextd.VectorContext, "Context"}, {contextd.VectorMemory, "Memory"}} {
		v := contextd.VectorCounts{Kind: vk.kind, Model: opts.VectorModel, Dims: opts.VectorDims}
		pp := params{"model": opts.VectorModel, "kind": vk.kind, "bytes": int64(4 + opts.VectorDims)}
		for k, x := range p {
			pp[k] = x
		}
		// A node without a vector was written with an embedder when it was
		// created since the epoch, by a create the log still holds, and not
		// put back by a restore or an import since (those keep no vectors).
		missing := `n.vec IS NULL AND n.createdAt >= since
			AND EXISTS { MATCH (c:ContextdChange) WHERE c.sk = n.sk AND c.kind = $kind AND c.oid = n.id AND c.op = 'create' }
			AND NOT EXISTS { MATCH (c:ContextdChange) WHERE c.sk = n.sk AND c.kind = $kind AND c.oid = n.id AND c.op = 'restore' }`
		epoch := `OPTIONAL MATCH (e:ContextdVectorEpoch) WHERE e.ns = $ns AND e.kind = $kind
			WITH coalesce(min(e.since), 9223372036854775807) AS since `
		err := s.read(ctx, "check vectors", func(tx neo4j.ManagedTransaction) error {
			row, err := single(ctx, tx, epoch+`MATCH (n:`+vk.label+`) WHERE `+cond+`
				RETURN count(n) AS rows,
					count(CASE WHEN n.vec IS NOT NULL AND n.vecModel = $model THEN 1 END) AS current,
					count(CASE WHEN n.vec IS NOT NULL AND n.vecModel <> $model THEN 1 END) AS stale,
					count(CASE WHEN n.vec IS NULL THEN 1 END) AS novec,
					count(CASE WHEN `+missing+` THEN 1 END) AS missing,
					count(CASE WHEN (n.vec IS NULL) <> (n.vecModel IS NULL) OR n.vecModel = '' THEN 1 END) AS orphans,
					count(CASE WHEN n.vecModel = $model AND size(n.vec) <> $bytes THEN 1 END) AS wrong,
					collect(DISTINCT CASE WHEN n.vecModel = $model THEN size(n.vec) - 4 END)[..10] AS lengths`, pp)
			if err != nil {
				return err
			}
			if row == nil { // no epoch row and no node: OPTIONAL MATCH still gives one row
				return nil
			}
			v.Rows, v.Current, v.Stale = i64(row["rows"]), i64(row["current"]), i64(row["stale"])
			v.Missing, v.Orphans = i64(row["missing"]), i64(row["orphans"])
			v.Unembedded = i64(row["novec"]) - v.Missing
			if opts.VectorModel != "" && opts.VectorDims > 0 {
				v.WrongDims = i64(row["wrong"])
			}
			if ls, ok := row["lengths"].([]any); ok && opts.VectorModel != "" && opts.VectorDims == 0 {
				for _, l := range ls {
					v.Lengths = append(v.Lengths, int(i64(l)))
				}
			}
			var ex []string
			if v.Orphans > 0 {
				ex = append(ex, `CASE WHEN (n.vec IS NULL) <> (n.vecModel IS NULL) OR n.vecModel = '' THEN n.sk + '/' + n.id + ' has vec and vecModel apart' END`)
			}
			if opts.VectorModel != "" && v.Missing > 0 {
				ex = append(ex, `CASE WHEN `+missing+` THEN n.sk + '/' + n.id + ' has no vector' END`)
			}
			if v.WrongDims > 0 {
				ex = append(ex, `CASE WHEN n.vecModel = $model AND size(n.vec) <> $bytes THEN n.sk + '/' + n.id + ' has ' + toString(size(n.vec) - 4) + ' dimensions' END`)
			}
			for _, e := range ex {
				row, err := single(ctx, tx, epoch+`MATCH (n:`+vk.label+`) WHERE `+cond+` WITH `+e+` AS x WHERE x IS NOT NULL
					RETURN collect(x)[..3] AS xs`, pp)
				if err != nil {
					return err
				}
				v.Examples = append(v.Examples, strs(row["xs"])...)
			}
			return nil
		})
		if err != nil {
			return err
		}
		add(v.Item())
	}
	return nil
}
