package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/contextd/contextd"
)

// reindexBatch is how many rows are embedded and written at a time.
const reindexBatch = 256

// runReindex is `contextd reindex`: the embedded store's tenant text
// statistics are counted again and its top-k full-text index is rebuilt, and every context and memory whose vector is missing or
// was made by another model than the configured embedder's gets a new one. It can be stopped and run again: it resumes where rows still
// lack a current vector. Progress goes to stderr.
func runReindex(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fset := newFlagSet("reindex", stderr)
	cfg, err := loadConfig(fset, args, getenv)
	if err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return usageError{fmt.Sprintf("reindex takes no arguments (got %q)", fset.Arg(0))}
	}
	store, err := openStore(ctx, cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	defer store.Close()
	svc, err := newService(store, cfg, nil)
	if err != nil {
		return err
	}
	// The embedded store's top-k full-text index is rebuilt from its rows
	// first (sqlite/topk.go); it needs no model.
	rebuilt := false
	if ix, ok := contextd.StoreAs[interface {
		RebuildSearchIndex(context.Context) (int, error)
	}](store); ok {
		n, err := ix.RebuildSearchIndex(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rebuilt the full-text search index of %d tenants\n", n)
		rebuilt = true
	}
	if svc.Embedder == nil {
		msg := "EMBEDDINGS_PROVIDER is off: there is no model to reindex with"
		if rebuilt {
			msg += " (the full-text search index was rebuilt)"
		}
		return usageError{msg}
	}
	n, err := reindex(ctx, svc.Embedder, store, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "reindexed %d contexts and %d memories with %s\n", n[0], n[1], svc.Embedder.Model())
	return nil
}

// reindex embeds the backlog of both kinds and returns how many rows of each it wrote.
func reindex(ctx context.Context, e contextd.Embedder, store contextd.Store, progress io.Writer) ([2]int, error) {
	var done [2]int
	vs, ok := contextd.StoreAs[contextd.VectorStore](store)
	if !ok {
		return done, contextd.Errorf(contextd.EINVALID, "the %s store keeps no vectors", store.Kind())
	}
	start := time.Now()
	for i, kind := range []string{contextd.VectorContext, contextd.VectorMemory} {
		for {
			batch, err := vs.VectorBacklog(ctx, kind, e.Model(), reindexBatch)
			if err != nil {
				return done, err
			}
			if len(batch) == 0 {
				break
			}
			texts := make([]string, len(batch))
			for j, t := range batch {
				texts[j] = t.Text
			}
			vecs, err := e.Embed(ctx, texts)
			if err != nil {
				return done, err
			}
			for j := range batch {
				batch[j].Vector = vecs[j]
			}
			if err := vs.PutVectors(ctx, kind, e.Model(), batch); err != nil {
				return done, err
			}
			done[i] += len(batch)
			fmt.Fprintf(progress, "reindex: %d %ss (%.0f/s)\n", done[i], kind, float64(done[0]+done[1])/time.Since(start).Seconds())
		}
	}
	return done, nil
}
