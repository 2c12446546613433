package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/mcpapi"
)

// runImportMCP is "contextd import [--format F] [--tenant T] FILE": a
// contextd-export (contextd export, GET /v1/export) loaded idempotently
// (into its own tenants, or all into T), or with --format mcp-memory a
// memory.jsonl of the reference MCP memory server brought in as entities
// (contexts) and relations (into T, default "default"). The format is
// detected from the first line unless given. An encrypted file (contextd
// export with ENCRYPTION_KEY set) is decrypted with ENCRYPTION_KEY or one of
// ENCRYPTION_PREVIOUS_KEYS. It prints what it did as JSON; importing the
// same file again adds nothing.
func runImportMCP(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fset := newFlagSet("import", stderr)
	var (
		format = fset.String("format", "auto", "input format: contextd (a contextd-export), mcp-memory (a memory.jsonl of @modelcontextprotocol/server-memory) or auto")
		tenant = fset.String("tenant", "", "tenant to import into (contextd: default each line's own; mcp-memory: default \"default\")")
	)
	cfg, err := loadConfig(fset, args, getenv)
	if err != nil {
		return err
	}
	if *format != "mcp-memory" && *format != "contextd" && *format != "auto" {
		return usageError{fmt.Sprintf("import --format %q: must be contextd, mcp-memory or auto", *format)}
	}
	if fset.NArg() != 1 {
		return usageError{"import needs one FILE (- for standard input)"}
	}
	if *tenant != "" && !contextd.ValidTenant(*tenant) {
		return usageError{fmt.Sprintf("--tenant %q: must be 1..128 characters of letters, digits and _.@:~-", *tenant)}
	}
	var in io.Reader = os.Stdin
	if name := fset.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	if in, err = cfg.keys().Open(in); err != nil {
		return storeKeyError(fmt.Errorf("import %s: %w", fset.Arg(0), err))
	}
	br := bufio.NewReaderSize(in, 1<<20)
	if *format == "auto" {
		*format = "mcp-memory"
		first, _ := br.Peek(512)
		var h struct {
			Format string `json:"format"`
		}
		line, _, _ := bytes.Cut(first, []byte("\n"))
		if json.Unmarshal(line, &h) == nil && h.Format == contextd.ExportFormat || bytes.Contains(line, []byte(`"format":"`+contextd.ExportFormat+`"`)) {
			*format = "contextd"
		}
	}
	logger := newLogger(cfg, stderr)
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	svc, err := newService(store, cfg, nil)
	if err != nil {
		return err
	}
	if *format == "contextd" {
		res, err := contextd.ImportStreamVectors(ctx, store, svc.Embedder, br, *tenant, "import")
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(res)
	}
	in = br
	if *tenant == "" {
		*tenant = "default"
	}
	p := &contextd.Principal{Tenant: *tenant, Role: contextd.RoleAdmin, Subject: "import"}
	st, err := mcpapi.ImportMemoryJSONL(ctx, svc, p, in)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(st)
}
