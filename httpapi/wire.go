package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/contextd/contextd"
	"github.com/danielgtaylor/huma/v2"
)

// Patterns of the domain (contextd's ValidID, identifiers, types), repeated
// here so that the OpenAPI document shows them and huma checks them first.
// The Service checks them again and stays the source of truth.
const (
	idPattern      = `^[A-Za-z0-9][A-Za-z0-9_.~-]{0,127}$`
	identPattern   = `^[A-Za-z0-9][A-Za-z0-9_.@:~-]{0,127}$`
	typePattern    = `^[a-z][a-z0-9_-]{0,63}$`
	relTypePattern = `^[A-Z][A-Z0-9_]{0,63}$`
)

// list is the answer of every list route.
type list[T any] struct {
	Items      []T     `json:"items" doc:"This page of results"`
	NextCursor *string `json:"nextCursor" doc:"Pass as ?cursor= for the next page; null on the last page"`
}

func newList[T any](items []T, next string) list[T] {
	if items == nil {
		items = []T{}
	}
	l := list[T]{Items: items}
	if next != "" {
		l.NextCursor = &next
	}
	return l
}

// listOutput is a 200 with a list.
type listOutput[T any] struct {
	Body list[T]
}

// ListParams are the paging query parameters of the list routes (exported
// only because huma finds parameters in exported embedded structs).
type ListParams struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Page size"`
	Cursor string `query:"cursor" maxLength:"1024" doc:"The nextCursor of the previous page"`
	Order  string `query:"order" enum:"asc,desc" default:"desc" doc:"desc: newest first; asc: oldest first"`
}

func (p ListParams) ascending() bool { return p.Order == "asc" }

// noContent is the output of the 204 routes.
type noContent struct{}

// etag is the entity tag of a resource version.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch reads an If-Match header. any is true for "" (no condition) and
// "*"; otherwise versions holds every version it names (weak or strong,
// quoted or bare). A header naming no version can match nothing.
func ifMatch(h string) (versions []int64, anyVersion bool) {
	h = strings.TrimSpace(h)
	if h == "" || h == "*" {
		return nil, true
	}
	for _, part := range strings.Split(h, ",") {
		part = strings.TrimSpace(part)
		part = strings.TrimPrefix(part, "W/")
		part = strings.Trim(part, `"`)
		if v, err := strconv.ParseInt(part, 10, 64); err == nil && v > 0 {
			versions = append(versions, v)
		}
	}
	return versions, false
}

// noneMatch reports whether an If-None-Match header matches version.
func noneMatch(h string, version int64) bool {
	h = strings.TrimSpace(h)
	if h == "" {
		return false
	}
	if h == "*" {
		return true
	}
	vs, _ := ifMatch(h)
	for _, v := range vs {
		if v == version {
			return true
		}
	}
	return false
}

// notModified is the 304 answer to a matching If-None-Match.
func notModified(version int64) error {
	p := newProblem(http.StatusNotModified, "")
	p.GetHeaders().Set("ETag", etag(version))
	return p
}

// preconditionFailed is the 412 answer to an If-Match that names no current version.
func preconditionFailed() *Problem {
	return newProblem(http.StatusPreconditionFailed, "the resource is not at the version If-Match names",
		contextd.FieldError{Location: "header.If-Match", Message: "does not match the current ETag"})
}

// resolveIfMatch turns an If-Match header into the IfVersion of an update:
// 0 for none or "*", the version for one, and for a list the current
// version if the list holds it (current is called only then).
func resolveIfMatch(h string, current func() (int64, error)) (int64, error) {
	versions, anyVersion := ifMatch(h)
	switch {
	case anyVersion:
		return 0, nil
	case len(versions) == 0:
		return 0, preconditionFailed()
	case len(versions) == 1:
		return versions[0], nil
	}
	v, err := current()
	if err != nil {
		return 0, err
	}
	for _, x := range versions {
		if x == v {
			return v, nil
		}
	}
	return 0, preconditionFailed()
}

// relocate rewrites the field locations a store reports for batch items
// ("items[3].id") into request locations: "body.items[3].id" for a batch,
// "body.id" for a single create.
func relocate(p *Problem, batch bool) *Problem {
	for i, f := range p.Errors {
		if !strings.HasPrefix(f.Location, "items[") {
			continue
		}
		if batch {
			p.Errors[i].Location = "body." + f.Location
		} else if rest, ok := strings.CutPrefix(f.Location, "items[0]"); ok {
			p.Errors[i].Location = "body" + rest
		}
	}
	return p
}

// fail is problemFor with the locations of a create rewritten.
func fail(ctx context.Context, err error, batch bool) error {
	return relocate(problemFor(ctx, err), batch)
}

// nullableTime is a JSON field that tells absent (Set false) from null
// (Set true, Value nil) from a time.
type nullableTime struct {
	Set   bool
	Value *time.Time
}

// UnmarshalJSON implements json.Unmarshaler; it is called for null too.
func (n *nullableTime) UnmarshalJSON(b []byte) error {
	n.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		n.Value = nil
		return nil
	}
	var t time.Time
	if err := json.Unmarshal(b, &t); err != nil {
		return err
	}
	n.Value = &t
	return nil
}

// IsZero makes omitzero leave an absent value out.
func (n nullableTime) IsZero() bool { return !n.Set }

// Schema implements huma.SchemaProvider.
func (nullableTime) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeString, Format: "date-time", Nullable: true}
}

// nullableString is a JSON field that tells absent from null from a string.
type nullableString struct {
	Set   bool
	Value *string
}

// UnmarshalJSON implements json.Unmarshaler; it is called for null too.
func (n *nullableString) UnmarshalJSON(b []byte) error {
	n.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		n.Value = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	n.Value = &s
	return nil
}

// IsZero makes omitzero leave an absent value out.
func (n nullableString) IsZero() bool { return !n.Set }

// Schema implements huma.SchemaProvider: an id, "" or null.
func (nullableString) Schema(huma.Registry) *huma.Schema {
	max := 128
	return &huma.Schema{Type: huma.TypeString, Nullable: true, MaxLength: &max,
		Pattern: `^([A-Za-z0-9][A-Za-z0-9_.~-]{0,127})?$`}
}
