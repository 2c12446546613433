package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/contextd/contextd"
	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// export streams the tenant as a contextd-export. The snapshot is taken
// before the first byte, so a failure is still a problem document.
func (s *server) export(ctx context.Context, _ *struct{}) (*huma.StreamResponse, error) {
	p := principalOf(ctx)
	if err := contextd.RequireBackupAdmin(p); err != nil {
		return nil, problemFor(ctx, err)
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		_, w := humago.Unwrap(hctx)
		lw := &lazyWriter{w: w}
		if _, err := s.svc.Export(ctx, p, s.tempDir, lw); err != nil {
			if !lw.started {
				writeProblem(w, problemFor(ctx, err))
				return
			}
			// Too late for a status: the client sees a cut stream (no
			// complete last line) and the error is logged.
			loggerFrom(ctx).Error("export cut short", "err", err)
		}
	}}, nil
}

// lazyWriter sends the 200 and the content type with the first byte.
type lazyWriter struct {
	w       http.ResponseWriter
	started bool
}

func (l *lazyWriter) Write(b []byte) (int, error) {
	if !l.started {
		l.started = true
		l.w.Header().Set("Content-Type", "application/x-ndjson")
		l.w.Header().Set("Content-Disposition", `attachment; filename="contextd-export.ndjson"`)
		l.w.WriteHeader(http.StatusOK)
	}
	return l.w.Write(b)
}

type importInput struct {
	RawBody []byte `contentType:"application/x-ndjson"`
}

type importOutput struct {
	Body *contextd.ImportResult
}

func (s *server) importData(ctx context.Context, in *importInput) (*importOutput, error) {
	// A first line that is not JSON at all is a malformed body (400); a JSON
	// line that is not what the format wants is the Service's 422.
	first := bytes.TrimSpace(in.RawBody)
	if i := bytes.IndexByte(first, '\n'); i >= 0 {
		first = bytes.TrimSpace(first[:i])
	}
	if len(first) > 0 && !json.Valid(first) {
		return nil, newProblem(http.StatusBadRequest, "line 1 is not JSON: the body must be JSON Lines (application/x-ndjson)")
	}
	res, err := s.svc.Import(ctx, principalOf(ctx), bytesReader(in.RawBody))
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	return &importOutput{Body: res}, nil
}

type backupOutput struct {
	Body *contextd.BackupManifest
}

func (s *server) createBackup(ctx context.Context, _ *struct{}) (*backupOutput, error) {
	if err := s.requireBackups(ctx); err != nil {
		return nil, err
	}
	// A large store takes longer than REQUEST_TIMEOUT: the backup goes on
	// to the end even when the client is answered 503 (it shows in the list).
	m, err := s.backups.Create(context.WithoutCancel(ctx))
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	return &backupOutput{Body: m}, nil
}

func (s *server) listBackups(ctx context.Context, _ *struct{}) (*listOutput[*contextd.BackupManifest], error) {
	if err := s.requireBackups(ctx); err != nil {
		return nil, err
	}
	ms, err := s.backups.List(ctx)
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	return &listOutput[*contextd.BackupManifest]{Body: newList(ms, "")}, nil
}

type restoreInput struct {
	Body struct {
		ContextID string    `json:"contextId,omitempty" maxLength:"128" doc:"The context to restore, with its relationships"`
		MemoryID  string    `json:"memoryId,omitempty" maxLength:"128" doc:"The memory to restore"`
		SessionID string    `json:"sessionId,omitempty" maxLength:"128" doc:"The session to restore, with its memories"`
		At        time.Time `json:"at" doc:"The moment to restore (RFC 3339)"`
	}
}

type restoreOutput struct {
	Body struct {
		Restored []contextd.ObjectRef `json:"restored"`
	}
}

func (s *server) restoreObject(ctx context.Context, in *restoreInput) (*restoreOutput, error) {
	refs, err := s.svc.RestoreObject(ctx, principalOf(ctx), contextd.RestoreRequest{
		ContextID: in.Body.ContextID, MemoryID: in.Body.MemoryID, SessionID: in.Body.SessionID, At: in.Body.At,
	})
	if err != nil {
		return nil, problemFor(ctx, err)
	}
	out := &restoreOutput{}
	out.Body.Restored = refs
	return out, nil
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// requireBackups lets through to the whole-store backups only an admin:backup
// credential of the operator's tenant (a backup holds, and its manifest
// counts, every tenant), and only when backups are configured.
func (s *server) requireBackups(ctx context.Context) error {
	p := principalOf(ctx)
	if err := contextd.RequireBackupAdmin(p); err != nil {
		return problemFor(ctx, err)
	}
	if p == nil || p.Tenant != s.operatorTenant {
		return problemFor(ctx, contextd.Errorf(contextd.EFORBIDDEN,
			"backups hold every tenant: only admins of the operator tenant (OPERATOR_TENANT) make and list them; use GET /v1/export for this tenant's data"))
	}
	if s.backups == nil {
		return problemFor(ctx, contextd.Errorf(contextd.EUNAVAILABLE, "backups are not configured (BACKUP_DIRECTORY)"))
	}
	return nil
}
