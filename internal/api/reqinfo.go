package api

import (
	"context"
	"sync"
)

// RequestInfo is what the server's request log learns from the handlers:
// the request id it assigned and the user the handlers authenticated.
type RequestInfo struct {
	ID   string
	mu   sync.Mutex
	user string
}

type reqInfoKey struct{}

// WithRequestInfo returns ctx carrying a new RequestInfo for request id.
func WithRequestInfo(ctx context.Context, id string) (context.Context, *RequestInfo) {
	ri := &RequestInfo{ID: id}
	return context.WithValue(ctx, reqInfoKey{}, ri), ri
}

// RequestInfoFrom returns the request's info, or nil outside a request.
func RequestInfoFrom(ctx context.Context) *RequestInfo {
	ri, _ := ctx.Value(reqInfoKey{}).(*RequestInfo)
	return ri
}

// SetUser records the authenticated user of the request (no-op outside
// one).
func SetUser(ctx context.Context, username string) {
	if ri := RequestInfoFrom(ctx); ri != nil {
		ri.mu.Lock()
		ri.user = username
		ri.mu.Unlock()
	}
}

// User is the authenticated user recorded for the request ("" if none).
func (ri *RequestInfo) User() string {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	return ri.user
}
