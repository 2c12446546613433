package contextd

import (
	"context"
	"encoding/json"
)

// Template is the file-system template of one context type: a JSON Schema
// for its metadata and the defaults of new contexts of that type.
type Template struct {
	Type           string          `json:"type"`
	Description    string          `json:"description,omitempty"`
	DefaultTags    []string        `json:"defaultTags,omitempty"`   // given to a new context without tags
	DefaultStatus  string          `json:"defaultStatus,omitempty"` // given to a new context without a status
	MetadataSchema json.RawMessage `json:"metadataSchema,omitempty"`
}

// Templates holds the context templates (the templates package loads them
// from TEMPLATES_DIRECTORY).
type Templates interface {
	// List returns every template, by type.
	List() []*Template
	// Get returns the template of a type, or nil.
	Get(typ string) *Template
	// CheckMetadata validates metadata against the schema of typ's
	// template (nil when it has none). The error is EINVALID with the
	// failing field's location under loc ("body.metadata.priority").
	CheckMetadata(typ string, metadata map[string]any, loc string) error
}

// ValidContextType reports whether s is a usable context type.
func ValidContextType(s string) bool { return typeRe.MatchString(s) }

// ValidStatus reports whether s is a context status.
func ValidStatus(s string) bool { return s == StatusActive || s == StatusArchived || s == StatusDraft }

// applyTemplate fills a new context's defaults from its type's template
// (before Normalize).
func (s *Service) applyTemplate(c *ContextCreate) {
	if s.Templates == nil {
		return
	}
	typ := c.Type
	if typ == "" {
		typ = DefaultContextType
	}
	t := s.Templates.Get(typ)
	if t == nil {
		return
	}
	if len(c.Tags) == 0 && len(t.DefaultTags) > 0 {
		c.Tags = append([]string(nil), t.DefaultTags...)
	}
	if c.Status == "" {
		c.Status = t.DefaultStatus
	}
}

// checkTemplateUpdate validates the metadata a context will have after u
// against its (new) type's template.
func (s *Service) checkTemplateUpdate(ctx context.Context, p *Principal, id string, u ContextUpdate) error {
	if s.Templates == nil || (u.Type == nil && u.Metadata == nil) {
		return nil
	}
	var (
		typ  string
		meta map[string]any
	)
	if u.Type == nil || u.Metadata == nil {
		cur, err := s.Store.GetContext(ctx, p.Scope(), id)
		if err != nil {
			return err
		}
		typ, meta = cur.Type, cur.Metadata
	}
	if u.Type != nil {
		typ = *u.Type
	}
	if u.Metadata != nil {
		meta = *u.Metadata
	}
	return s.Templates.CheckMetadata(typ, meta, "body.metadata")
}

// ListTemplates returns the context templates (none when no directory is
// configured).
func (s *Service) ListTemplates(p *Principal) ([]*Template, error) {
	if err := p.Need(PermContextsRead); err != nil {
		return nil, err
	}
	if s.Templates == nil {
		return []*Template{}, nil
	}
	return s.Templates.List(), nil
}
