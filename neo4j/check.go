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
// object (one index seek each). Every check reads, in read transactions of
// at most a page of nodes each; writes go on meanwhile, so a check beside
// a busy server may see a write's node and not yet its change, or the
// reverse, only when the two straddle a page: run it again before acting.
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
		row, err := single(ctx, tx, `MATCH (c:ContextdChange) WHERE c.ns = $ns
			RETURN count(c) AS n, min(c.seq) AS oldest, max(c.seq) AS newest`, params{"ns": s.ns})
		if err != nil {
			return err
		}
		sp.Count, sp.Oldest, sp.Newest = i64(row["n"]), i64(row["oldest"]), i64(row["newest"])
		if row, err = single(ctx, tx, `MATCH (q:ContextdChangeSeq {ns: $ns}) RETURN q.value AS v`, params{"ns": s.ns}); err != nil {
			return err
		} else if row != nil {
			sp.Last = i64(row["v"])
		}
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

// loggedKinds are the kinds of object the change log records: how to find a
// page of the namespace's objects by unique key, with their version and
// stamp (contextd.LoggedObject), and one object by unique key.
var loggedKinds = []struct{ kind, match, version, stamp string }{
	{contextd.KindContext, `MATCH (n:Context)`, `n.version`, `n.updatedAt`},
	{contextd.KindMemory, `MATCH (n:Memory)`, `n.version`, `n.updatedAt`},
	{contextd.KindSession, `MATCH (n:Session)`, `0`,
		`CASE WHEN n.lastActiveAt > n.updatedAt THEN n.lastActiveAt ELSE n.updatedAt END`},
	{contextd.KindRelationship, `MATCH ()-[n:LINK]->()`, `0`, `n.createdAt`},
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
		err = s.ReadChanges(ctx, 0, 0, func(ch *contextd.Change) error {
			order.Add(ch.Seq, ch.At)
			return nil
		})
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
	add(tailItem(order.Item("change log order"), full))
	add(tailItem(agree.Item("change log vs rows"), full))
	return nil
}

// tailItem says in the detail of an item of a check without Full that it
// covered the newest changes only.
func tailItem(it contextd.CheckItem, full bool) contextd.CheckItem {
	if !full {
		it.Detail = fmt.Sprintf("newest %d changes: %s", contextd.ChangeTail, it.Detail)
	}
	return it
}

// agreeTail compares the objects of the newest changes (newest first) with
// their nodes: an object changed in the tail has its newest change there.
func (s *Store) agreeTail(ctx context.Context, tail []*contextd.Change, agree *contextd.ChangeAgreement) error {
	newest := map[string]*contextd.Change{}
	byKind := map[string][]string{}
	for _, ch := range tail {
		k := uk(s.sk(ch.Tenant), ch.ID)
		if newest[ch.Kind+" "+k] == nil {
			newest[ch.Kind+" "+k] = ch
			byKind[ch.Kind] = append(byKind[ch.Kind], k)
		}
	}
	return s.read(ctx, "check change log", func(tx neo4j.ManagedTransaction) error {
		for _, lk := range loggedKinds {
			uks := byKind[lk.kind]
			if len(uks) == 0 {
				continue
			}
			rows, err := collect(ctx, tx, `UNWIND $uks AS k `+lk.match+` WHERE n.uk = k
				RETURN n.uk AS uk, `+lk.version+` AS version, `+lk.stamp+` AS stamp`, params{"uks": uks})
			if err != nil {
				return err
			}
			live := map[string]bool{}
			for _, r := range rows {
				k := str(r["uk"])
				live[k] = true
				ch := newest[lk.kind+" "+k]
				agree.Live(contextd.LoggedObject{Kind: lk.kind, Tenant: ch.Tenant, ID: ch.ID, Version: i64(r["version"]),
					Stamp: fromNanos(i64(r["stamp"])), Newest: ch})
			}
			for _, k := range uks {
				if !live[k] {
					agree.Orphan(newest[lk.kind+" "+k])
				}
			}
		}
		return nil
	})
}

// agreeAll compares every node with its object's newest change, and every
// object's newest change with its node, a page at a time.
func (s *Store) agreeAll(ctx context.Context, agree *contextd.ChangeAgreement) error {
	cond, p := s.nsNodes("n")
	for _, lk := range loggedKinds {
		after := ""
		for {
			var page []map[string]any
			q := lk.match + ` WHERE ` + cond + ` AND n.uk > $after
				WITH n ORDER BY n.uk LIMIT $limit
				OPTIONAL MATCH (c:ContextdChange) WHERE c.sk = n.sk AND c.kind = $kind AND c.oid = n.id
				WITH n, max(c.seq) AS top
				OPTIONAL MATCH (c:ContextdChange) WHERE c.ns = $ns AND c.seq = top
				WITH n, c ORDER BY n.uk
				RETURN n.uk AS uk, n.sk AS sk, n.id AS id, ` + lk.version + ` AS version, ` + lk.stamp + ` AS stamp,
					CASE WHEN c IS NULL THEN NULL ELSE c {.seq, .at, .tenant, .principal, .op, .kind, .oid, .userId, .version, .state} END AS c`
			pp := params{"after": after, "limit": int64(exportPage), "kind": lk.kind}
			for k, v := range p {
				pp[k] = v
			}
			err := s.read(ctx, "check change log", func(tx neo4j.ManagedTransaction) error {
				var err error
				page, err = collect(ctx, tx, q, pp)
				return err
			})
			if err != nil {
				return err
			}
			for _, r := range page {
				o := contextd.LoggedObject{Kind: lk.kind, Tenant: tenantOf(s.ns, str(r["sk"])), ID: str(r["id"]),
					Version: i64(r["version"]), Stamp: fromNanos(i64(r["stamp"]))}
				if r["c"] != nil {
					o.Newest = decodeChange(r)
				}
				agree.Live(o)
				after = str(r["uk"])
			}
			if len(page) < exportPage {
				break
			}
		}
	}
	// The newest change of every object whose node is gone, a page of
	// objects at a time in seq order of their newest change.
	var after int64
	for {
		var page []map[string]any
		err := s.read(ctx, "check change log", func(tx neo4j.ManagedTransaction) error {
			var err error
			page, err = collect(ctx, tx, `MATCH (c:ContextdChange) WHERE c.ns = $ns
				WITH c.sk AS sk, c.kind AS kind, c.oid AS oid, max(c.seq) AS top
				WHERE top > $after
				WITH top ORDER BY top LIMIT $limit
				MATCH (c:ContextdChange) WHERE c.ns = $ns AND c.seq = top
				WITH top, c, c.sk + '/' + c.oid AS k
				RETURN top, CASE c.kind
					WHEN 'context' THEN EXISTS { MATCH (x:Context {uk: k}) }
					WHEN 'memory' THEN EXISTS { MATCH (x:Memory {uk: k}) }
					WHEN 'session' THEN EXISTS { MATCH (x:Session {uk: k}) }
					WHEN 'relationship' THEN EXISTS { MATCH ()-[x:LINK {uk: k}]->() }
					ELSE true END AS live,
					c {.seq, .at, .tenant, .principal, .op, .kind, .oid, .userId, .version, .state} AS c
				ORDER BY top`, params{"ns": s.ns, "after": after, "limit": int64(exportPage)})
			return err
		})
		if err != nil {
			return err
		}
		for _, r := range page {
			if live, _ := r["live"].(bool); !live {
				agree.Orphan(decodeChange(r))
			}
			after = i64(r["top"])
		}
		if len(page) < exportPage {
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
