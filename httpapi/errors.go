package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"

	"github.com/contextd/contextd"
	"github.com/danielgtaylor/huma/v2"
)

// Problem is the one error body of the API: an RFC 9457 problem document
// with the fields at fault. Every error response has this shape, whether it
// comes from huma (validation, body limits, content types), the middleware
// (401, 404, 405, 429, panics) or a domain error.
type Problem struct {
	Title  string                `json:"title" doc:"A short summary of the problem type: the HTTP status text"`
	Status int                   `json:"status" doc:"The HTTP status code"`
	Detail string                `json:"detail" doc:"What went wrong with this request"`
	Errors []contextd.FieldError `json:"errors" nullable:"false" doc:"The request parts at fault: location (body.title, query.limit, path.id, header.If-Match) and message"`

	headers http.Header // sent with the problem (WWW-Authenticate, Retry-After)
}

// Error implements error.
func (p *Problem) Error() string { return p.Detail }

// GetStatus implements huma.StatusError.
func (p *Problem) GetStatus() int { return p.Status }

// ContentType implements huma.ContentTypeFilter: problems are problem+json.
func (p *Problem) ContentType(string) string { return "application/problem+json" }

// GetHeaders implements huma.HeadersError.
func (p *Problem) GetHeaders() http.Header {
	if p.headers == nil {
		p.headers = http.Header{}
	}
	return p.headers
}

func newProblem(status int, detail string, fields ...contextd.FieldError) *Problem {
	if fields == nil {
		fields = []contextd.FieldError{}
	}
	return &Problem{Title: http.StatusText(status), Status: status, Detail: detail, Errors: fields}
}

// statusOf maps a domain error code to its HTTP status.
func statusOf(code string) int {
	switch code {
	case contextd.EINVALID:
		return http.StatusUnprocessableEntity
	case contextd.ENOTFOUND:
		return http.StatusNotFound
	case contextd.ECONFLICT:
		return http.StatusConflict
	case contextd.EPRECONDITION:
		return http.StatusPreconditionFailed
	case contextd.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case contextd.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case contextd.EFORBIDDEN:
		return http.StatusForbidden
	case contextd.ERATELIMITED:
		return http.StatusTooManyRequests
	case contextd.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// problemFor turns an error from the Service into a problem. Internal errors
// are logged here, once, with the request id; the client only sees
// "internal error".
func problemFor(ctx context.Context, err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return newProblem(http.StatusServiceUnavailable, "the request took too long and was cancelled")
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		// The client went away; nobody will read this.
		return newProblem(http.StatusServiceUnavailable, "the request was cancelled")
	}
	code := contextd.ErrorCode(err)
	status := statusOf(code)
	if status == http.StatusInternalServerError {
		loggerFrom(ctx).LogAttrs(ctx, slog.LevelError, "internal error", slog.String("error", err.Error()))
		return newProblem(status, "internal error")
	}
	p = newProblem(status, contextd.ErrorMessage(err), contextd.ErrorFields(err)...)
	switch status {
	case http.StatusPreconditionFailed:
		if len(p.Errors) == 0 {
			p.Errors = []contextd.FieldError{{Location: "header.If-Match", Message: "does not match the current ETag"}}
		}
	case http.StatusUnauthorized:
		p.GetHeaders().Set("WWW-Authenticate", wwwAuthenticate)
	case http.StatusTooManyRequests:
		p.GetHeaders().Set("Retry-After", "1")
	}
	return p
}

const wwwAuthenticate = `Bearer realm="contextd"`

// writeProblem writes p outside of huma (middleware and plain handlers).
func writeProblem(w http.ResponseWriter, p *Problem) {
	h := w.Header()
	for k, v := range p.headers {
		h[k] = v
	}
	h.Set("Content-Type", "application/problem+json")
	h.Del("Content-Length")
	h.Del("ETag")
	w.WriteHeader(p.Status)
	b, err := json.Marshal(p)
	if err != nil { // cannot happen: only strings and ints
		b = []byte(`{"title":"Internal Server Error","status":500,"detail":"internal error","errors":[]}`)
	}
	_, _ = w.Write(append(b, '\n'))
}

var requiredRe = regexp.MustCompile(`^expected required property (\S+) to be present$`)

// humaError builds the Problem for an error huma detects itself. It keeps
// locations and messages, drops the echoed values (they may be large and
// are the client's own data), and turns two 500s that a client can cause
// into what they are: a body over the limit (413) and a body that could not
// be read (400).
func humaError(status int, msg string, errs ...error) huma.StatusError {
	fields := []contextd.FieldError{}
	for _, err := range errs {
		if err == nil {
			continue
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return newProblem(http.StatusRequestEntityTooLarge, "request body is too large: the limit is "+strconv.FormatInt(mbe.Limit, 10)+" bytes")
		}
		var d huma.ErrorDetailer
		if errors.As(err, &d) {
			dd := d.ErrorDetail()
			loc, m := dd.Location, dd.Message
			if sm := requiredRe.FindStringSubmatch(m); sm != nil {
				loc, m = joinLocation(loc, sm[1]), "is required"
			}
			fields = append(fields, contextd.FieldError{Location: loc, Message: m})
			continue
		}
		if status < 500 {
			fields = append(fields, contextd.FieldError{Message: err.Error()})
		}
	}
	switch {
	case status == http.StatusInternalServerError && msg == "cannot read request body":
		return newProblem(http.StatusBadRequest, "the request body could not be read")
	case status >= 500:
		return newProblem(status, "internal error")
	case status == http.StatusUnsupportedMediaType:
		msg = "the request body must be JSON (Content-Type: application/json)"
		fields = nil
	case status == http.StatusRequestEntityTooLarge:
		fields = nil
	}
	if len(fields) == 1 && (msg == "validation failed" || msg == "") {
		msg = fields[0].Location + ": " + fields[0].Message
	}
	return newProblem(status, msg, fields...)
}

func joinLocation(loc, name string) string {
	if loc == "" {
		return name
	}
	return loc + "." + name
}

func init() {
	// huma's own errors (validation, 413, 415, unreadable bodies) take the
	// shape of ours. These are process-wide settings of huma; contextd is
	// the only huma user in its binary.
	huma.NewError = humaError
	huma.NewErrorWithContext = func(hctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
		if status >= 500 && !(status == http.StatusInternalServerError && msg == "cannot read request body") {
			ctx := hctx.Context()
			attrs := []slog.Attr{slog.Int("status", status), slog.String("message", msg)}
			for _, e := range errs {
				if e != nil {
					attrs = append(attrs, slog.String("error", e.Error()))
				}
			}
			loggerFrom(ctx).LogAttrs(ctx, slog.LevelError, "internal error", attrs...)
		}
		return humaError(status, msg, errs...)
	}
	// Field names are case-sensitive: {"Title": ...} is an unknown field.
	huma.ValidateStrictCasing = true
}
