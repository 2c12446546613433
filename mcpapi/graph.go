package mcpapi

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/contextd/contextd"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The knowledge graph of the reference memory server, on contexts:
//
//   - an entity is a context of type EntityType whose id is derived from its
//     name (EntityID), so looking one up is a point read and two clients
//     creating the same entity at once make one; title = name,
//     metadata.entityType, metadata.observations (the exact list, which
//     round-trips), and a content made of the type and the observations, one
//     per line, for full-text search;
//   - a relation is a relationship whose type is the relationType in
//     UPPER_SNAKE form (RelationshipType) and whose properties.relationType
//     keeps the original string, which is what the tools answer.
//
// Entities are created one per transaction, in the order given, so that
// read_graph lists them in creation order as the reference server does.

// EntityType is the context type of a knowledge-graph entity.
const EntityType = "entity"

// Entity is a node of the reference memory server's knowledge graph.
type Entity struct {
	Name         string   `json:"name" jsonschema:"The name of the entity"`
	EntityType   string   `json:"entityType" jsonschema:"The type of the entity"`
	Observations []string `json:"observations" jsonschema:"An array of observation contents associated with the entity"`
}

// Relation is a directed edge between two entities, in active voice.
type Relation struct {
	From         string `json:"from" jsonschema:"The name of the entity where the relation starts"`
	To           string `json:"to" jsonschema:"The name of the entity where the relation ends"`
	RelationType string `json:"relationType" jsonschema:"The type of the relation"`
}

