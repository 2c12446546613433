package contextd

import (
	"context"
	"io"
)

// ImportStreamVectors is ImportStream that also gives the imported contexts
// and memories vectors of e (nil: none), batch by batch, as Service.Import
// does: for `contextd import`, which has no Service request to go through.
func ImportStreamVectors(ctx context.Context, st Store, e Embedder, r io.Reader, tenant, principal string) (*ImportResult, error) {
	if _, ok := StoreAs[VectorStore](st); !ok {
		e = nil
	}
	return importStream(ctx, st, e, r, tenant, principal)
}

// embedImported gives the contexts and memories of recs, just stored in
// tenant by an import, vectors of e, so that semantic and hybrid search find
// imported rows without `contextd reindex`. Nothing happens without an
// embedder or on a store without vectors. When the embedder fails, the rows
// stay stored without vectors and the error says to reindex.
func embedImported(ctx context.Context, st Store, e Embedder, tenant string, recs []*Record) error {
	if e == nil {
		return nil
	}
	vs, ok := StoreAs[VectorStore](st)
	if !ok {
		return nil
	}
	var contexts, memories []VectorText
	for _, rec := range recs {
		switch rec.Kind {
		case KindContext:
			contexts = append(contexts, VectorText{Tenant: tenant, ID: rec.Context.ID, Text: ContextText(rec.Context.Title, rec.Context.Content)})
		case KindMemory:
			memories = append(memories, VectorText{Tenant: tenant, ID: rec.Memory.ID, Text: rec.Memory.Content})
		}
	}
	for _, part := range []struct {
		kind  string
		items []VectorText
	}{{VectorContext, contexts}, {VectorMemory, memories}} {
		if len(part.items) == 0 {
			continue
		}
		texts := make([]string, len(part.items))
		for i, it := range part.items {
			texts[i] = it.Text
		}
		vecs, err := e.Embed(ctx, texts)
		if err != nil {
			return Errorf(ErrorCode(err), "the imported %ss are stored, but their vectors could not be made (run contextd reindex): %v", part.kind, err)
		}
		for i := range part.items {
			part.items[i].Vector = vecs[i]
		}
		if err := vs.PutVectors(ctx, part.kind, e.Model(), part.items); err != nil {
			return err
		}
	}
	return nil
}
