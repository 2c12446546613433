package contextd

import (
	"encoding/json"
	"regexp"
	"time"
	"unicode/utf8"
)

// Context statuses.
const (
	StatusActive   = "active"
	StatusArchived = "archived"
	StatusDraft    = "draft"
)

// DefaultContextType is the type of a context created without one.
const DefaultContextType = "note"

// Limits on a context, from the contract.
const (
	MaxTitleChars    = 500
	MaxContentBytes  = 1 << 20
	MaxTags          = 64
	MaxTagChars      = 100
	MaxMetadataBytes = 64 << 10
)

var typeRe = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

// Context is the core entity: a titled piece of content with a type, status,
// tags, metadata and typed relationships to other contexts.
type Context struct {
	ID            string          `json:"id"`
	Title         string          `json:"title"`
	Content       string          `json:"content"`
	Type          string          `json:"type"`
	Status        string          `json:"status"`
	CreatedAt     time.Time       `json:"createdAt"`
	UpdatedAt     time.Time       `json:"updatedAt"`
	UserID        string          `json:"userId"`
	SessionID     string          `json:"sessionId,omitempty"`
	Tags          []string        `json:"tags"`
	Metadata      map[string]any  `json:"metadata"`
	Relationships []*Relationship `json:"relationships"`
	Version       int64           `json:"version"`
}

// ContextCreate is a new context. Empty Type and Status take their defaults;
// an empty ID is made by the store.
type ContextCreate struct {
	ID            string
	Title         string
	Content       string
	Type          string
	Status        string
	UserID        string
	SessionID     string
	Tags          []string
	Metadata      map[string]any
	Relationships []RelationshipCreate // outgoing edges from the new context

	Vector      []float32 // the embedding of ContextText(Title, Content), set by the Service; nil: none
	VectorModel string    // the model that made Vector
}

// ContextUpdate changes the fields that are non-nil. IfVersion, when non-zero,
// makes the update fail with EPRECONDITION unless the context is at that version.
type ContextUpdate struct {
	Title     *string
	Content   *string
	Type      *string
	Status    *string
	SessionID *string // "" removes the session
	Tags      *[]string
	Metadata  *map[string]any // replaces the whole object
	IfVersion int64

	Vector      []float32 // the new embedding when Title or Content change, set by the Service
	VectorModel string    // the model that made Vector
}

// ContextFilter selects contexts for a list. Zero fields do not filter.
type ContextFilter struct {
	Type          string
	Status        string
	Tags          []string // all must match
	SessionID     string
	UserID        string
	CreatedAfter  time.Time
	CreatedBefore time.Time
	Limit         int    // 1..MaxListLimit; 0 means DefaultListLimit
	Cursor        string // from a previous page's next cursor
	Ascending     bool   // oldest first; the default is newest first
}

// List limits.
const (
	DefaultListLimit = 20
	MaxListLimit     = 100
)

// Normalize applies defaults to c and validates it. prefix is the location of c
// in the request ("body" or "body.items[3]").
func (c *ContextCreate) Normalize(prefix string) error {
	var v validation
	if c.Type == "" {
		c.Type = DefaultContextType
	}
	if c.Status == "" {
		c.Status = StatusActive
	}
	if c.Tags == nil {
		c.Tags = []string{}
	}
	if c.Metadata == nil {
		c.Metadata = map[string]any{}
	}
	if c.ID != "" && !ValidID(c.ID) {
		v.add(prefix+".id", "must be 1..128 URL-safe characters (letters, digits, '_', '-', '.', '~') starting with a letter or digit")
	}
	checkTitle(&v, prefix+".title", c.Title)
	checkContent(&v, prefix+".content", c.Content)
	checkType(&v, prefix+".type", c.Type)
	checkStatus(&v, prefix+".status", c.Status)
	if c.UserID != "" && !identRe.MatchString(c.UserID) {
		v.add(prefix+".userId", "must be 1..128 characters of letters, digits and _.@:~-")
	}
	if c.SessionID != "" && !ValidID(c.SessionID) {
		v.add(prefix+".sessionId", "must be a valid id")
	}
	c.Tags = checkTags(&v, prefix+".tags", c.Tags)
	checkMetadata(&v, prefix+".metadata", c.Metadata)
	for i := range c.Relationships {
		c.Relationships[i].validate(&v, prefix+".relationships["+itoa(i)+"]")
	}
	return v.err()
}

