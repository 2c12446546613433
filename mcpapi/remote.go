package mcpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// RemoteOptions configure NewRemoteServer.
type RemoteOptions struct {
	// URL is the contextd server: its base URL (http://host:3000) or its
	// MCP endpoint (http://host:3000/mcp).
	URL string
	// APIKey is sent as "Authorization: Bearer <key>" on every request.
	APIKey string
	// HTTPClient makes the requests; http.DefaultClient when nil.
	HTTPClient *http.Client
	// Version is reported to local clients; "dev" when empty.
	Version string
}

// NewRemoteServer connects to a contextd server's /mcp endpoint and returns
// a local MCP server (for stdio) that offers the remote's tools, resources,
// resource templates and prompts and forwards every call to it. All logic,
// authentication and tenant walls stay on the remote; this is a pipe. Close
// the returned session when done.
func NewRemoteServer(ctx context.Context, o RemoteOptions) (*mcp.Server, *mcp.ClientSession, error) {
	endpoint := strings.TrimRight(o.URL, "/")
	if !strings.HasSuffix(endpoint, "/mcp") {
		endpoint += "/mcp"
	}
	base := o.HTTPClient
	if base == nil {
		base = http.DefaultClient
	}
	hc := *base
	hc.Transport = bearer{key: o.APIKey, next: base.Transport}
	if o.Version == "" {
		o.Version = "dev"
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "contextd-mcp", Version: o.Version}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: &hc, MaxRetries: -1, DisableStandaloneSSE: true}, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to %s: %w", endpoint, err)
	}
	srv, err := mirror(ctx, cs, o.Version)
	if err != nil {
		cs.Close()
		return nil, nil, fmt.Errorf("listing the features of %s: %w", endpoint, err)
	}
	return srv, cs, nil
}

// bearer adds the API key to each request.
type bearer struct {
	key  string
	next http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	next := b.next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(r)
}

// mirror builds a server that offers what cs's server offers, forwarding.
func mirror(ctx context.Context, cs *mcp.ClientSession, version string) (*mcp.Server, error) {
	init := cs.InitializeResult()
	opts := &mcp.ServerOptions{}
	if init != nil {
		opts.Instructions = init.Instructions
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "contextd", Title: "contextd (remote)", Version: version}, opts)
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			return nil, err
		}
		name := tool.Name
		srv.AddTool(tool, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: req.Params.Arguments})
		})
	}
	forwardRead := func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return cs.ReadResource(ctx, req.Params)
	}
	for r, err := range cs.Resources(ctx, nil) {
		if err != nil {
			return nil, err
		}
		srv.AddResource(r, forwardRead)
	}
	for t, err := range cs.ResourceTemplates(ctx, nil) {
		if err != nil {
			return nil, err
		}
		srv.AddResourceTemplate(t, forwardRead)
	}
	for p, err := range cs.Prompts(ctx, nil) {
		if err != nil {
			return nil, err
		}
		srv.AddPrompt(p, func(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return cs.GetPrompt(ctx, req.Params)
		})
	}
	return srv, nil
}
