package contextd

import "time"

// CheckUser refuses a write of data for another user than the scope's
// (EFORBIDDEN naming loc); any user is fine for an unbound scope.
func (s Scope) CheckUser(uid, loc string) error {
	if s.UserID != "" && uid != s.UserID {
		return &Error{Code: EFORBIDDEN, Message: "this credential may only write data of user " + s.UserID,
			Fields: []FieldError{{Location: loc, Message: "must be " + s.UserID + " or absent"}}}
	}
	return nil
}

// NewContext is how every Store turns a create into the context it stores at
// time now: it re-checks what stores rely on (ids, the scope's user) and
// fills the defaults, so backends agree. loc is the item's request location.
func NewContext(sc Scope, it *ContextCreate, now time.Time, loc string) (*Context, error) {
	c := &Context{
		ID: it.ID, Title: it.Title, Content: it.Content, Type: it.Type, Status: it.Status,
		UserID: it.UserID, SessionID: it.SessionID, Tags: it.Tags, Metadata: it.Metadata,
		CreatedAt: now, UpdatedAt: now, Version: 1, Relationships: []*Relationship{},
	}
	if c.UserID == "" {
		c.UserID = sc.UserID
	}
	if err := sc.CheckUser(c.UserID, loc+".userId"); err != nil {
		return nil, err
	}
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
	if c.ID == "" {
		c.ID = NewID(now)
	} else if !ValidID(c.ID) {
		return nil, Invalid(loc+".id", "must be a valid id")
	}
	if c.SessionID != "" && !ValidID(c.SessionID) {
		return nil, Invalid(loc+".sessionId", "must be a valid id")
	}
	return c, nil
}

// NewMemory is NewContext for memories.
func NewMemory(sc Scope, it *MemoryCreate, now time.Time, loc string) (*Memory, error) {
	m := &Memory{
		ID: it.ID, Type: it.Type, Content: it.Content, Importance: it.Importance, Confidence: 1,
		Tags: it.Tags, Timestamp: it.Timestamp.UTC(), Source: it.Source, SessionID: it.SessionID, UserID: it.UserID,
		Metadata: it.Metadata, CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	if it.Confidence != nil {
		m.Confidence = *it.Confidence
	}
	if it.ExpiresAt != nil {
		t := it.ExpiresAt.UTC()
		m.ExpiresAt = &t
	}
	if m.UserID == "" {
		m.UserID = sc.UserID
	}
	if err := sc.CheckUser(m.UserID, loc+".userId"); err != nil {
		return nil, err
	}
	if m.Importance == "" {
		m.Importance = ImportanceMedium
	}
	if m.Source == "" {
		m.Source = SourceUser
	}
	if it.Timestamp.IsZero() {
		m.Timestamp = now
	}
	if m.Tags == nil {
		m.Tags = []string{}
	}
	if m.Metadata == nil {
		m.Metadata = map[string]any{}
	}
	switch {
	case ImportanceRank(m.Importance) == 0:
		return nil, Invalid(loc+".importance", "must be one of low, medium, high, critical")
	case !ValidID(m.SessionID):
		return nil, Invalid(loc+".sessionId", "is required: 1..128 URL-safe characters")
	case m.ID != "" && !ValidID(m.ID):
		return nil, Invalid(loc+".id", "must be a valid id")
	}
	if m.ID == "" {
		m.ID = NewID(now)
	}
	return m, nil
}