// Validate checks u's fields.
func (u *ContextUpdate) Validate(prefix string) error {
	var v validation
	if u.Title != nil {
		checkTitle(&v, prefix+".title", *u.Title)
	}
	if u.Content != nil {
		checkContent(&v, prefix+".content", *u.Content)
	}
	if u.Type != nil {
		checkType(&v, prefix+".type", *u.Type)
	}
	if u.Status != nil {
		checkStatus(&v, prefix+".status", *u.Status)
	}
	if u.SessionID != nil && *u.SessionID != "" && !ValidID(*u.SessionID) {
		v.add(prefix+".sessionId", "must be a valid id")
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
func (f *ContextFilter) Validate() error {
	var v validation
	if f.Type != "" {
		checkType(&v, "query.type", f.Type)
	}
	if f.Status != "" {
		checkStatus(&v, "query.status", f.Status)
	}
	f.Limit = checkLimit(&v, "query.limit", f.Limit)
	f.CreatedAfter, f.CreatedBefore = clampTime(f.CreatedAfter), clampTime(f.CreatedBefore)
	return v.err()
}

func checkTitle(v *validation, loc, s string) {
	n := utf8.RuneCountInString(s)
	if n < 1 || n > MaxTitleChars {
		v.add(loc, "must be 1..%d characters, got %d", MaxTitleChars, n)
	} else if !utf8.ValidString(s) {
		v.add(loc, "must be valid UTF-8")
	}
}

func checkContent(v *validation, loc, s string) {
	if len(s) > MaxContentBytes {
		v.add(loc, "must be at most %d bytes, got %d", MaxContentBytes, len(s))
	} else if !utf8.ValidString(s) {
		v.add(loc, "must be valid UTF-8")
	}
}

func checkType(v *validation, loc, s string) {
	if !typeRe.MatchString(s) {
		v.add(loc, "must match [a-z][a-z0-9_-]{0,63}")
	}
}

func checkStatus(v *validation, loc, s string) {
	switch s {
	case StatusActive, StatusArchived, StatusDraft:
	default:
		v.add(loc, "must be one of active, archived, draft")
	}
}

// checkTags validates tags and returns them without duplicates, in order.
func checkTags(v *validation, loc string, tags []string) []string {
	if tags == nil {
		return []string{}
	}
	if len(tags) > MaxTags {
		v.add(loc, "at most %d tags, got %d", MaxTags, len(tags))
		return tags
	}
	seen := make(map[string]bool, len(tags))
	out := tags[:0:0]
	for i, t := range tags {
		n := utf8.RuneCountInString(t)
		if n < 1 || n > MaxTagChars || !utf8.ValidString(t) {
			v.add(loc+"["+itoa(i)+"]", "a tag must be 1..%d characters", MaxTagChars)
			continue
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

func checkMetadata(v *validation, loc string, m map[string]any) {
	b, err := json.Marshal(m)
	if err != nil {
		v.add(loc, "must be a JSON object")
		return
	}
	if len(b) > MaxMetadataBytes {
		v.add(loc, "must be at most %d bytes of JSON, got %d", MaxMetadataBytes, len(b))
	}
}

func checkLimit(v *validation, loc string, n int) int {
	if n == 0 {
		return DefaultListLimit
	}
	if n < 1 || n > MaxListLimit {
		v.add(loc, "must be 1..%d", MaxListLimit)
	}
	return n
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
