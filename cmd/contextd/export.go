package main

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/atrest"
)

// runExport is "contextd export [--tenant T] [--out FILE] [--format F]
// [--plaintext]": a consistent snapshot of the store (every tenant, API keys
// included, by default) as a contextd-export (ndjson), or its graph of
// contexts and relationships as GraphML or Cypher statements for Neo4j
// tools. With ENCRYPTION_KEY set the output is encrypted (an age file, see
// package atrest) unless --plaintext is given; `contextd import` reads it.
func runExport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fset := newFlagSet("export", stderr)
	var (
		tenant = fset.String("tenant", "", "export one tenant (default: every tenant, with API keys)")
		out    = fset.String("out", "-", "output file (- for standard output)")
		format = fset.String("format", "ndjson", "ndjson (contextd-export v1), graphml or cypher")
		plain  = fset.Bool("plaintext", false, "write plaintext even when ENCRYPTION_KEY is set (the output leaves the encryption at rest)")
	)
	cfg, err := loadConfig(fset, args, getenv)
	if err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return usageError{fmt.Sprintf("export takes no arguments (got %q)", fset.Arg(0))}
	}
	if *tenant != "" && !contextd.ValidTenant(*tenant) {
		return usageError{fmt.Sprintf("--tenant %q: must be 1..128 characters of letters, digits and _.@:~-", *tenant)}
	}
	var g graphWriter
	switch *format {
	case "ndjson":
	case "graphml":
		g = &graphML{}
	case "cypher":
		g = &cypherScript{}
	default:
		return usageError{fmt.Sprintf("--format %q: must be ndjson, graphml or cypher", *format)}
	}
	w := stdout
	var file *os.File
	if *out != "-" {
		if file, err = os.CreateTemp(filepath.Dir(*out), ".contextd-export-*"); err != nil {
			return err
		}
		defer os.Remove(file.Name())
		defer file.Close()
		w = file
	}
	logger := newLogger(cfg, stderr)
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	keys := cfg.keys()
	if *plain {
		keys = &atrest.Keys{}
	}
	sealed, err := keys.Seal(w)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(sealed, 256<<10)
	var ew *contextd.ExportWriter
	_, err = contextd.Snapshot(ctx, store, *tenant, os.TempDir(), func(seq int64) error {
		if g != nil {
			return g.begin(bw)
		}
		ew, err = contextd.NewExportWriter(bw, contextd.ExportHeader{CreatedAt: time.Now().UTC(), Store: store.Kind(), Seq: seq, Tenant: *tenant})
		return err
	}, func(rec *contextd.Record) error {
		if g != nil {
			return g.record(bw, rec)
		}
		return ew.Write(rec)
	})
	if err != nil {
		return err
	}
	if ew != nil {
		err = ew.Flush()
	} else {
		err = g.end(bw)
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = sealed.Close() // the end of an encrypted file
	}
	if err != nil || file == nil {
		return err
	}
	if err := file.Sync(); err != nil {
		return err
	}
	if err := file.Close(); err != nil {
		return err
	}
	return os.Rename(file.Name(), *out)
}

// graphWriter writes the contexts and relationships of an export in a
// graph format; other records are left out.
type graphWriter interface {
	begin(w io.Writer) error
	record(w io.Writer, rec *contextd.Record) error
	end(w io.Writer) error
}

// nodeID is a context's id in a graph file: ids are unique per tenant.
func nodeID(tenant, id string) string { return tenant + "/" + id }

// graphML writes GraphML (http://graphml.graphdrawing.org), which Neo4j's
// APOC (apoc.import.graphml), Gephi and yEd read.
type graphML struct{}

// graphMLKeys are the attributes: key id, element, attribute name, type.
var graphMLKeys = [][4]string{
	{"tenant", "node", "tenant", "string"}, {"id", "node", "id", "string"}, {"title", "node", "title", "string"},
	{"content", "node", "content", "string"}, {"type", "node", "type", "string"}, {"status", "node", "status", "string"},
	{"userId", "node", "userId", "string"}, {"sessionId", "node", "sessionId", "string"}, {"tags", "node", "tags", "string"},
	{"metadata", "node", "metadata", "string"}, {"createdAt", "node", "createdAt", "string"},
	{"updatedAt", "node", "updatedAt", "string"}, {"version", "node", "version", "long"},
	{"label", "edge", "type", "string"}, {"relId", "edge", "id", "string"}, {"properties", "edge", "properties", "string"},
	{"relCreatedAt", "edge", "createdAt", "string"},
}

