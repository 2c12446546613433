package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/mcpapi"
)

// runImportMCP is "contextd import --format mcp-memory [--tenant T] FILE":
// it brings a memory.jsonl of the reference MCP memory server into the local
// store as entities (contexts) and relations, and prints what it did as JSON.
// Importing the same file again adds nothing.
func runImportMCP(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fset := newFlagSet("import", stderr)
	var (
		format = fset.String("format", "mcp-memory", "input format: mcp-memory (a memory.jsonl of @modelcontextprotocol/server-memory)")
		tenant = fset.String("tenant", "default", "tenant to import into")
	)
	cfg, err := loadConfig(fset, args, getenv)
	if err != nil {
		return err
	}
	if *format != "mcp-memory" {
		return usageError{fmt.Sprintf("import --format %q: this command reads mcp-memory", *format)}
	}
	if fset.NArg() != 1 {
		return usageError{"import --format mcp-memory needs one FILE (- for standard input)"}
	}
	if !contextd.ValidTenant(*tenant) {
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
	logger := newLogger(cfg, stderr)
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	p := &contextd.Principal{Tenant: *tenant, Role: contextd.RoleAdmin, Subject: "import"}
	svc, err := newService(cfg, store)
	if err != nil {
		return err
	}
	st, err := mcpapi.ImportMemoryJSONL(ctx, svc, p, in)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(st)
}
