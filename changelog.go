package contextd

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Change operations as the change log records them.
const (
	OpCreate  = "create"
	OpUpdate  = "update"
	OpDelete  = "delete"
	OpRestore = "restore" // a selective restore put the object back as it was
)

// Change is one committed mutation of one object, as the change log keeps
// it: written in the same transaction as the mutation, so the log holds
// exactly the committed changes. Seq numbers are strictly increasing and
// continuous over the whole store (every tenant); State is the object's full
// new state as its Record would hold it (a Context without relationships, a
// Session without counts) and JSON null for a delete.
type Change struct {
	Seq       int64           `json:"seq"`
	At        time.Time       `json:"at"`
	Tenant    string          `json:"tenant"`
	Principal string          `json:"principal"`
	Op        string          `json:"op"`
	Kind      string          `json:"kind"` // KindContext, KindRelationship, KindMemory, KindSession
	ID        string          `json:"id"`
	UserID    string          `json:"userId,omitempty"` // the object's userId (contexts, memories, sessions)
	Version   int64           `json:"version,omitempty"`
	State     json.RawMessage `json:"state"`
}

// ChangeFilter selects changes of one tenant (the scope's) for history.
type ChangeFilter struct {
	Kind   string // "" for every kind
	ID     string // "" for every object
	After  int64  // only changes with a larger Seq
	Until  time.Time
	Limit  int // 1..1000; 0 means 100
	Cursor string
}

// ChangeLog is a store that records every committed mutation. It is optional
// (check with a type assertion); the stores of this module implement it.
type ChangeLog interface {
	// Changes lists the changes of the scope's tenant matching f in Seq order
	// (the scope's UserID, when set, keeps that user's objects only), and the
	// cursor of the next page ("" when there is none).
	Changes(ctx context.Context, s Scope, f ChangeFilter) ([]*Change, string, error)
	// ReadChanges calls fn for every change of every tenant with
	// after < Seq <= upTo (upTo 0: no bound), in Seq order.
	ReadChanges(ctx context.Context, after, upTo int64, fn func(*Change) error) error
	// LastChange returns the highest Seq recorded (0 for an empty log).
	LastChange(ctx context.Context) (int64, error)
	// PruneChanges removes the changes with Seq <= upTo and returns how many.
	PruneChanges(ctx context.Context, upTo int64) (int64, error)
	// RestoreObjects, in one transaction, deletes the objects of del that
	// exist (a context with its relationships, a session with its memories)
	// and stores recs as they are (as Importer does), all in the scope's
	// tenant, logging each deletion and each put (OpRestore) as changes of
	// the scope's principal.
	RestoreObjects(ctx context.Context, s Scope, del []ObjectRef, recs []*Record) error
	// ImportChanges stores changes as they are, their seqs kept, in one
	// transaction (a restore brings back the log of the backup); the next
	// change recorded takes a seq above all of them. A seq already in the
	// log is ECONFLICT.
	ImportChanges(ctx context.Context, chs []*Change) error
}

// ObjectRef names one object of a tenant.
type ObjectRef struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// contextState is a Context as the change log and the export format keep it:
// without its relationships (they are records of their own).
type contextState struct {
	*Context
	Relationships []*Relationship `json:"relationships,omitempty"`
}

// sessionState is a Session without its counts (they follow from the data).
type sessionState struct {
	*Session
	MemoryCount  int `json:"memoryCount,omitempty"`
	ContextCount int `json:"contextCount,omitempty"`
}

// EncodeState returns the JSON state of the object rec holds, as a change
// or an export line keeps it.
func EncodeState(rec *Record) (json.RawMessage, error) {
	var v any
	switch rec.Kind {
	case KindContext:
		v = contextState{Context: rec.Context}
	case KindSession:
		v = sessionState{Session: rec.Session}
	case KindRelationship:
		v = rec.Relationship
	case KindMemory:
		v = rec.Memory
	case KindAPIKey:
		v = apiKeyState{APIKey: rec.APIKey, Hash: rec.KeyHash}
	default:
		return nil, Errorf(EINVALID, "unknown record kind %q", rec.Kind)
	}
	return json.Marshal(v)
}

// apiKeyState is an API key with its stored hash (exports keep it so that a
// restored store accepts the same keys).
type apiKeyState struct {
	*APIKey
	Hash string `json:"hash"`
}

// DecodeState turns a kind and its JSON state back into a Record of tenant.
func DecodeState(tenant, kind string, state json.RawMessage) (*Record, error) {
	rec := &Record{Kind: kind, Tenant: tenant}
	var err error
	switch kind {
	case KindContext:
		rec.Context = &Context{}
		err = json.Unmarshal(state, rec.Context)
		if err == nil {
			rec.Context.Relationships = nil
		}
	case KindSession:
		rec.Session = &Session{}
		err = json.Unmarshal(state, rec.Session)
		if err == nil {
			rec.Session.MemoryCount, rec.Session.ContextCount = 0, 0
		}
	case KindRelationship:
		rec.Relationship = &Relationship{}
		err = json.Unmarshal(state, rec.Relationship)
	case KindMemory:
		rec.Memory = &Memory{}
		err = json.Unmarshal(state, rec.Memory)
	case KindAPIKey:
		var k apiKeyState
		k.APIKey = &APIKey{}
		err = json.Unmarshal(state, &k)
		rec.APIKey, rec.KeyHash = k.APIKey, k.Hash
		if err == nil && rec.APIKey.Tenant == "" {
			rec.APIKey.Tenant = tenant
		}
	default:
		return nil, Errorf(EINVALID, "unknown record kind %q", kind)
	}
	if err != nil {
		return nil, Errorf(EINVALID, "a %s record: %v", kind, err)
	}
	if id := rec.ID(); id == "" {
		return nil, Errorf(EINVALID, "a %s record without an id", kind)
	}
	return rec, nil
}