func (graphML) begin(w io.Writer) error {
	var b strings.Builder
	b.WriteString(xml.Header)
	b.WriteString(`<graphml xmlns="http://graphml.graphdrawing.org/xmlns">` + "\n")
	for _, k := range graphMLKeys {
		fmt.Fprintf(&b, `  <key id="%s" for="%s" attr.name="%s" attr.type="%s"/>`+"\n", k[0], k[1], k[2], k[3])
	}
	b.WriteString(`  <graph id="contextd" edgedefault="directed">` + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func xmlText(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (graphML) record(w io.Writer, rec *contextd.Record) error {
	var b strings.Builder
	data := func(key, val string) { fmt.Fprintf(&b, `      <data key="%s">%s</data>`+"\n", key, xmlText(val)) }
	switch rec.Kind {
	case contextd.KindContext:
		c := rec.Context
		fmt.Fprintf(&b, `    <node id="%s" labels=":Context">`+"\n", xmlText(nodeID(rec.Tenant, c.ID)))
		data("tenant", rec.Tenant)
		data("id", c.ID)
		data("title", c.Title)
		data("content", c.Content)
		data("type", c.Type)
		data("status", c.Status)
		data("userId", c.UserID)
		data("sessionId", c.SessionID)
		data("tags", jsonText(c.Tags))
		data("metadata", jsonText(c.Metadata))
		data("createdAt", c.CreatedAt.Format(time.RFC3339Nano))
		data("updatedAt", c.UpdatedAt.Format(time.RFC3339Nano))
		data("version", fmt.Sprint(c.Version))
		b.WriteString("    </node>\n")
	case contextd.KindRelationship:
		r := rec.Relationship
		fmt.Fprintf(&b, `    <edge id="%s" source="%s" target="%s" label="%s">`+"\n", xmlText(nodeID(rec.Tenant, r.ID)),
			xmlText(nodeID(rec.Tenant, r.SourceID)), xmlText(nodeID(rec.Tenant, r.TargetID)), xmlText(r.Type))
		data("label", r.Type)
		data("relId", r.ID)
		data("properties", jsonText(r.Properties))
		data("relCreatedAt", r.CreatedAt.Format(time.RFC3339Nano))
		b.WriteString("    </edge>\n")
	default:
		return nil
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (graphML) end(w io.Writer) error {
	_, err := io.WriteString(w, "  </graph>\n</graphml>\n")
	return err
}

// cypherScript writes Cypher statements (one per line, for cypher-shell)
// that build the graph in Neo4j: (:Context) nodes and typed relationships.
type cypherScript struct{}

// cypherString is a Cypher string literal: JSON's escapes are Cypher's.
func cypherString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (cypherScript) begin(w io.Writer) error {
	_, err := io.WriteString(w, "// contextd graph export: run with cypher-shell -f FILE\n"+
		"CREATE CONSTRAINT contextd_import_key IF NOT EXISTS FOR (c:Context) REQUIRE (c.tenant, c.id) IS UNIQUE;\n")
	return err
}

func (cypherScript) record(w io.Writer, rec *contextd.Record) error {
	var s string
	switch rec.Kind {
	case contextd.KindContext:
		c := rec.Context
		tags := make([]string, len(c.Tags))
		for i, t := range c.Tags {
			tags[i] = cypherString(t)
		}
		s = fmt.Sprintf("CREATE (:Context {tenant: %s, id: %s, title: %s, content: %s, type: %s, status: %s, userId: %s, sessionId: %s, tags: [%s], metadata: %s, createdAt: datetime(%s), updatedAt: datetime(%s), version: %d});\n",
			cypherString(rec.Tenant), cypherString(c.ID), cypherString(c.Title), cypherString(c.Content), cypherString(c.Type),
			cypherString(c.Status), cypherString(c.UserID), cypherString(c.SessionID), strings.Join(tags, ", "),
			cypherString(jsonText(c.Metadata)), cypherString(c.CreatedAt.Format(time.RFC3339Nano)),
			cypherString(c.UpdatedAt.Format(time.RFC3339Nano)), c.Version)
	case contextd.KindRelationship:
		r := rec.Relationship
		if !contextd.ValidRelationshipType(r.Type) { // a type is an identifier here
			return fmt.Errorf("relationship %s: %q is not a relationship type", r.ID, r.Type)
		}
		s = fmt.Sprintf("MATCH (a:Context {tenant: %s, id: %s}), (b:Context {tenant: %s, id: %s}) CREATE (a)-[:%s {id: %s, properties: %s, createdAt: datetime(%s)}]->(b);\n",
			cypherString(rec.Tenant), cypherString(r.SourceID), cypherString(rec.Tenant), cypherString(r.TargetID), r.Type,
			cypherString(r.ID), cypherString(jsonText(r.Properties)), cypherString(r.CreatedAt.Format(time.RFC3339Nano)))
	default:
		return nil
	}
	_, err := io.WriteString(w, s)
	return err
}

func (cypherScript) end(io.Writer) error { return nil }
