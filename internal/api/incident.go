package api

import (
	"context"
	"net/http"

	"trel/internal/core"
)

// incidentRoutes are what administrators need when an account is
// compromised, and the notices users find about such actions.
func (a *API) incidentRoutes() []route {
	return []route{
		{"POST", "/api/v1/users/{username}/suspend", "Suspend a user: their tokens, sessions, enrollment links and server-side signing are refused at once", "admin", "", "", 204, a.byUsername(a.svc.SuspendUser)},
		{"POST", "/api/v1/users/{username}/reactivate", "Lift a user's suspension", "admin", "", "", 204, a.byUsername(a.svc.ReactivateUser)},
		{"GET", "/api/v1/users/{username}/tokens", "A user's API tokens", "admin", "", "TokenList", 200, a.userTokens},
		{"DELETE", "/api/v1/admin/tokens/{id}", "Revoke any user's API token", "admin", "", "", 204, a.byID(a.svc.RevokeAnyToken)},
		{"GET", "/api/v1/users/{username}/sessions", "A user's browser sessions (address, user agent, passkey, times)", "admin", "", "SessionList", 200, a.userSessions},
		{"DELETE", "/api/v1/admin/sessions/{id}", "End any user's browser session", "admin", "", "", 204, a.byID(a.svc.EndSession)},
		{"GET", "/api/v1/users/{username}/passkeys", "A user's passkeys", "admin", "", "PasskeyList", 200, a.userPasskeys},
		{"DELETE", "/api/v1/admin/passkeys/{id}", "Remove any user's passkey and end the sessions opened with it", "admin", "", "RemovedPasskey", 200, a.removePasskey},
		{"GET", "/api/v1/notices", "Your notifications not yet read, newest first (?all=true: read ones too): account notices, votes, receipts, blockers, signatures", "token", "", "NoticeList", 200, a.notices},
		{"POST", "/api/v1/notices/{id}/dismiss", "Dismiss one of your notices", "token", "", "", 204, a.byID(a.svc.DismissNotice)},
	}
}

// byUsername adapts a core action on a user to a 204 handler.
func (a *API) byUsername(do func(context.Context, *core.Actor, string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := do(r.Context(), actor(r), r.PathValue("username")); err != nil {
			a.fail(w, r, err)
			return
		}
		w.WriteHeader(204)
	}
}

// byID adapts a core action on a numbered thing to a 204 handler.
func (a *API) byID(do func(context.Context, *core.Actor, int64) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathInt(r, "id")
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if err := do(r.Context(), actor(r), int64(id)); err != nil {
			a.fail(w, r, err)
			return
		}
		w.WriteHeader(204)
	}
}

// listOf adapts a core listing of one user's things to a JSON handler.
func listOf[T any](a *API, field string, list func(context.Context, *core.Actor, string) ([]T, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		items, err := list(r.Context(), actor(r), r.PathValue("username"))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, 200, map[string]any{field: nonNil(items)})
	}
}

func (a *API) userTokens(w http.ResponseWriter, r *http.Request) {
	listOf(a, "tokens", a.svc.UserTokens)(w, r)
}

func (a *API) userSessions(w http.ResponseWriter, r *http.Request) {
	listOf(a, "sessions", a.svc.UserSessions)(w, r)
}

func (a *API) userPasskeys(w http.ResponseWriter, r *http.Request) {
	listOf(a, "passkeys", a.svc.UserPasskeys)(w, r)
}

func (a *API) removePasskey(w http.ResponseWriter, r *http.Request) {
	id, err := pathInt(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	n, err := a.svc.RemoveAnyPasskey(r.Context(), actor(r), int64(id))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]int{"sessions_ended": n})
}

func (a *API) notices(w http.ResponseWriter, r *http.Request) {
	ns, err := a.svc.Notifications(r.Context(), actor(r), r.URL.Query().Get("all") == "true")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"notices": nonNil(ns)})
}
