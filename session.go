package contextd

import (
	"time"
	"unicode/utf8"
)

// Session groups the memories (and optionally contexts) of one conversation.
// Writing a memory with an unknown session id creates the session; every
// memory write moves LastActiveAt.
type Session struct {
	ID           string         `json:"id"`
	UserID       string         `json:"userId"`
	Title        string         `json:"title,omitempty"`
	Metadata     map[string]any `json:"metadata"`
	CreatedAt    time.Time      `json:"createdAt"`
	UpdatedAt    time.Time      `json:"updatedAt"`
	LastActiveAt time.Time      `json:"lastActiveAt"`
	MemoryCount  int            `json:"memoryCount"`
	ContextCount int            `json:"contextCount"`
}

// SessionCreate is a new session.
type SessionCreate struct {
	ID       string
	UserID   string
	Title    string
	Metadata map[string]any
}

// SessionFilter selects sessions for a list, newest first unless Ascending.
type SessionFilter struct {
	UserID    string
	Limit     int
	Cursor    string
	Ascending bool
}

// Normalize applies defaults and validates s.
func (s *SessionCreate) Normalize(prefix string) error {
	var v validation
	if s.Metadata == nil {
		s.Metadata = map[string]any{}
	}
	if s.ID != "" && !ValidID(s.ID) {
		v.add(prefix+".id", "must be 1..128 URL-safe characters")
	}
	if s.UserID != "" && !identRe.MatchString(s.UserID) {
		v.add(prefix+".userId", "must be 1..128 characters of letters, digits and _.@:~-")
	}
	if n := utf8.RuneCountInString(s.Title); n > MaxTitleChars {
		v.add(prefix+".title", "must be at most %d characters", MaxTitleChars)
	}
	checkMetadata(&v, prefix+".metadata", s.Metadata)
	return v.err()
}

// Validate checks the filter.
func (f *SessionFilter) Validate() error {
	var v validation
	f.Limit = checkLimit(&v, "query.limit", f.Limit)
	return v.err()
}
