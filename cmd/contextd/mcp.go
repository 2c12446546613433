package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/mcpapi"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const mcpUsage = `Usage: contextd mcp [--tenant T] [--session S]              MCP over stdio on the local store
       contextd mcp --url URL --api-key KEY                   MCP over stdio, forwarded to a contextd server

Serves the Model Context Protocol on standard input and output, for Claude
Desktop, Claude Code and other MCP clients. On the local store (DATA_DIR) the
caller is an admin of the tenant (default "default"); with --url every call
goes to that server's /mcp endpoint with the API key (also CONTEXTD_URL and
CONTEXTD_API_KEY), under that key's tenant and role. Logs go to stderr.

Flags:
`

// runMCP is "contextd mcp": MCP over stdio.
func runMCP(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return serveMCP(ctx, args, getenv, os.Stdin, stdout, stderr)
}

// serveMCP serves MCP on stdin/stdout until stdin ends or ctx is cancelled.
func serveMCP(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fset := newFlagSet("mcp", stderr)
	var (
		tenant  = fset.String("tenant", "default", "tenant to serve (local store)")
		session = fset.String("session", "", `session of memories stored without one (default "mcp")`)
		url     = fset.String("url", getenv("CONTEXTD_URL"), "a contextd server to forward to instead of the local store (env CONTEXTD_URL)")
		apiKey  = fset.String("api-key", "", "API key for --url (env CONTEXTD_API_KEY)")
	)
	fset.Usage = func() {
		fmt.Fprint(stderr, mcpUsage)
		fset.PrintDefaults()
	}
	cfg, err := loadConfig(fset, args, getenv)
	if err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return usageError{fmt.Sprintf("mcp takes no arguments (got %q)", fset.Arg(0))}
	}
	if *apiKey == "" {
		*apiKey = getenv("CONTEXTD_API_KEY")
	}
	logger := newLogger(cfg, stderr).With("component", "mcp")
	transport := &mcp.IOTransport{Reader: io.NopCloser(stdin), Writer: nopCloser{stdout}}

	var srv *mcp.Server
	if *url != "" {
		if *apiKey == "" {
			return usageError{"mcp --url needs --api-key (or CONTEXTD_API_KEY)"}
		}
		remote, cs, err := mcpapi.NewRemoteServer(ctx, mcpapi.RemoteOptions{URL: *url, APIKey: *apiKey, Version: buildVersion()})
		if err != nil {
			return err
		}
		defer cs.Close()
		srv = remote
	} else {
		if !contextd.ValidTenant(*tenant) {
			return usageError{fmt.Sprintf("--tenant %q: must be 1..128 characters of letters, digits and _.@:~-", *tenant)}
		}
		store, err := openStore(ctx, cfg, logger)
		if err != nil {
			return err
		}
		defer func() {
			if err := store.Close(); err != nil {
				logger.Error("closing the store", "err", err)
			}
		}()
		p := &contextd.Principal{Tenant: *tenant, Role: contextd.RoleAdmin, Subject: "mcp"}
		svc, err := newService(cfg, store)
		if err != nil {
			return err
		}
		srv = mcpapi.NewServer(svc, mcpapi.Options{Principal: p, Version: buildVersion(),
			Logger: logger, DefaultSessionID: *session})
	}
	err = srv.Run(ctx, transport)
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// nopCloser keeps stdout open when the MCP connection closes.
type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
