package httpapi

import (
	"context"

	"github.com/contextd/contextd"
)

// historyInput selects a page of one object's history, oldest first.
type historyInput struct {
	ID     string `path:"id" doc:"The resource id"`
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"Page size"`
	Cursor string `query:"cursor" maxLength:"32" doc:"The nextCursor of the previous page"`
}

func (s *server) history(kind string) func(context.Context, *historyInput) (*listOutput[*contextd.HistoryItem], error) {
	return func(ctx context.Context, in *historyInput) (*listOutput[*contextd.HistoryItem], error) {
		items, next, err := s.svc.History(ctx, principalOf(ctx), kind, in.ID, contextd.ChangeFilter{Limit: in.Limit, Cursor: in.Cursor})
		if err != nil {
			return nil, problemFor(ctx, err)
		}
		return &listOutput[*contextd.HistoryItem]{Body: newList(items, next)}, nil
	}
}
