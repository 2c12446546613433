package contextd

import (
	"math"
	"time"
	"unicode/utf8"
)

// Memory types.
const (
	MemoryFact        = "fact"
	MemoryPreference  = "preference"
	MemoryContext     = "context"
	MemoryInstruction = "instruction"
	MemoryExample     = "example"
)

// Importance levels, weakest first.
const (
	ImportanceLow      = "low"
	ImportanceMedium   = "medium"
	ImportanceHigh     = "high"
	ImportanceCritical = "critical"
)

// Memory sources.
const (
	SourceUser   = "user"
	SourceLLM    = "llm"
	SourceSystem = "system"
)

// MaxMemoryContentBytes bounds a memory's content.
const MaxMemoryContentBytes = 64 << 10

// ImportanceRank orders importance levels: low 1 .. critical 4; 0 for unknown.
func ImportanceRank(s string) int {
	switch s {
	case ImportanceLow:
		return 1
	case ImportanceMedium:
		return 2
	case ImportanceHigh:
		return 3
	case ImportanceCritical:
		return 4
	}
	return 0
}

// Memory is something an LLM should remember: a fact, preference, context,
// instruction or example, with how much it matters and how sure it is.
type Memory struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	Content    string         `json:"content"`
	Importance string         `json:"importance"`
	Confidence float64        `json:"confidence"`
	Tags       []string       `json:"tags"`
	Timestamp  time.Time      `json:"timestamp"`
	Source     string         `json:"source"`
	SessionID  string         `json:"sessionId"`
	UserID     string         `json:"userId"`
	Metadata   map[string]any `json:"metadata"`
	CreatedAt  time.Time      `json:"createdAt"`
	UpdatedAt  time.Time      `json:"updatedAt"`
	ExpiresAt  *time.Time     `json:"expiresAt,omitempty"`
	Version    int64          `json:"version"`
}

// MemoryCreate is a new memory. Defaults: importance medium, confidence 1,
// source user, timestamp now.
type MemoryCreate struct {
	ID         string
	Type       string
	Content    string
	Importance string
	Confidence *float64
	Tags       []string
	Timestamp  time.Time
	Source     string
	SessionID  string
	UserID     string
	Metadata   map[string]any
	ExpiresAt  *time.Time

	Vector      []float32 // the embedding of Content, set by the Service; nil: none
	VectorModel string    // the model that made Vector
}

// MemoryUpdate changes the non-nil fields. IfVersion as in ContextUpdate.
type MemoryUpdate struct {
	Type       *string
	Content    *string
	Importance *string
	Confidence *float64
	Tags       *[]string
	Source     *string
	Metadata   *map[string]any
	ExpiresAt  **time.Time // set to a nil *time.Time to remove the expiry
	IfVersion  int64

	Vector      []float32 // the new embedding when Content changes, set by the Service
	VectorModel string    // the model that made Vector
}

// MemoryFilter selects memories for a list. Expired memories are never listed.
type MemoryFilter struct {
	SessionID  string
	UserID     string
	Type       string
	Importance string
	Source     string
	Tags       []string // all must match
	Limit      int
	Cursor     string
	Ascending  bool
}

// MemorySearch asks for the memories that best match a query.
//
// Score = relevance × importanceWeight × confidenceWeight × recencyWeight, where
//
//	relevance        = s / (s + 1) for the BM25 score s of the text match (1 without a query)
//	importanceWeight = 0.8 + 0.1 × rank (low 0.9, medium 1.0, high 1.1, critical 1.2)
//	confidenceWeight = 0.7 + 0.3 × confidence
//	recencyWeight    = 0.8 + 0.2 × 2^(−age / 30 days), age measured from the memory's timestamp
//
// so text relevance leads, and among equally relevant memories the important,
// confident and recent ones come first.
type MemorySearch struct {
	Query         string
	SessionID     string
	UserID        string
	Types         []string
	MinImportance string
	MinConfidence float64
	Tags          []string
	Limit         int    // 1..100, default 10
	Mode          string // fulltext (default), semantic, hybrid
	Explain       bool   // add each hit's component scores
}

// MemoryHit is one result of a memory search.
type MemoryHit struct {
	Memory  *Memory     `json:"memory"`
	Score   float64     `json:"score"`
	Explain *HitExplain `json:"explain,omitempty"`
}

// MemoryScore combines the parts of a memory search score; see MemorySearch.
func MemoryScore(bm25 float64, hasQuery bool, m *Memory, now time.Time) float64 {
	rel := 1.0
	if hasQuery {
		if bm25 < 0 {
			bm25 = 0
		}
		rel = bm25 / (bm25 + 1)
	}
	imp := 0.8 + 0.1*float64(ImportanceRank(m.Importance))
	conf := 0.7 + 0.3*m.Confidence
	age := now.Sub(m.Timestamp).Hours() / 24
	if age < 0 {
		age = 0
	}
	rec := 0.8 + 0.2*math.Exp2(-age/30)
	return rel * imp * conf * rec
}

