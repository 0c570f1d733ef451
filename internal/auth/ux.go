package auth

import "context"

// SessionID returns the id of the session a cookie secret opened, or 0:
// the account page marks "this browser" among the user's sessions.
func (a *Auth) SessionID(ctx context.Context, secret string) int64 {
	if !validSecret(secret) {
		return 0
	}
	s, err := a.st.SessionByHash(ctx, hashSecret(secret))
	if err != nil {
		return 0
	}
	return s.ID
}
