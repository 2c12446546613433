// Package contextd is the domain of the Persistent Context Store: contexts,
// relationships, memories, sessions, API keys and principals, the Store
// interface every backend implements, the full-text query language, and the
// Service that both front doors (HTTP and MCP) call.
//
// The package imports nothing of ours; adapters (sqlite, httpapi, ...) import
// it, and only cmd/contextd knows them all.
package contextd
