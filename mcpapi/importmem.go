package mcpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/contextd/contextd"
)

// ImportStats counts what ImportMemoryJSONL did.
type ImportStats struct {
	Entities     int `json:"entities"`     // entities created
	Observations int `json:"observations"` // observations added to entities that existed already
	Relations    int `json:"relations"`    // relations created
	Skipped      int `json:"skipped"`      // lines unreadable, duplicate, or naming a missing entity
}

// memoryLine is one line of the reference memory server's memory.jsonl.
type memoryLine struct {
	Type         string   `json:"type"`
	Name         string   `json:"name"`
	EntityType   string   `json:"entityType"`
	Observations []string `json:"observations"`
	From         string   `json:"from"`
	To           string   `json:"to"`
	RelationType string   `json:"relationType"`
}

// ImportMemoryJSONL reads a memory.jsonl of the reference memory server and
// stores its entities and relations for p, exactly as create_entities,
// add_observations and create_relations would: importing the same file
// twice changes nothing the second time. Lines that are not JSON objects of
// type entity or relation are skipped, as the reference server skips them.
func ImportMemoryJSONL(ctx context.Context, svc *contextd.Service, p *contextd.Principal, r io.Reader) (ImportStats, error) {
	var st ImportStats
	if err := p.Require(contextd.RoleWriter); err != nil {
		return st, err
	}
	s := &server{svc: svc}
	s.opts.fill()
	var (
		entities  []Entity
		relations []Relation
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var l memoryLine
		if len(sc.Bytes()) == 0 {
			continue
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			st.Skipped++
			continue
		}
		switch l.Type {
		case "entity":
			entities = append(entities, Entity{Name: l.Name, EntityType: l.EntityType, Observations: l.Observations})
		case "relation":
			relations = append(relations, Relation{From: l.From, To: l.To, RelationType: l.RelationType})
		default:
			st.Skipped++
		}
	}
	if err := sc.Err(); err != nil {
		return st, fmt.Errorf("reading the memory file: %w", err)
	}
	for i, e := range entities {
		created, err := s.CreateEntities(ctx, p, []Entity{e})
		if err != nil {
			return st, fmt.Errorf("entity %d (%q): %w", i+1, e.Name, err)
		}
		if len(created) == 1 {
			st.Entities++
			continue
		}
		// It exists: bring over the observations it lacks.
		added, err := s.AddObservations(ctx, p, []ObservationAdd{{EntityName: e.Name, Contents: e.Observations}})
		if err != nil {
			return st, fmt.Errorf("entity %d (%q): %w", i+1, e.Name, err)
		}
		if n := len(added[0].AddedObservations); n > 0 {
			st.Observations += n
		} else {
			st.Skipped++
		}
	}
	for i, rel := range relations {
		created, err := s.CreateRelations(ctx, p, []Relation{rel})
		var nf entityNotFound
		switch {
		case errors.As(err, &nf):
			st.Skipped++
		case err != nil:
			return st, fmt.Errorf("relation %d (%s -%s-> %s): %w", i+1, rel.From, rel.RelationType, rel.To, err)
		case len(created) == 1:
			st.Relations++
		default:
			st.Skipped++
		}
	}
	return st, nil
}