// ID returns the id of the record's object ("" when it has none).
func (r *Record) ID() string {
	switch {
	case r.Context != nil:
		return r.Context.ID
	case r.Relationship != nil:
		return r.Relationship.ID
	case r.Memory != nil:
		return r.Memory.ID
	case r.Session != nil:
		return r.Session.ID
	case r.APIKey != nil:
		return r.APIKey.ID
	}
	return ""
}

// Version returns the version of the record's object: contexts and memories
// carry one; the other kinds are 0.
func (r *Record) Version() int64 {
	switch {
	case r.Context != nil:
		return r.Context.Version
	case r.Memory != nil:
		return r.Memory.Version
	}
	return 0
}

// UserID returns the userId of the record's object ("" for edges and keys).
func (r *Record) UserID() string {
	switch {
	case r.Context != nil:
		return r.Context.UserID
	case r.Memory != nil:
		return r.Memory.UserID
	case r.Session != nil:
		return r.Session.UserID
	}
	return ""
}

// NewChange builds the change a store records for rec (nil state for a
// delete of ref). Seq and At are left for the store.
func NewChange(s Scope, op string, ref ObjectRef, userID string, version int64, rec *Record) (*Change, error) {
	ch := &Change{Tenant: s.Tenant, Principal: s.Principal, Op: op, Kind: ref.Kind, ID: ref.ID,
		UserID: userID, Version: version, State: json.RawMessage("null")}
	if rec != nil {
		st, err := EncodeState(rec)
		if err != nil {
			return nil, err
		}
		ch.State, ch.UserID, ch.Version = st, rec.UserID(), rec.Version()
	}
	return ch, nil
}

// Validate checks a history filter.
func (f *ChangeFilter) Validate() error {
	if f.Limit < 0 || f.Limit > 1000 {
		return Invalid("query.limit", "must be 1..1000")
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	if f.Cursor != "" {
		n, err := strconv.ParseInt(f.Cursor, 10, 64)
		if err != nil || n < 0 {
			return Invalid("query.cursor", "is not a cursor this server made")
		}
		f.After = n
	}
	return nil
}

// ChangeCursor is the cursor of the page after the change with seq.
func ChangeCursor(seq int64) string { return strconv.FormatInt(seq, 10) }

// HistoryItem is one entry of an object's history, as the API shows it.
type HistoryItem struct {
	Version   int64           `json:"version"`
	Op        string          `json:"op"`
	At        time.Time       `json:"at"`
	Principal string          `json:"principal"`
	State     json.RawMessage `json:"state"`
}

// History returns the recorded changes of one context or memory of the
// principal's tenant, oldest first. An object that never existed in the log
// (for this principal) is ENOTFOUND.
func (s *Service) History(ctx context.Context, p *Principal, kind, id string, f ChangeFilter) ([]*HistoryItem, string, error) {
	need := PermContextsRead
	if kind == KindMemory {
		need = PermMemoriesRead
	}
	if err := p.Need(need); err != nil {
		return nil, "", err
	}
	cl, ok := StoreAs[ChangeLog](s.Store)
	if !ok {
		return nil, "", Errorf(EINVALID, "the %s store keeps no change log", s.Store.Kind())
	}
	if err := f.Validate(); err != nil {
		return nil, "", err
	}
	f.Kind, f.ID = kind, id
	chs, next, err := cl.Changes(ctx, p.Scope(), f)
	if err != nil {
		return nil, "", err
	}
	if len(chs) == 0 && f.After == 0 {
		return nil, "", Errorf(ENOTFOUND, "%s %q has no history", kind, id)
	}
	out := make([]*HistoryItem, len(chs))
	for i, ch := range chs {
		out[i] = &HistoryItem{Version: ch.Version, Op: ch.Op, At: ch.At, Principal: ch.Principal, State: ch.State}
	}
	return out, next, nil
}

// String describes a change for logs.
func (c *Change) String() string {
	return fmt.Sprintf("#%d %s %s %s/%s", c.Seq, c.Op, c.Kind, c.Tenant, c.ID)
}

// ReadChangePages calls fn on every change after seq after, in seq order,
// page by page: page(after) returns the next changes after that seq, at most
// size of them, and fewer only at the end of the log. A store's ReadChanges
// gives it one read transaction per page.
func ReadChangePages(after int64, size int, page func(after int64) ([]*Change, error), fn func(*Change) error) error {
	for {
		chs, err := page(after)
		if err != nil {
			return err
		}
		for _, ch := range chs {
			if err := fn(ch); err != nil {
				return err
			}
			after = ch.Seq
		}
		if len(chs) < size {
			return nil
		}
	}
}
