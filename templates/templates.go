// Package templates loads context templates from a directory
// (TEMPLATES_DIRECTORY): one TYPE.json file per context type,
//
//	{"type": "decision", "description": "...", "defaultTags": ["decision"],
//	 "defaultStatus": "draft", "metadataSchema": {JSON Schema draft 2020-12 or 7}}
//
// and validates metadata with github.com/santhosh-tekuri/jsonschema/v6.
package templates

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/contextd/contextd"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Set is the loaded templates. It implements contextd.Templates.
type Set struct {
	byType  map[string]*contextd.Template
	schemas map[string]*jsonschema.Schema
}

var _ contextd.Templates = (*Set)(nil)

// Load reads every *.json file of dir. A missing directory is an empty set;
// a bad file is an error naming it.
func Load(dir string) (*Set, error) {
	s := &Set{byType: map[string]*contextd.Template{}, schemas: map[string]*jsonschema.Schema{}}
	if dir == "" {
		return s, nil
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	for _, f := range files {
		if err := s.load(f); err != nil {
			return nil, fmt.Errorf("templates: %s: %w", f, err)
		}
	}
	return s, nil
}

func (s *Set) load(file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var t contextd.Template
	if err := dec.Decode(&t); err != nil {
		return err
	}
	if t.Type == "" {
		t.Type = strings.TrimSuffix(filepath.Base(file), ".json")
	}
	if !contextd.ValidContextType(t.Type) {
		return fmt.Errorf("type %q is not a context type", t.Type)
	}
	if _, dup := s.byType[t.Type]; dup {
		return fmt.Errorf("a second template for type %q", t.Type)
	}
	if t.DefaultStatus != "" && !contextd.ValidStatus(t.DefaultStatus) {
		return fmt.Errorf("defaultStatus %q is not a status", t.DefaultStatus)
	}
	if len(t.MetadataSchema) > 0 {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(t.MetadataSchema))
		if err != nil {
			return fmt.Errorf("metadataSchema: %w", err)
		}
		c := jsonschema.NewCompiler()
		url := "contextd:/templates/" + t.Type + ".json"
		if err := c.AddResource(url, doc); err != nil {
			return fmt.Errorf("metadataSchema: %w", err)
		}
		sch, err := c.Compile(url)
		if err != nil {
			return fmt.Errorf("metadataSchema: %w", err)
		}
		s.schemas[t.Type] = sch
	}
	s.byType[t.Type] = &t
	return nil
}

// List implements contextd.Templates.
func (s *Set) List() []*contextd.Template {
	out := make([]*contextd.Template, 0, len(s.byType))
	for _, t := range s.byType {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

// Get implements contextd.Templates.
func (s *Set) Get(typ string) *contextd.Template { return s.byType[typ] }

var printer = message.NewPrinter(language.English)

// CheckMetadata implements contextd.Templates.
func (s *Set) CheckMetadata(typ string, metadata map[string]any, loc string) error {
	sch := s.schemas[typ]
	if sch == nil {
		return nil
	}
	if metadata == nil {
		metadata = map[string]any{}
	}
	// The validator wants JSON values as encoding/json makes them.
	b, err := json.Marshal(metadata)
	if err != nil {
		return contextd.Invalid(loc, "is not representable as JSON")
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return contextd.Invalid(loc, "is not representable as JSON")
	}
	err = sch.Validate(doc)
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	leaf := ve
	for len(leaf.Causes) > 0 {
		leaf = leaf.Causes[0]
	}
	field := loc
	for _, seg := range leaf.InstanceLocation {
		field += "." + seg
	}
	if r, ok := leaf.ErrorKind.(*kind.Required); ok && len(r.Missing) > 0 {
		field += "." + r.Missing[0]
	}
	return contextd.Invalid(field, "does not match the %s template: %s", typ, leaf.ErrorKind.LocalizedString(printer))
}
