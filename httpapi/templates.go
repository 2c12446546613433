package httpapi

import (
	"context"

	"github.com/contextd/contextd"
)

func (s *server) listTemplates(ctx context.Context, _ *struct{}) (*listOutput[*contextd.Template], error) {
	ts, err := s.svc.ListTemplates(principalOf(ctx))
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	return &listOutput[*contextd.Template]{Body: newList(ts, "")}, nil
}
