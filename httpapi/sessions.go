package httpapi

import (
	"context"
	"net/url"

	"github.com/contextd/contextd"
)

// sessionCreateRequest is the body of POST /v1/sessions.
type sessionCreateRequest struct {
	ID       string         `json:"id,omitempty" pattern:"^[A-Za-z0-9][A-Za-z0-9_.~-]{0,127}$" doc:"Your own id; made by the server when absent (409 if taken)"`
	UserID   string         `json:"userId,omitempty" pattern:"^[A-Za-z0-9][A-Za-z0-9_.@:~-]{0,127}$" doc:"Default: the credential's uid, else its name or subject"`
	Title    string         `json:"title,omitempty" maxLength:"500"`
	Metadata map[string]any `json:"metadata,omitempty" doc:"Any JSON object up to 64 KiB"`
}

type sessionCreateInput struct {
	Body sessionCreateRequest
}

type sessionOutput struct {
	Body *contextd.Session
}

type sessionCreatedOutput struct {
	Location string `header:"Location" doc:"The new session's URL"`
	Body     *contextd.Session
}

type sessionListInput struct {
	UserID string `query:"userId" maxLength:"128" doc:"Only this user's sessions"`
	ListParams
}

type sessionMemoriesInput struct {
	ID string `path:"id" doc:"The session id"`
	MemoryFilters
}

type sessionContextsInput struct {
	ID string `path:"id" doc:"The session id"`
	ContextFilters
}

func (s *server) createSession(ctx context.Context, in *sessionCreateInput) (*sessionCreatedOutput, error) {
	b := &in.Body
	sess, err := s.svc.CreateSession(ctx, principalOf(ctx), contextd.SessionCreate{ID: b.ID, UserID: b.UserID, Title: b.Title, Metadata: b.Metadata})
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	return &sessionCreatedOutput{Location: "/v1/sessions/" + url.PathEscape(sess.ID), Body: sess}, nil
}

func (s *server) listSessions(ctx context.Context, in *sessionListInput) (*listOutput[*contextd.Session], error) {
	items, next, err := s.svc.FindSessions(ctx, principalOf(ctx), contextd.SessionFilter{
		UserID: in.UserID, Limit: in.Limit, Cursor: in.Cursor, Ascending: in.ascending(),
	})
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	return &listOutput[*contextd.Session]{Body: newList(items, next)}, nil
}

func (s *server) getSession(ctx context.Context, in *idInput) (*sessionOutput, error) {
	sess, err := s.svc.GetSession(ctx, principalOf(ctx), in.ID)
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	return &sessionOutput{Body: sess}, nil
}

func (s *server) deleteSession(ctx context.Context, in *idInput) (*noContent, error) {
	if err := s.svc.DeleteSession(ctx, principalOf(ctx), in.ID); err != nil {
		return nil, problemFor(ctx, err)
	}
	return &noContent{}, nil
}

func (s *server) listSessionMemories(ctx context.Context, in *sessionMemoriesInput) (*listOutput[*contextd.Memory], error) {
	items, next, err := s.svc.SessionMemories(ctx, principalOf(ctx), in.ID, in.filter())
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	return &listOutput[*contextd.Memory]{Body: newList(items, next)}, nil
}

func (s *server) listSessionContexts(ctx context.Context, in *sessionContextsInput) (*listOutput[*contextd.Context], error) {
	items, next, err := s.svc.SessionContexts(ctx, principalOf(ctx), in.ID, in.filter())
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	return &listOutput[*contextd.Context]{Body: newList(items, next)}, nil
}
