package domain

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an Error. The API maps each kind to one HTTP status; the
// CLI maps it to an exit code. Keep the list short.
type Kind string

// The error kinds trel knows.
const (
	KindInvalid         Kind = "invalid"         // the request is malformed or breaks a rule
	KindUnauthenticated Kind = "unauthenticated" // no or bad credentials
	KindForbidden       Kind = "forbidden"       // authenticated, but the role is missing
	KindNotFound        Kind = "not_found"       // the thing does not exist (or is not visible)
	KindConflict        Kind = "conflict"        // state changed or already exists
	KindTooLarge        Kind = "too_large"       // over a configured size limit
	KindUnavailable     Kind = "unavailable"     // a feature is not configured
	KindInternal        Kind = "internal"        // a bug or an infrastructure failure
	KindRateLimited     Kind = "rate_limited"    // too many attempts
	KindLocked          Kind = "locked"          // temporarily locked after failures
)

// Error is trel's one typed error. Message is safe to show to the user and
// says what was wrong and what to do; Err is the internal cause, which is
// logged but never shown.
type Error struct {
	Kind    Kind
	Message string
	Err     error
	// RetryAfter, for KindRateLimited, says when trying again makes sense
	// (the API sends it as Retry-After).
	RetryAfter time.Duration
	// Field, when set, names the input the message is about (the JSON
	// field of the request, which is also the name of the web form's
	// input): the web shows the message next to that field.
	Field string
}

// On names the input field the error is about and returns e.
func (e *Error) On(field string) *Error {
	e.Field = field
	return e
}

// FieldOf returns the input field an error is about, or "".
func FieldOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an Error of the given kind with a formatted public message.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Internal wraps an unexpected failure. The public message stays generic so
// that no internal detail (paths, SQL, secrets) leaks to clients.
func Internal(what string, err error) *Error {
	return &Error{Kind: KindInternal, Message: "internal error while " + what, Err: err}
}

// KindOf returns the kind of err, or KindInternal when err is not an *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// IsKind reports whether err is an *Error of the given kind.
func IsKind(err error, k Kind) bool { return err != nil && KindOf(err) == k }

// PublicMessage returns the message that may be shown to a user.
func PublicMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// Busy is a KindRateLimited error with a hint of when to try again.
func Busy(retryAfter time.Duration, format string, args ...any) *Error {
	return &Error{Kind: KindRateLimited, Message: fmt.Sprintf(format, args...), RetryAfter: retryAfter}
}

// RetryAfterOf returns the retry hint of err (0 when it has none).
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
