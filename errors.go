package contextd

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status at the edge.
const (
	EINVALID      = "invalid"             // 400/422: the request is malformed or breaks a rule
	ENOTFOUND     = "not_found"           // 404: missing, or belongs to another tenant or user
	ECONFLICT     = "conflict"            // 409: duplicate id, duplicate edge, CONTAINS cycle
	EPRECONDITION = "precondition_failed" // 412: If-Match / expected version mismatch
	ETOOLARGE     = "too_large"           // 413: a body or value over its limit
	EUNAUTHORIZED = "unauthorized"        // 401: missing or bad credentials
	EFORBIDDEN    = "forbidden"           // 403: role too weak, or uid outside the credential
	ERATELIMITED  = "rate_limited"        // 429
	EUNAVAILABLE  = "unavailable"         // 503: the store or a dependency is not ready
	EINTERNAL     = "internal"            // 500: a bug or an I/O failure; never caused by input
)

// Error is the domain error: a code, a message safe to show to a client and,
// for invalid input, the fields at fault.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
}

// FieldError names one invalid part of a request. Location is a dotted path
// into the request body ("body.title", "body.items[3].tags[0]") or a
// parameter ("query.limit").
type FieldError struct {
	Location string `json:"location"`
	Message  string `json:"message"`
}

// Error implements the error interface.
func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return fmt.Sprintf("contextd: %s: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("contextd: %s: %s (%s: %s)", e.Code, e.Message, e.Fields[0].Location, e.Fields[0].Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error for one field.
func Invalid(location, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Code: EINVALID, Message: location + ": " + msg, Fields: []FieldError{{Location: location, Message: msg}}}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err: the *Error's message,
// or a generic text for internal errors.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorFields returns the field errors of the first *Error in err's chain.
func ErrorFields(err error) []FieldError {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// validation collects field errors.
type validation struct{ fields []FieldError }

func (v *validation) add(location, format string, args ...any) {
	v.fields = append(v.fields, FieldError{Location: location, Message: fmt.Sprintf(format, args...)})
}

func (v *validation) err() error {
	if len(v.fields) == 0 {
		return nil
	}
	msg := "validation failed"
	if len(v.fields) == 1 {
		msg = v.fields[0].Location + ": " + v.fields[0].Message
	}
	return &Error{Code: EINVALID, Message: msg, Fields: v.fields}
}