// Normalize applies defaults at time now and validates m.
func (m *MemoryCreate) Normalize(prefix string, now time.Time) error {
	var v validation
	if m.Importance == "" {
		m.Importance = ImportanceMedium
	}
	if m.Confidence == nil {
		one := 1.0
		m.Confidence = &one
	}
	if m.Source == "" {
		m.Source = SourceUser
	}
	if m.Timestamp.IsZero() {
		m.Timestamp = now
	}
	if m.Tags == nil {
		m.Tags = []string{}
	}
	if m.Metadata == nil {
		m.Metadata = map[string]any{}
	}
	if m.ID != "" && !ValidID(m.ID) {
		v.add(prefix+".id", "must be 1..128 URL-safe characters")
	}
	checkMemoryType(&v, prefix+".type", m.Type)
	checkMemoryContent(&v, prefix+".content", m.Content)
	checkImportance(&v, prefix+".importance", m.Importance)
	checkConfidence(&v, prefix+".confidence", *m.Confidence)
	checkSource(&v, prefix+".source", m.Source)
	checkTime(&v, prefix+".timestamp", m.Timestamp)
	if m.ExpiresAt != nil {
		checkTime(&v, prefix+".expiresAt", *m.ExpiresAt)
	}
	if !ValidID(m.SessionID) {
		v.add(prefix+".sessionId", "is required: 1..128 URL-safe characters")
	}
	if m.UserID != "" && !identRe.MatchString(m.UserID) {
		v.add(prefix+".userId", "must be 1..128 characters of letters, digits and _.@:~-")
	}
	m.Tags = checkTags(&v, prefix+".tags", m.Tags)
	checkMetadata(&v, prefix+".metadata", m.Metadata)
	return v.err()
}

// Validate checks u's fields.
func (u *MemoryUpdate) Validate(prefix string) error {
	var v validation
	if u.Type != nil {
		checkMemoryType(&v, prefix+".type", *u.Type)
	}
	if u.Content != nil {
		checkMemoryContent(&v, prefix+".content", *u.Content)
	}
	if u.Importance != nil {
		checkImportance(&v, prefix+".importance", *u.Importance)
	}
	if u.Confidence != nil {
		checkConfidence(&v, prefix+".confidence", *u.Confidence)
	}
	if u.Source != nil {
		checkSource(&v, prefix+".source", *u.Source)
	}
	if u.ExpiresAt != nil && *u.ExpiresAt != nil {
		checkTime(&v, prefix+".expiresAt", **u.ExpiresAt)
	}
	if u.Tags != nil {
		t := checkTags(&v, prefix+".tags", *u.Tags)
		u.Tags = &t
	}
	if u.Metadata != nil {
		if *u.Metadata == nil {
			m := map[string]any{}
			u.Metadata = &m
		}
		checkMetadata(&v, prefix+".metadata", *u.Metadata)
	}
	return v.err()
}

// Validate checks the filter's values and limit.
func (f *MemoryFilter) Validate() error {
	var v validation
	if f.Type != "" {
		checkMemoryType(&v, "query.type", f.Type)
	}
	if f.Importance != "" {
		checkImportance(&v, "query.importance", f.Importance)
	}
	if f.Source != "" {
		checkSource(&v, "query.source", f.Source)
	}
	f.Limit = checkLimit(&v, "query.limit", f.Limit)
	return v.err()
}

// Validate checks the search and applies defaults.
func (s *MemorySearch) Validate() error {
	var v validation
	if len(s.Query) > MaxQueryBytes {
		v.add("body.query", "must be at most %d bytes", MaxQueryBytes)
	}
	for i, t := range s.Types {
		checkMemoryType(&v, "body.types["+itoa(i)+"]", t)
	}
	if s.MinImportance != "" {
		checkImportance(&v, "body.minImportance", s.MinImportance)
	}
	if s.MinConfidence < 0 || s.MinConfidence > 1 {
		v.add("body.minConfidence", "must be 0..1")
	}
	if s.Limit == 0 {
		s.Limit = 10
	}
	if s.Limit < 1 || s.Limit > MaxListLimit {
		v.add("body.limit", "must be 1..%d", MaxListLimit)
	}
	switch s.Mode {
	case "":
		s.Mode = ModeFulltext
	case ModeFulltext, ModeSemantic, ModeHybrid:
	default:
		v.add("body.mode", "must be fulltext, semantic or hybrid")
	}
	return v.err()
}

func checkMemoryType(v *validation, loc, s string) {
	switch s {
	case MemoryFact, MemoryPreference, MemoryContext, MemoryInstruction, MemoryExample:
	default:
		v.add(loc, "must be one of fact, preference, context, instruction, example")
	}
}

func checkMemoryContent(v *validation, loc, s string) {
	if s == "" {
		v.add(loc, "is required")
	} else if len(s) > MaxMemoryContentBytes {
		v.add(loc, "must be at most %d bytes, got %d", MaxMemoryContentBytes, len(s))
	} else if !utf8.ValidString(s) {
		v.add(loc, "must be valid UTF-8")
	}
}

func checkImportance(v *validation, loc, s string) {
	if ImportanceRank(s) == 0 {
		v.add(loc, "must be one of low, medium, high, critical")
	}
}

func checkConfidence(v *validation, loc string, c float64) {
	if !(c >= 0 && c <= 1) {
		v.add(loc, "must be between 0 and 1")
	}
}

func checkSource(v *validation, loc, s string) {
	switch s {
	case SourceUser, SourceLLM, SourceSystem:
	default:
		v.add(loc, "must be one of user, llm, system")
	}
}

// Times outside this range cannot be stored by every backend (int64
// nanoseconds end in 2262).
var (
	minTime = time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

func checkTime(v *validation, loc string, t time.Time) {
	if t.Before(minTime) || t.After(maxTime) {
		v.add(loc, "must be between 1700-01-01 and 2200-01-01")
	}
}

// clampTime keeps a filter bound inside the storable range, so that a bound
// far in the past or future filters as the client meant.
func clampTime(t time.Time) time.Time {
	switch {
	case t.IsZero():
		return t
	case t.Before(minTime):
		return minTime
	case t.After(maxTime):
		return maxTime
	}
	return t
}