// GraphEntity is an entity as the read tools return it, with timestamps.
type GraphEntity struct {
	Name         string    `json:"name"`
	EntityType   string    `json:"entityType"`
	Observations []string  `json:"observations"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// GraphRelation is a relation as the read tools return it.
type GraphRelation struct {
	From         string    `json:"from"`
	To           string    `json:"to"`
	RelationType string    `json:"relationType"`
	CreatedAt    time.Time `json:"createdAt"`
}

// KnowledgeGraph is the answer of read_graph, search_nodes and open_nodes.
type KnowledgeGraph struct {
	Entities   []GraphEntity   `json:"entities"`
	Relations  []GraphRelation `json:"relations"`
	NextCursor string          `json:"nextCursor,omitempty" jsonschema:"more entities follow: pass as cursor to read them"`
}

// CreateEntitiesInput is the input of create_entities.
type CreateEntitiesInput struct {
	Entities []Entity `json:"entities"`
}

// EntitiesOutput lists the entities actually created.
type EntitiesOutput struct {
	Entities []Entity `json:"entities"`
}

// RelationsInput is the input of create_relations and delete_relations.
type RelationsInput struct {
	Relations []Relation `json:"relations" jsonschema:"An array of relations"`
}

// RelationsOutput lists the relations actually created.
type RelationsOutput struct {
	Relations []Relation `json:"relations"`
}

// ObservationAdd adds observations to one entity.
type ObservationAdd struct {
	EntityName string   `json:"entityName" jsonschema:"The name of the entity to add the observations to"`
	Contents   []string `json:"contents" jsonschema:"An array of observation contents to add"`
}

// AddObservationsInput is the input of add_observations.
type AddObservationsInput struct {
	Observations []ObservationAdd `json:"observations"`
}

// ObservationsAdded says which observations were new.
type ObservationsAdded struct {
	EntityName        string   `json:"entityName"`
	AddedObservations []string `json:"addedObservations"`
}

// AddObservationsOutput is the answer of add_observations.
type AddObservationsOutput struct {
	Results []ObservationsAdded `json:"results"`
}

// DeleteEntitiesInput is the input of delete_entities.
type DeleteEntitiesInput struct {
	EntityNames []string `json:"entityNames" jsonschema:"An array of entity names to delete"`
}

// ObservationDelete removes observations from one entity.
type ObservationDelete struct {
	EntityName   string   `json:"entityName" jsonschema:"The name of the entity containing the observations"`
	Observations []string `json:"observations" jsonschema:"An array of observations to delete"`
}

// DeleteObservationsInput is the input of delete_observations.
type DeleteObservationsInput struct {
	Deletions []ObservationDelete `json:"deletions"`
}

// SuccessOutput is the answer of the delete tools.
type SuccessOutput struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
}

// ReadGraphInput pages through the graph (the reference takes no arguments).
type ReadGraphInput struct {
	Cursor string `json:"cursor,omitempty" jsonschema:"nextCursor of the previous answer"`
	Limit  int    `json:"limit,omitempty" jsonschema:"entities per answer, 1..1000, default 1000 (the answer is also cut at about 100 KB)"`
}

// SearchNodesInput is the input of search_nodes.
type SearchNodesInput struct {
	Query  string `json:"query" jsonschema:"The search query to match against entity names, types, and observation content"`
	Mode   string `json:"mode,omitempty" jsonschema:"substring (default): case-insensitive substring match, as the reference server; ranked: full-text, best first, any word may match: use it for natural-language questions"`
	Cursor string `json:"cursor,omitempty" jsonschema:"nextCursor of the previous answer"`
	Limit  int    `json:"limit,omitempty" jsonschema:"entities per answer, 1..1000; default 1000 (substring) or 20 (ranked)"`
}

// OpenNodesInput is the input of open_nodes.
type OpenNodesInput struct {
	Names []string `json:"names" jsonschema:"An array of entity names to retrieve"`
}

const maxGraphLimit = 1000

func (s *server) addGraphTools(srv *mcp.Server) {
	addTool(srv, &mcp.Tool{Name: "create_entities", Annotations: additive("Create Entities"),
		Description: "Create multiple new entities in the knowledge graph"}, s.createEntities)
	addTool(srv, &mcp.Tool{Name: "create_relations", Annotations: additive("Create Relations"),
		Description: "Create multiple new relations between entities in the knowledge graph. Relations should be in active voice"}, s.createRelations)
	addTool(srv, &mcp.Tool{Name: "add_observations", Annotations: additive("Add Observations"),
		Description: "Add new observations to existing entities in the knowledge graph"}, s.addObservations)
	addTool(srv, &mcp.Tool{Name: "delete_entities", Annotations: destructive("Delete Entities"),
		Description: "Delete multiple entities and their associated relations from the knowledge graph"}, s.deleteEntities)
	addTool(srv, &mcp.Tool{Name: "delete_observations", Annotations: destructive("Delete Observations"),
		Description: "Delete specific observations from entities in the knowledge graph"}, s.deleteObservations)
	addTool(srv, &mcp.Tool{Name: "delete_relations", Annotations: destructive("Delete Relations"),
		Description: "Delete multiple relations from the knowledge graph"}, s.deleteRelations)
	addTool(srv, &mcp.Tool{Name: "read_graph", Annotations: readOnly("Read Graph"),
		Description: "Read the entire knowledge graph (paged: a large graph comes with a nextCursor)"}, s.readGraph)
	addTool(srv, &mcp.Tool{Name: "search_nodes", Annotations: readOnly("Search Nodes"),
		Description: "Search for nodes in the knowledge graph based on a query"}, s.searchNodes)
	addTool(srv, &mcp.Tool{Name: "open_nodes", Annotations: readOnly("Open Nodes"),
		Description: "Open specific nodes in the knowledge graph by their names"}, s.openNodes)
}

// EntityID is the context id of the entity called name for principal p:
// derived from the name (and the uid of a uid-bound principal, whose graph is
// its own), so a lookup is a point read and creation is race-free.
func EntityID(p *contextd.Principal, name string) string {
	uid := ""
	if p != nil {
		uid = p.UID
	}
	sum := sha256.Sum256([]byte(uid + "\x00" + name))
	return "ent_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:20]))
}

// RelationshipType turns a free-form relationType ("works at") into a
// relationship type (WORKS_AT). The original is kept in properties.relationType.
func RelationshipType(relationType string) string {
	var b strings.Builder
	sep := true
	for _, r := range strings.ToUpper(relationType) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			sep = false
		} else if !sep {
			b.WriteByte('_')
			sep = true
		}
	}
	t := strings.TrimRight(b.String(), "_")
	if t == "" || t[0] < 'A' || t[0] > 'Z' {
		t = strings.TrimRight("REL_"+t, "_")
	}
	if len(t) > 64 {
		t = strings.TrimRight(t[:64], "_")
	}
	return t
}

// altRelationshipType is the type used when RelationshipType(rt) is already
// taken between the same entities by a different relationType ("works at"
// and "works_at"), or refused (a CONTAINS cycle the reference allows).
func altRelationshipType(rt string) string {
	sum := sha256.Sum256([]byte(rt))
	suffix := "_" + strings.ToUpper(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:5]))
	t := RelationshipType(rt)
	if len(t)+len(suffix) > 64 {
		t = strings.TrimRight(t[:64-len(suffix)], "_")
	}
	return t + suffix
}

// entityFrom reads an entity context; ok is false for other contexts.
func entityFrom(c *contextd.Context) (e GraphEntity, ok bool) {
	if c == nil || c.Type != EntityType {
		return e, false
	}
	e = GraphEntity{Name: c.Title, Observations: observations(c), CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if c.Metadata != nil {
		e.EntityType, _ = c.Metadata["entityType"].(string)
	}
	return e, true
}

func observations(c *contextd.Context) []string {
	out := []string{}
	switch v := c.Metadata["observations"].(type) {
	case []string:
		out = append(out, v...)
	case []any:
		for _, o := range v {
			if s, ok := o.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// searchText is an entity's content: its type and observations, one per
// line, so that full-text search finds them.
func searchText(entityType string, obs []string) string {
	return strings.Join(append([]string{entityType}, obs...), "\n")
}

// relationTypeOf is the relationType a relationship stands for.
func relationTypeOf(r *contextd.Relationship) string {
	if rt, ok := r.Properties["relationType"].(string); ok {
		return rt
	}
	return r.Type
}

// EntityCreate is the context that stores a new entity.
func EntityCreate(p *contextd.Principal, e Entity) contextd.ContextCreate {
	obs := e.Observations
	if obs == nil {
		obs = []string{}
	}
	return contextd.ContextCreate{
		ID: EntityID(p, e.Name), Title: e.Name, Type: EntityType, Content: searchText(e.EntityType, obs),
		Metadata: map[string]any{"entityType": e.EntityType, "observations": obs},
	}
}

func notFoundEntity(name string) error { return entityNotFound{name} }

// getEntity reads the entity called name; ok is false when there is none.
func (s *server) getEntity(ctx context.Context, p *contextd.Principal, name string) (*contextd.Context, bool, error) {
	c, err := s.svc.GetContext(ctx, p, EntityID(p, name))
	if contextd.ErrorCode(err) == contextd.ENOTFOUND {
		return nil, false, nil
	} else if err != nil {
		return nil, false, err
	}
	if c.Type != EntityType || c.Title != name {
		return nil, false, nil
	}
	return c, true, nil
}

// CreateEntities creates the entities that do not exist yet, in order, and
// returns them. It is create_entities, also used by the mcp-memory import.
func (s *server) CreateEntities(ctx context.Context, p *contextd.Principal, in []Entity) ([]Entity, error) {
	if err := p.Require(contextd.RoleWriter); err != nil {
		return nil, err
	}
	// Validate everything before writing anything.
	items := make([]contextd.ContextCreate, len(in))
	for i, e := range in {
		items[i] = EntityCreate(p, e)
		c := items[i]
		if err := c.Normalize("entities[" + strconv.Itoa(i) + "]"); err != nil {
			return nil, err
		}
	}
	created := []Entity{}
	seen := map[string]bool{}
	for i, e := range in {
		if seen[e.Name] {
			continue
		}
		seen[e.Name] = true
		_, err := s.svc.CreateContexts(ctx, p, items[i:i+1], false)
		switch contextd.ErrorCode(err) {
		case "":
			if e.Observations == nil {
				e.Observations = []string{}
			}
			created = append(created, e)
		case contextd.ECONFLICT: // it exists already
		default:
			return nil, err
		}
	}
	return created, nil
}

func (s *server) createEntities(ctx context.Context, req *mcp.CallToolRequest, in CreateEntitiesInput) (*mcp.CallToolResult, *EntitiesOutput, error) {
	out, err := s.CreateEntities(ctx, s.principal(ctx, req.Extra), in.Entities)
	if err != nil {
		return nil, nil, s.graphError("create_entities", err)
	}
	return textResult(jsonText(out)), &EntitiesOutput{Entities: out}, nil
}

// graphError is toolError for the reference tools, whose own errors
// ("Entity with name X not found") pass through as the reference words them.
func (s *server) graphError(tool string, err error) error {
	var nf entityNotFound
	if errors.As(err, &nf) {
		return nf
	}
	return s.toolError(tool, err)
}

// entityNotFound is the reference server's error for a missing entity.
type entityNotFound struct{ name string }

func (e entityNotFound) Error() string { return "Entity with name " + e.name + " not found" }

// CreateRelations creates the relations that do not exist yet, in order, and
// returns them. Every entity named must exist.
func (s *server) CreateRelations(ctx context.Context, p *contextd.Principal, in []Relation) ([]Relation, error) {
	if err := p.Require(contextd.RoleWriter); err != nil {
		return nil, err
	}
	ents := map[string]*contextd.Context{}
	for _, r := range in {
		for _, name := range []string{r.From, r.To} {
			if _, ok := ents[name]; ok {
				continue
			}
			c, ok, err := s.getEntity(ctx, p, name)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, notFoundEntity(name)
			}
			ents[name] = c
		}
	}
	created := []Relation{}
	seen := map[Relation]bool{}
	for _, r := range in {
		if seen[r] {
			continue
		}
		seen[r] = true
		isNew, err := s.createRelation(ctx, p, ents[r.From].ID, ents[r.To].ID, r.RelationType)
		if err != nil {
			return nil, err
		}
		if isNew {
			created = append(created, r)
		}
	}
	return created, nil
}

// findRelation returns the edge src -> dst standing for relationType, or nil.
func (s *server) findRelation(ctx context.Context, p *contextd.Principal, src, dst, relationType string) (*contextd.Relationship, error) {
	rels, err := s.svc.FindRelationships(ctx, p, contextd.RelationshipFilter{ContextID: src, Direction: contextd.DirectionOut})
	if err != nil {
		return nil, err
	}
	for _, r := range rels {
		if r.TargetID == dst && relationTypeOf(r) == relationType {
			return r, nil
		}
	}
	return nil, nil
}

// createRelation makes one edge unless it exists; isNew reports which.
func (s *server) createRelation(ctx context.Context, p *contextd.Principal, src, dst, relationType string) (isNew bool, err error) {
	if r, err := s.findRelation(ctx, p, src, dst, relationType); err != nil || r != nil {
		return false, err
	}
	for _, t := range []string{RelationshipType(relationType), altRelationshipType(relationType)} {
		_, err := s.svc.CreateRelationship(ctx, p, contextd.RelationshipCreate{Type: t, SourceID: src, TargetID: dst,
			Properties: map[string]any{"relationType": relationType}})
		if contextd.ErrorCode(err) != contextd.ECONFLICT {
			return err == nil, err
		}
		// Taken: by the same relation (another client was faster) or by a
		// different relationType with the same UPPER_SNAKE form.
		if r, err := s.findRelation(ctx, p, src, dst, relationType); err != nil || r != nil {
			return false, err
		}
	}
	return false, contextd.Errorf(contextd.ECONFLICT, "relation %q between these entities cannot be stored", relationType)
}

func (s *server) createRelations(ctx context.Context, req *mcp.CallToolRequest, in RelationsInput) (*mcp.CallToolResult, *RelationsOutput, error) {
	out, err := s.CreateRelations(ctx, s.principal(ctx, req.Extra), in.Relations)
	if err != nil {
		return nil, nil, s.graphError("create_relations", err)
	}
	return textResult(jsonText(out)), &RelationsOutput{Relations: out}, nil
}

// maxRetries bounds optimistic-concurrency retries of an entity update.
const maxRetries = 50

// updateEntity applies change to the observations of the entity c names,
// with If-Match on its version, re-reading and retrying when another writer
// was first. change returns false when it changed nothing.
func (s *server) updateEntity(ctx context.Context, p *contextd.Principal, name string, change func(obs []string) ([]string, bool)) (found bool, err error) {
	for attempt := 0; ; attempt++ {
		c, ok, err := s.getEntity(ctx, p, name)
		if err != nil || !ok {
			return false, err
		}
		obs, changed := change(observations(c))
		if !changed {
			return true, nil
		}
		meta := make(map[string]any, len(c.Metadata)+1)
		for k, v := range c.Metadata {
			meta[k] = v
		}
		meta["observations"] = obs
		et, _ := meta["entityType"].(string)
		content := searchText(et, obs)
		_, err = s.svc.UpdateContext(ctx, p, c.ID, contextd.ContextUpdate{Content: &content, Metadata: &meta, IfVersion: c.Version})
		if contextd.ErrorCode(err) == contextd.EPRECONDITION && attempt < maxRetries {
			continue
		}
		return true, err
	}
}

func (s *server) addObservations(ctx context.Context, req *mcp.CallToolRequest, in AddObservationsInput) (*mcp.CallToolResult, *AddObservationsOutput, error) {
	p := s.principal(ctx, req.Extra)
	out, err := s.AddObservations(ctx, p, in.Observations)
	if err != nil {
		return nil, nil, s.graphError("add_observations", err)
	}
	return textResult(jsonText(out)), &AddObservationsOutput{Results: out}, nil
}

// AddObservations adds the observations each entity does not have yet.
// Every entity must exist; none is changed otherwise.
func (s *server) AddObservations(ctx context.Context, p *contextd.Principal, in []ObservationAdd) ([]ObservationsAdded, error) {
	if err := p.Require(contextd.RoleWriter); err != nil {
		return nil, err
	}
	var order []string
	ops := map[string][]int{}
	for i, o := range in {
		if _, ok := ops[o.EntityName]; !ok {
			order = append(order, o.EntityName)
			if _, ok, err := s.getEntity(ctx, p, o.EntityName); err != nil {
				return nil, err
			} else if !ok {
				return nil, notFoundEntity(o.EntityName)
			}
		}
		ops[o.EntityName] = append(ops[o.EntityName], i)
	}
	results := make([]ObservationsAdded, len(in))
	for _, name := range order {
		found, err := s.updateEntity(ctx, p, name, func(obs []string) ([]string, bool) {
			changed := false
			for _, i := range ops[name] {
				// As the reference: new = contents not among the observations
				// before this item (duplicates within one item are all added).
				added := []string{}
				for _, c := range in[i].Contents {
					if !slices.Contains(obs, c) {
						added = append(added, c)
					}
				}
				obs = append(obs, added...)
				results[i] = ObservationsAdded{EntityName: name, AddedObservations: added}
				changed = changed || len(added) > 0
			}
			return obs, changed
		})
		if err != nil {
			return nil, err
		}
		if !found { // deleted by another client meanwhile
			return nil, notFoundEntity(name)
		}
	}
	return results, nil
}

func (s *server) deleteEntities(ctx context.Context, req *mcp.CallToolRequest, in DeleteEntitiesInput) (*mcp.CallToolResult, *SuccessOutput, error) {
	p := s.principal(ctx, req.Extra)
	if err := p.Require(contextd.RoleWriter); err != nil {
		return nil, nil, s.toolError("delete_entities", err)
	}
	present := map[string]bool{}
	for _, name := range in.EntityNames {
		if _, done := present[name]; done {
			continue
		}
		_, ok, err := s.getEntity(ctx, p, name)
		if err != nil {
			return nil, nil, s.toolError("delete_entities", err)
		}
		present[name] = ok
	}
	for name, ok := range present {
		if !ok {
			continue
		}
		err := s.svc.DeleteContext(ctx, p, EntityID(p, name))
		if err != nil && contextd.ErrorCode(err) != contextd.ENOTFOUND {
			return nil, nil, s.toolError("delete_entities", err)
		}
	}
	// As the published reference server: names that match nothing are no error.
	msg := "Entities deleted successfully"
	return textResult(msg), &SuccessOutput{Success: true, Message: msg}, nil
}

func (s *server) deleteObservations(ctx context.Context, req *mcp.CallToolRequest, in DeleteObservationsInput) (*mcp.CallToolResult, *SuccessOutput, error) {
	p := s.principal(ctx, req.Extra)
	if err := p.Require(contextd.RoleWriter); err != nil {
		return nil, nil, s.toolError("delete_observations", err)
	}
	for _, d := range in.Deletions {
		_, err := s.updateEntity(ctx, p, d.EntityName, func(obs []string) ([]string, bool) {
			kept := make([]string, 0, len(obs))
			for _, o := range obs {
				if !slices.Contains(d.Observations, o) {
					kept = append(kept, o)
				}
			}
			return kept, len(kept) < len(obs)
		})
		if err != nil {
			return nil, nil, s.toolError("delete_observations", err)
		}
	}
	// As the published reference server: a missing entity or observation is no error.
	msg := "Observations deleted successfully"
	return textResult(msg), &SuccessOutput{Success: true, Message: msg}, nil
}

func (s *server) deleteRelations(ctx context.Context, req *mcp.CallToolRequest, in RelationsInput) (*mcp.CallToolResult, *SuccessOutput, error) {
	p := s.principal(ctx, req.Extra)
	if err := p.Require(contextd.RoleWriter); err != nil {
		return nil, nil, s.toolError("delete_relations", err)
	}
	for _, r := range in.Relations {
		src, ok1, err := s.getEntity(ctx, p, r.From)
		if err != nil {
			return nil, nil, s.toolError("delete_relations", err)
		}
		dst, ok2, err := s.getEntity(ctx, p, r.To)
		if err != nil {
			return nil, nil, s.toolError("delete_relations", err)
		}
		if !ok1 || !ok2 {
			continue
		}
		rel, err := s.findRelation(ctx, p, src.ID, dst.ID, r.RelationType)
		if err != nil {
			return nil, nil, s.toolError("delete_relations", err)
		}
		if rel == nil {
			continue
		}
		err = s.svc.DeleteRelationship(ctx, p, rel.ID)
		if err != nil && contextd.ErrorCode(err) != contextd.ENOTFOUND { // ENOTFOUND: another client was first
			return nil, nil, s.toolError("delete_relations", err)
		}
	}
	msg := "Relations deleted successfully"
	return textResult(msg), &SuccessOutput{Success: true, Message: msg}, nil
}

// scanCursor is a position in the list of entities: a store cursor of a
// page (of scanPage entities, oldest first) and an offset into it.
type scanCursor struct {
	C string `json:"c,omitempty"`
	O int    `json:"o,omitempty"`
}

const scanPage = 100

func (c scanCursor) String() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseCursor(s string) (scanCursor, error) {
	var c scanCursor
	if s == "" {
		return c, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.O < 0 || c.O >= scanPage {
		return c, contextd.Invalid("cursor", "is not a cursor of this tool")
	}
	return c, nil
}

// scanEntities calls fn for each entity from cur on, oldest first, until fn
// says stop; then it returns the position of the entity fn stopped at, or
// nil when the list is done.
func (s *server) scanEntities(ctx context.Context, p *contextd.Principal, cur scanCursor, fn func(c *contextd.Context) (stop bool)) (*scanCursor, error) {
	for {
		page, next, err := s.svc.FindContexts(ctx, p, contextd.ContextFilter{Type: EntityType, Ascending: true, Limit: scanPage, Cursor: cur.C})
		if err != nil {
			return nil, err
		}
		for i := cur.O; i < len(page); i++ {
			if fn(page[i]) {
				return &scanCursor{C: cur.C, O: i}, nil
			}
		}
		if next == "" {
			return nil, nil
		}
		cur = scanCursor{C: next}
	}
}

// graphBuilder collects entities and the relations that touch them into a
// bounded answer.
type graphBuilder struct {
	s       *server
	p       *contextd.Principal
	budget  int
	limit   int
	size    int
	g       KnowledgeGraph
	ids     map[string]string // context id -> entity name, for every entity seen
	edges   map[string]*contextd.Relationship
	members map[string]bool // ids of the entities in the answer
	both    bool            // relations touching a member at either end (else: from a member)
}

func newGraphBuilder(s *server, p *contextd.Principal, limit int, both bool) *graphBuilder {
	return &graphBuilder{s: s, p: p, budget: s.opts.MaxResultBytes, limit: limit, both: both,
		g:   KnowledgeGraph{Entities: []GraphEntity{}, Relations: []GraphRelation{}},
		ids: map[string]string{}, edges: map[string]*contextd.Relationship{}, members: map[string]bool{}}
}

// add puts c in the answer unless the answer is full; it reports whether it did.
func (b *graphBuilder) add(c *contextd.Context) bool {
	e, ok := entityFrom(c)
	if !ok {
		return true
	}
	size := 80 + len(e.Name) + len(e.EntityType)
	for _, o := range e.Observations {
		size += len(o) + 4
	}
	var edges []*contextd.Relationship
	for _, r := range c.Relationships {
		if r.SourceID == c.ID || b.both {
			edges = append(edges, r)
			size += 120 + len(relationTypeOf(r))
		}
	}
	if len(b.g.Entities) > 0 && (len(b.g.Entities) >= b.limit || b.size+size > b.budget) {
		return false
	}
	b.size += size
	b.g.Entities = append(b.g.Entities, e)
	b.ids[c.ID] = e.Name
	b.members[c.ID] = true
	for _, r := range edges {
		b.edges[r.ID] = r
	}
	return true
}

// finish resolves the relations' entity names and orders them as created.
func (b *graphBuilder) finish(ctx context.Context) (*KnowledgeGraph, error) {
	edges := make([]*contextd.Relationship, 0, len(b.edges))
	for _, r := range b.edges {
		edges = append(edges, r)
	}
	slices.SortFunc(edges, func(x, y *contextd.Relationship) int {
		return cmp.Or(x.CreatedAt.Compare(y.CreatedAt), strings.Compare(x.ID, y.ID))
	})
	for _, r := range edges {
		from, ok1, err := b.name(ctx, r.SourceID)
		if err != nil {
			return nil, err
		}
		to, ok2, err := b.name(ctx, r.TargetID)
		if err != nil {
			return nil, err
		}
		if ok1 && ok2 {
			b.g.Relations = append(b.g.Relations, GraphRelation{From: from, To: to, RelationType: relationTypeOf(r), CreatedAt: r.CreatedAt})
		}
	}
	return &b.g, nil
}

// name is the entity name of a context id; ok is false for a context that
// is not an entity.
func (b *graphBuilder) name(ctx context.Context, id string) (string, bool, error) {
	if n, ok := b.ids[id]; ok {
		return n, n != "\x00", nil
	}
	c, err := b.s.svc.GetContext(ctx, b.p, id)
	if contextd.ErrorCode(err) == contextd.ENOTFOUND {
		b.ids[id] = "\x00"
		return "", false, nil
	} else if err != nil {
		return "", false, err
	}
	e, ok := entityFrom(c)
	if !ok {
		b.ids[id] = "\x00"
		return "", false, nil
	}
	b.ids[id] = e.Name
	return e.Name, true, nil
}

func graphLimit(n, def int) int {
	if n <= 0 {
		return def
	}
	return min(n, maxGraphLimit)
}

// ReadGraph returns the graph from cursor on, bounded in entities and bytes.
func (s *server) ReadGraph(ctx context.Context, p *contextd.Principal, in ReadGraphInput) (*KnowledgeGraph, error) {
	if err := p.Require(contextd.RoleReader); err != nil {
		return nil, err
	}
	cur, err := parseCursor(in.Cursor)
	if err != nil {
		return nil, err
	}
	b := newGraphBuilder(s, p, graphLimit(in.Limit, maxGraphLimit), false)
	next, err := s.scanEntities(ctx, p, cur, func(c *contextd.Context) bool { return !b.add(c) })
	if err != nil {
		return nil, err
	}
	g, err := b.finish(ctx)
	if err != nil {
		return nil, err
	}
	if next != nil {
		g.NextCursor = next.String()
	}
	return g, nil
}

func (s *server) readGraph(ctx context.Context, req *mcp.CallToolRequest, in ReadGraphInput) (*mcp.CallToolResult, *KnowledgeGraph, error) {
	g, err := s.ReadGraph(ctx, s.principal(ctx, req.Extra), in)
	if err != nil {
		return nil, nil, s.toolError("read_graph", err)
	}
	return textResult(jsonText(g)), g, nil
}

func (s *server) searchNodes(ctx context.Context, req *mcp.CallToolRequest, in SearchNodesInput) (*mcp.CallToolResult, *KnowledgeGraph, error) {
	p := s.principal(ctx, req.Extra)
	if err := p.Require(contextd.RoleReader); err != nil {
		return nil, nil, s.toolError("search_nodes", err)
	}
	var (
		g   *KnowledgeGraph
		err error
	)
	switch in.Mode {
	case "", "substring":
		g, err = s.searchSubstring(ctx, p, in)
	case "ranked":
		g, err = s.searchRanked(ctx, p, in)
	default:
		err = contextd.Invalid("mode", "must be substring or ranked")
	}
	if err != nil {
		return nil, nil, s.toolError("search_nodes", err)
	}
	return textResult(jsonText(g)), g, nil
}

// searchSubstring matches as the reference server does: the query, case
// folded, within the name, the type or an observation; entities in creation
// order, with the relations that touch them.
func (s *server) searchSubstring(ctx context.Context, p *contextd.Principal, in SearchNodesInput) (*KnowledgeGraph, error) {
	cur, err := parseCursor(in.Cursor)
	if err != nil {
		return nil, err
	}
	q := strings.ToLower(in.Query)
	b := newGraphBuilder(s, p, graphLimit(in.Limit, maxGraphLimit), true)
	next, err := s.scanEntities(ctx, p, cur, func(c *contextd.Context) bool {
		e, ok := entityFrom(c)
		if !ok || !matches(e, q) {
			return false
		}
		return !b.add(c)
	})
	if err != nil {
		return nil, err
	}
	g, err := b.finish(ctx)
	if err != nil {
		return nil, err
	}
	if next != nil {
		g.NextCursor = next.String()
	}
	return g, nil
}

func matches(e GraphEntity, q string) bool {
	if strings.Contains(strings.ToLower(e.Name), q) || strings.Contains(strings.ToLower(e.EntityType), q) {
		return true
	}
	for _, o := range e.Observations {
		if strings.Contains(strings.ToLower(o), q) {
			return true
		}
	}
	return false
}

// searchRanked runs a full-text search over the entities, best first.
func (s *server) searchRanked(ctx context.Context, p *contextd.Principal, in SearchNodesInput) (*KnowledgeGraph, error) {
	offset := 0
	if in.Cursor != "" {
		n, err := strconv.Atoi(in.Cursor)
		if err != nil || n < 0 || n > contextd.MaxSearchOffset {
			return nil, contextd.Invalid("cursor", "is not a cursor of this tool")
		}
		offset = n
	}
	limit := min(graphLimit(in.Limit, 20), contextd.MaxSearchLimit)
	res, err := s.svc.Search(ctx, p, contextd.SearchQuery{Query: in.Query, Limit: limit, Offset: offset,
		Filters: contextd.SearchFilters{Types: []string{EntityType}}})
	if err != nil {
		return nil, err
	}
	b := newGraphBuilder(s, p, limit, true)
	n := 0
	for _, h := range res.Results {
		if !b.add(h.Context) {
			break
		}
		n++
	}
	g, err := b.finish(ctx)
	if err != nil {
		return nil, err
	}
	if offset+n < res.Total && n > 0 {
		g.NextCursor = strconv.Itoa(offset + n)
	}
	return g, nil
}

func (s *server) openNodes(ctx context.Context, req *mcp.CallToolRequest, in OpenNodesInput) (*mcp.CallToolResult, *KnowledgeGraph, error) {
	p := s.principal(ctx, req.Extra)
	if err := p.Require(contextd.RoleReader); err != nil {
		return nil, nil, s.toolError("open_nodes", err)
	}
	if len(in.Names) > maxGraphLimit {
		return nil, nil, s.toolError("open_nodes", contextd.Invalid("names", "at most %d names", maxGraphLimit))
	}
	var found []*contextd.Context
	seen := map[string]bool{}
	for _, name := range in.Names {
		if seen[name] {
			continue
		}
		seen[name] = true
		c, ok, err := s.getEntity(ctx, p, name)
		if err != nil {
			return nil, nil, s.toolError("open_nodes", err)
		}
		if ok {
			found = append(found, c)
		}
	}
	// The reference answers in the graph's order, which is creation order.
	slices.SortFunc(found, func(x, y *contextd.Context) int {
		return cmp.Or(x.CreatedAt.Compare(y.CreatedAt), strings.Compare(x.ID, y.ID))
	})
	b := newGraphBuilder(s, p, maxGraphLimit, true)
	b.budget = 1 << 30 // the caller named each entity
	for _, c := range found {
		b.add(c)
	}
	g, err := b.finish(ctx)
	if err != nil {
		return nil, nil, s.toolError("open_nodes", err)
	}
	return textResult(jsonText(g)), g, nil
}
