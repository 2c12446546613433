package contextd

import "context"

// Record kinds of a transfer between stores.
const (
	KindAPIKey       = "apikey"
	KindSession      = "session"
	KindContext      = "context"
	KindRelationship = "relationship"
	KindMemory       = "memory"
)

// Record is one stored object exactly as a store holds it — ids, versions,
// timestamps, revoked keys and expired memories included — for copies
// between stores (contextd migrate). Exactly one of the pointers is set, as
// Kind says. Context.Relationships and the counts of Session are not part
// of a record: edges are records of their own, counts follow from the data.
type Record struct {
	Kind         string
	Tenant       string
	APIKey       *APIKey
	KeyHash      string // the stored hash of APIKey's secret
	Session      *Session
	Context      *Context
	Relationship *Relationship
	Memory       *Memory
}

// Exporter is a store that can list everything it holds. It is optional:
// the stores of this module implement it; check with a type assertion.
type Exporter interface {
	// Export calls fn for every record of the store: the API keys first,
	// then tenant by tenant (in name order) its sessions, contexts,
	// relationships and memories, so that an Importer given the records in
	// this order finds every relationship's contexts already there. An
	// error from fn stops the export and is returned.
	Export(ctx context.Context, fn func(*Record) error) error
}

// Importer is a store that can take records as they are. It is optional,
// like Exporter.
type Importer interface {
	// Import stores recs in one transaction, all or nothing, keeping their
	// ids, versions and timestamps: nothing is defaulted, no session is
	// created or touched. A taken id (or key hash, or an existing edge of
	// the same source, target and type) is ECONFLICT; a relationship whose
	// contexts are not in the store (nor earlier in recs) is ENOTFOUND; an
	// unknown kind or a record without its object is EINVALID.
	Import(ctx context.Context, recs []*Record) error
}
