package contextd

import (
	"regexp"
	"time"
)

// The relationship types of the seed design. Custom UPPER_SNAKE types are allowed too.
const (
	RelRelatesTo   = "RELATES_TO"
	RelFollows     = "FOLLOWS"
	RelInfluences  = "INFLUENCES"
	RelContains    = "CONTAINS" // acyclic: a CONTAINS edge that would close a cycle is refused
	RelDerivedFrom = "DERIVED_FROM"
)

var relTypeRe = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)

// ValidRelationshipType reports whether s is a usable relationship type.
func ValidRelationshipType(s string) bool { return relTypeRe.MatchString(s) }

// Relationship is a typed, directed edge between two contexts of one tenant.
type Relationship struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	SourceID   string         `json:"sourceId"`
	TargetID   string         `json:"targetId"`
	Properties map[string]any `json:"properties"`
	CreatedAt  time.Time      `json:"createdAt"`
}

// RelationshipCreate is a new edge from SourceID to TargetID. When given
// inline with a new context, SourceID is that context and may be empty.
type RelationshipCreate struct {
	ID         string
	Type       string
	SourceID   string
	TargetID   string
	Properties map[string]any
}

// Normalize validates r and fills defaults.
func (r *RelationshipCreate) Normalize(prefix string) error {
	var v validation
	r.validate(&v, prefix)
	return v.err()
}

func (r *RelationshipCreate) validate(v *validation, prefix string) {
	if r.Properties == nil {
		r.Properties = map[string]any{}
	}
	if r.ID != "" && !ValidID(r.ID) {
		v.add(prefix+".id", "must be a valid id")
	}
	if !ValidRelationshipType(r.Type) {
		v.add(prefix+".type", "must be RELATES_TO, FOLLOWS, INFLUENCES, CONTAINS, DERIVED_FROM or a custom type matching [A-Z][A-Z0-9_]{0,63}")
	}
	if !ValidID(r.TargetID) {
		v.add(prefix+".targetId", "must be the id of a context")
	}
	checkMetadata(v, prefix+".properties", r.Properties)
}

// Directions of a relationship query or traversal.
const (
	DirectionOut  = "out"
	DirectionIn   = "in"
	DirectionBoth = "both"
)

// RelationshipFilter selects the edges of one context.
type RelationshipFilter struct {
	ContextID string
	Direction string // out, in or both (default both)
	Type      string // "" for every type
}

// GraphQuery asks for the neighbourhood of a context.
type GraphQuery struct {
	RootID    string
	Depth     int      // 1..MaxGraphDepth, default 1
	Types     []string // edge types to follow; empty follows all
	Direction string   // out, in or both (default both)
	MaxNodes  int      // cap on nodes returned; 0 means DefaultGraphNodes
}

// Graph limits.
const (
	MaxGraphDepth     = 5
	DefaultGraphNodes = 500
	MaxGraphNodes     = 5000
)

// Graph is the answer to a GraphQuery: the root first, then nodes in
// breadth-first order, and every edge between returned nodes that the query
// followed. Truncated is true when MaxNodes cut the traversal short.
type Graph struct {
	Nodes     []*Context      `json:"nodes"`
	Edges     []*Relationship `json:"edges"`
	Truncated bool            `json:"truncated"`
}

// Validate checks the direction and type of the filter.
func (f *RelationshipFilter) Validate() error {
	var v validation
	f.Direction = checkDirection(&v, "query.direction", f.Direction)
	if f.Type != "" && !ValidRelationshipType(f.Type) {
		v.add("query.type", "must be a relationship type")
	}
	return v.err()
}

// Validate checks the query and applies defaults.
func (q *GraphQuery) Validate() error {
	var v validation
	if q.Depth == 0 {
		q.Depth = 1
	}
	if q.Depth < 1 || q.Depth > MaxGraphDepth {
		v.add("query.depth", "must be 1..%d", MaxGraphDepth)
	}
	q.Direction = checkDirection(&v, "query.direction", q.Direction)
	for i, t := range q.Types {
		if !ValidRelationshipType(t) {
			v.add("query.types["+itoa(i)+"]", "must be a relationship type")
		}
	}
	if q.MaxNodes == 0 {
		q.MaxNodes = DefaultGraphNodes
	}
	if q.MaxNodes < 1 || q.MaxNodes > MaxGraphNodes {
		v.add("query.maxNodes", "must be 1..%d", MaxGraphNodes)
	}
	return v.err()
}

func checkDirection(v *validation, loc, d string) string {
	switch d {
	case "":
		return DirectionBoth
	case DirectionOut, DirectionIn, DirectionBoth:
		return d
	}
	v.add(loc, "must be out, in or both")
	return d
}

// GraphLevel is what a store answers for one level of a breadth-first walk:
// the edges of the frontier's contexts (filtered by direction and types), and
// the visible contexts among some ids, by id.
type GraphLevel struct {
	Edges    func(frontier []string, direction string, types []string) ([]*Relationship, error)
	Contexts func(ids []string) (map[string]*Context, error)
}

// WalkGraph is the breadth-first walk every store shares, from root, with one
// Edges and one Contexts call per level: each node once, root first, at most
// q.MaxNodes nodes (Truncated when the cap cut it short), and every followed
// edge whose both ends are returned. q's zero fields take their defaults.
func WalkGraph(root *Context, q GraphQuery, lv GraphLevel) (*Graph, error) {
	depth := min(max(q.Depth, 1), MaxGraphDepth)
	maxNodes := q.MaxNodes
	if maxNodes <= 0 {
		maxNodes = DefaultGraphNodes
	}
	maxNodes = min(maxNodes, MaxGraphNodes)
	dir := q.Direction
	if dir == "" {
		dir = DirectionBoth
	}
	g := &Graph{Nodes: []*Context{root}, Edges: []*Relationship{}}
	inGraph := map[string]bool{root.ID: true}
	var followed []*Relationship
	seenEdge := map[string]bool{}
	frontier := []string{root.ID}
	for level := 0; level < depth && len(frontier) > 0 && !g.Truncated; level++ {
		rels, err := lv.Edges(frontier, dir, q.Types)
		if err != nil {
			return nil, err
		}
		inFrontier := make(map[string]bool, len(frontier))
		for _, id := range frontier {
			inFrontier[id] = true
		}
		var candidates []string
		seenCand := map[string]bool{}
		consider := func(id string) {
			if !inGraph[id] && !seenCand[id] {
				seenCand[id] = true
				candidates = append(candidates, id)
			}
		}
		for _, r := range rels {
			if !seenEdge[r.ID] {
				seenEdge[r.ID] = true
				followed = append(followed, r)
			}
			if dir != DirectionIn && inFrontier[r.SourceID] {
				consider(r.TargetID)
			}
			if dir != DirectionOut && inFrontier[r.TargetID] {
				consider(r.SourceID)
			}
		}
		if len(candidates) == 0 {
			break
		}
		found, err := lv.Contexts(candidates)
		if err != nil {
			return nil, err
		}
		var next []string
		for _, id := range candidates {
			c := found[id]
			if c == nil {
				continue
			}
			if len(g.Nodes) >= maxNodes {
				g.Truncated = true
				break
			}
			g.Nodes = append(g.Nodes, c)
			inGraph[id] = true
			next = append(next, id)
		}
		frontier = next
	}
	for _, r := range followed {
		if inGraph[r.SourceID] && inGraph[r.TargetID] {
			g.Edges = append(g.Edges, r)
		}
	}
	return g, nil
}
