package contextd

import (
	"context"
	"time"
)

// BackupManifest describes one backup: a directory holding manifest.json,
// data.ndjson.gz (the store as of change Seq, in the export format) and
// changes.ndjson.gz (the change log the store still had, up to Seq, for
// point-in-time recovery). The backup package makes and checks them.
type BackupManifest struct {
	Format        string           `json:"format"` // "contextd-backup"
	FormatVersion int              `json:"formatVersion"`
	ID            string           `json:"id"`
	Path          string           `json:"path,omitempty"`
	CreatedAt     time.Time        `json:"createdAt"`
	Store         string           `json:"store"`       // the kind of store backed up
	Seq           int64            `json:"seq"`         // the change log position of the data
	SeqAt         time.Time        `json:"seqAt"`       // the time of change Seq (zero for an empty log)
	ChangesFrom   int64            `json:"changesFrom"` // changes.ndjson.gz holds (ChangesFrom, Seq]
	Counts        map[string]int64 `json:"counts"`      // records by kind
	Files         []BackupFile     `json:"files"`
	Tier          string           `json:"tier,omitempty"` // daily, weekly, monthly: why retention keeps it
}

// BackupFile is one file of a backup with its checksum.
type BackupFile struct {
	Name    string `json:"name"`
	Bytes   int64  `json:"bytes"`
	SHA256  string `json:"sha256"`
	Records int64  `json:"records"`
}

// Backups makes and lists backups (the backup package's Manager).
type Backups interface {
	// Create makes a backup now, while the store keeps serving.
	Create(ctx context.Context) (*BackupManifest, error)
	// List returns the backups of the backup directory, newest first.
	List(ctx context.Context) ([]*BackupManifest, error)
}

// RestoreRequest asks for one object as it was at a moment.
type RestoreRequest struct {
	ContextID string
	MemoryID  string
	SessionID string
	At        time.Time
}

// RestoreObject puts one context (with its relationships to contexts that
// still exist), one memory, or one session (with its memories) back into
// the principal's tenant as it was at r.At, from the change log, replacing
// the current version; nothing else changes. It returns what it stored.
func (s *Service) RestoreObject(ctx context.Context, p *Principal, r RestoreRequest) ([]ObjectRef, error) {
	if err := RequireBackupAdmin(p); err != nil {
		return nil, err
	}
	cl, ok := StoreAs[ChangeLog](s.Store)
	if !ok {
		return nil, Errorf(EINVALID, "the %s store keeps no change log", s.Store.Kind())
	}
	var ref ObjectRef
	n := 0
	if r.ContextID != "" {
		ref, n = ObjectRef{KindContext, r.ContextID}, n+1
	}
	if r.MemoryID != "" {
		ref, n = ObjectRef{KindMemory, r.MemoryID}, n+1
	}
	if r.SessionID != "" {
		ref, n = ObjectRef{KindSession, r.SessionID}, n+1
	}
	if n != 1 {
		return nil, Invalid("body", "give exactly one of contextId, memoryId, sessionId")
	}
	if r.At.IsZero() {
		return nil, Invalid("body.at", "is required (RFC 3339)")
	}
	if r.At.After(s.now()) {
		return nil, Invalid("body.at", "is in the future")
	}
	sc := Scope{Tenant: p.Tenant, Principal: p.Subject}
	last, err := lastChangeAt(ctx, cl, sc, ref.Kind, ref.ID, r.At)
	if err != nil {
		return nil, err
	}
	if last == nil || last.Op == OpDelete {
		return nil, Errorf(ENOTFOUND, "%s %q did not exist at %s (or the change log no longer reaches that far)", ref.Kind, ref.ID, r.At.Format(time.RFC3339))
	}
	rec, err := DecodeState(p.Tenant, last.Kind, last.State)
	if err != nil {
		return nil, err
	}
	recs := []*Record{rec}
	switch ref.Kind {
	case KindContext:
		edges, err := statesAt(ctx, cl, sc, KindRelationship, r.At, func(st *Record) bool {
			return st.Relationship.SourceID == ref.ID || st.Relationship.TargetID == ref.ID
		})
		if err != nil {
			return nil, err
		}
		for _, e := range edges {
			other := e.Relationship.SourceID
			if other == ref.ID {
				other = e.Relationship.TargetID
			}
			if other != ref.ID {
				if _, err := s.Store.GetContext(ctx, Scope{Tenant: p.Tenant}, other); ErrorCode(err) == ENOTFOUND {
					continue // the other end is gone: the edge cannot come back alone
				} else if err != nil {
					return nil, err
				}
			}
			recs = append(recs, e)
		}
	case KindSession:
		ms, err := statesAt(ctx, cl, sc, KindMemory, r.At, func(st *Record) bool { return st.Memory.SessionID == ref.ID })
		if err != nil {
			return nil, err
		}
		recs = append(recs, ms...)
	}
	if err := cl.RestoreObjects(ctx, sc, []ObjectRef{ref}, recs); err != nil {
		return nil, err
	}
	out := make([]ObjectRef, len(recs))
	for i, rc := range recs {
		out[i] = ObjectRef{Kind: rc.Kind, ID: rc.ID()}
	}
	return out, nil
}

// lastChangeAt returns the last change of one object at or before at (nil
// when there is none).
func lastChangeAt(ctx context.Context, cl ChangeLog, sc Scope, kind, id string, at time.Time) (*Change, error) {
	var last *Change
	f := ChangeFilter{Kind: kind, ID: id, Until: at, Limit: 1000}
	for {
		chs, next, err := cl.Changes(ctx, sc, f)
		if err != nil {
			return nil, err
		}
		if len(chs) > 0 {
			last = chs[len(chs)-1]
		}
		if next == "" {
			return last, nil
		}
		f.After = last.Seq
	}
}

// statesAt returns the objects of one kind alive at time at whose state
// keep accepts, in the order of their first change.
func statesAt(ctx context.Context, cl ChangeLog, sc Scope, kind string, at time.Time, keep func(*Record) bool) ([]*Record, error) {
	final := map[string]*Change{}
	var order []string
	f := ChangeFilter{Kind: kind, Until: at, Limit: 1000}
	for {
		chs, next, err := cl.Changes(ctx, sc, f)
		if err != nil {
			return nil, err
		}
		for _, c := range chs {
			if _, ok := final[c.ID]; !ok {
				order = append(order, c.ID)
			}
			final[c.ID] = c
		}
		if next == "" {
			break
		}
		f.After = chs[len(chs)-1].Seq
	}
	var out []*Record
	for _, id := range order {
		c := final[id]
		if c.Op == OpDelete {
			continue
		}
		rec, err := DecodeState(sc.Tenant, c.Kind, c.State)
		if err != nil {
			return nil, err
		}
		if keep(rec) {
			out = append(out, rec)
		}
	}
	return out, nil
}
