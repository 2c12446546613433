package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/contextd/contextd"
)

// apiKeyCreateRequest is the body of POST /v1/admin/api-keys. The key is
// made in the caller's tenant.
type apiKeyCreateRequest struct {
	Role      string    `json:"role" enum:"reader,writer,admin"`
	Name      string    `json:"name,omitempty" maxLength:"200" doc:"A label; default key-<id suffix>"`
	UID       string    `json:"uid,omitempty" pattern:"^[A-Za-z0-9][A-Za-z0-9_.@:~-]{0,127}$" doc:"Bind the key to one user: it sees and writes only that user's data"`
	ExpiresAt time.Time `json:"expiresAt,omitzero" doc:"RFC 3339; the key stops working then. Never when absent"`
	Scopes    []string  `json:"scopes,omitempty" nullable:"false" maxItems:"16" maxLength:"64" doc:"Narrow the role to these permissions (contexts:read, contexts:write, memories:read, memories:write, search, admin:keys, admin:backup, admin:audit, admin:ops); all of the role's when absent"`
}

type apiKeyCreateInput struct {
	Body apiKeyCreateRequest
}

// apiKeyCreated is the answer to a create: the record and the key, shown
// this once and never again.
type apiKeyCreated struct {
	contextd.APIKey
	Key string `json:"key" doc:"The API key; shown once, only its hash is kept"`
}

type apiKeyCreatedOutput struct {
	Location string `header:"Location" doc:"The new key's URL"`
	Body     *apiKeyCreated
}

type apiKeyOutput struct {
	Body *contextd.APIKey
}

func (s *server) listAPIKeys(ctx context.Context, _ *struct{}) (*listOutput[*contextd.APIKey], error) {
	keys, err := s.svc.FindAPIKeys(ctx, principalOf(ctx))
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	return &listOutput[*contextd.APIKey]{Body: newList(keys, "")}, nil
}

func (s *server) createAPIKey(ctx context.Context, in *apiKeyCreateInput) (*apiKeyCreatedOutput, error) {
	b := &in.Body
	c := contextd.KeyCreate{Role: contextd.Role(b.Role), Name: b.Name, UserID: b.UID}
	for _, x := range b.Scopes {
		c.Scopes = append(c.Scopes, contextd.Permission(x))
	}
	if !b.ExpiresAt.IsZero() {
		c.ExpiresIn = b.ExpiresAt.Sub(s.now())
		if c.ExpiresIn <= 0 {
			return nil, newProblem(http.StatusUnprocessableEntity, "body.expiresAt: must be in the future",
				contextd.FieldError{Location: "body.expiresAt", Message: "must be in the future"})
		}
	}
	k, key, err := s.svc.CreateAPIKey(ctx, principalOf(ctx), c)
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	return &apiKeyCreatedOutput{
		Location: "/v1/admin/api-keys/" + url.PathEscape(k.ID),
		Body:     &apiKeyCreated{APIKey: *k, Key: key},
	}, nil
}

func (s *server) getAPIKey(ctx context.Context, in *idInput) (*apiKeyOutput, error) {
	keys, err := s.svc.FindAPIKeys(ctx, principalOf(ctx))
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	for _, k := range keys {
		if k.ID == in.ID {
			return &apiKeyOutput{Body: k}, nil
		}
	}
	return nil, problemFor(ctx, contextd.Errorf(contextd.ENOTFOUND, "API key %q not found", in.ID))
}

func (s *server) revokeAPIKey(ctx context.Context, in *idInput) (*noContent, error) {
	if err := s.svc.RevokeAPIKey(ctx, principalOf(ctx), in.ID); err != nil {
		return nil, problemFor(ctx, err)
	}
	return &noContent{}, nil
}
