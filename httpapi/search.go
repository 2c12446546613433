package httpapi

import (
	"context"
	"strings"
	"time"

	"github.com/contextd/contextd"
)

// searchFilters narrow a search. Lists match any of their values, except
// tags, which must all be present.
type searchFilters struct {
	Type          []string       `json:"type,omitempty" nullable:"false" maxItems:"64" pattern:"^[a-z][a-z0-9_-]{0,63}$" doc:"Any of these types"`
	Status        []string       `json:"status,omitempty" nullable:"false" maxItems:"3" enum:"active,archived,draft" doc:"Any of these statuses"`
	Tags          []string       `json:"tags,omitempty" nullable:"false" maxItems:"64" doc:"Every tag must be present"`
	SessionID     string         `json:"sessionId,omitempty" maxLength:"128" doc:"Only this session's contexts"`
	UserID        string         `json:"userId,omitempty" maxLength:"128" doc:"Only this user's contexts"`
	CreatedAfter  time.Time      `json:"createdAfter,omitzero" doc:"RFC 3339; created at or after"`
	CreatedBefore time.Time      `json:"createdBefore,omitzero" doc:"RFC 3339; created before"`
	Metadata      map[string]any `json:"metadata,omitempty" maxProperties:"16" doc:"Top-level metadata key = string, number, boolean or null"`
}

// searchRequest is the body of POST /v1/search.
type searchRequest struct {
	Query     string        `json:"query,omitempty" maxLength:"4096" doc:"Words (any of them), \"a phrase\", -excluded, prefix*; without it every context matching the filters"`
	Mode      string        `json:"mode,omitempty" enum:"fulltext,semantic,hybrid" doc:"Default fulltext"`
	Filters   searchFilters `json:"filters,omitzero"`
	Facets    []string      `json:"facets,omitempty" nullable:"false" maxItems:"16" doc:"type, status, tags or metadata.<key>: value counts over every match"`
	Limit     int           `json:"limit,omitempty" minimum:"1" maximum:"100" doc:"Default 20"`
	Offset    int           `json:"offset,omitempty" minimum:"0" maximum:"10000"`
	Highlight bool          `json:"highlight,omitempty" doc:"Add highlights: fragments with <mark>matches</mark>"`
	Explain   bool          `json:"explain,omitempty" doc:"Add each result's component scores (semantic, hybrid): bm25, vector, fused"`
}

type searchInput struct {
	Body searchRequest
}

type searchGetInput struct {
	Q             string    `query:"q" maxLength:"4096" doc:"The query, as in POST /v1/search"`
	Mode          string    `query:"mode" enum:"fulltext,semantic,hybrid" doc:"Default fulltext"`
	Type          []string  `query:"type,explode" maxItems:"64" doc:"Repeatable: any of these types"`
	Status        []string  `query:"status,explode" maxItems:"3" doc:"Repeatable: any of these statuses"`
	Tags          []string  `query:"tag,explode" maxItems:"64" doc:"Repeatable: every tag must be present"`
	SessionID     string    `query:"sessionId" maxLength:"128" doc:"Only this session's contexts"`
	UserID        string    `query:"userId" maxLength:"128" doc:"Only this user's contexts"`
	CreatedAfter  time.Time `query:"createdAfter" doc:"RFC 3339; created at or after"`
	CreatedBefore time.Time `query:"createdBefore" doc:"RFC 3339; created before"`
	Facets        []string  `query:"facet,explode" maxItems:"16" doc:"Repeatable: type, status, tags or metadata.<key>"`
	Limit         int       `query:"limit" minimum:"1" maximum:"100" default:"20"`
	Offset        int       `query:"offset" minimum:"0" maximum:"10000"`
	Highlight     bool      `query:"highlight" doc:"Add highlights"`
	Explain       bool      `query:"explain" doc:"Add each result's component scores (semantic, hybrid)"`
}

type searchOutput struct {
	Body *contextd.SearchResult
}

type searchStatsOutput struct {
	Body *contextd.SearchStats
}

func (s *server) search(ctx context.Context, in *searchInput) (*searchOutput, error) {
	b := &in.Body
	f := &b.Filters
	return s.runSearch(ctx, contextd.SearchQuery{
		Query: b.Query, Mode: b.Mode, Facets: b.Facets, Limit: b.Limit, Offset: b.Offset, Highlight: b.Highlight,
		Explain: b.Explain,
		Filters: contextd.SearchFilters{
			Types: f.Type, Statuses: f.Status, Tags: f.Tags, SessionID: f.SessionID, UserID: f.UserID,
			CreatedAfter: f.CreatedAfter, CreatedBefore: f.CreatedBefore, Metadata: f.Metadata,
		},
	})
}

func (s *server) searchGet(ctx context.Context, in *searchGetInput) (*searchOutput, error) {
	out, err := s.runSearch(ctx, contextd.SearchQuery{
		Query: in.Q, Mode: in.Mode, Facets: in.Facets, Limit: in.Limit, Offset: in.Offset, Highlight: in.Highlight,
		Explain: in.Explain,
		Filters: contextd.SearchFilters{
			Types: in.Type, Statuses: in.Status, Tags: in.Tags, SessionID: in.SessionID, UserID: in.UserID,
			CreatedAfter: in.CreatedAfter, CreatedBefore: in.CreatedBefore,
		},
	})
	if p, ok := err.(*Problem); ok {
		// The Service names body fields; here they came from the query.
		for i, f := range p.Errors {
			for _, m := range searchQueryNames {
				if rest, ok := strings.CutPrefix(f.Location, m[0]); ok {
					p.Errors[i].Location = m[1] + rest
					p.Detail = strings.Replace(p.Detail, m[0], m[1], 1)
					break
				}
			}
		}
	}
	return out, err
}

// searchQueryNames map the body locations of a search to its query parameters.
var searchQueryNames = [][2]string{
	{"body.query", "query.q"}, {"body.mode", "query.mode"}, {"body.limit", "query.limit"},
	{"body.offset", "query.offset"}, {"body.facets", "query.facet"}, {"body.filters.type", "query.type"},
	{"body.filters.status", "query.status"}, {"body.filters.tags", "query.tag"},
	{"body.filters", "query"},
}

func (s *server) runSearch(ctx context.Context, q contextd.SearchQuery) (*searchOutput, error) {
	res, err := s.svc.Search(ctx, principalOf(ctx), q)
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	if res.Results == nil {
		res.Results = []*contextd.SearchHit{}
	}
	if res.Facets == nil {
		res.Facets = map[string][]contextd.FacetCount{}
	}
	return &searchOutput{Body: res}, nil
}

func (s *server) searchStats(ctx context.Context, _ *struct{}) (*searchStatsOutput, error) {
	st, err := s.svc.SearchStats(ctx, principalOf(ctx))
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	return &searchStatsOutput{Body: st}, nil
}
