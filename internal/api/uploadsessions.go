package api

import (
	"net/http"
	"strconv"
	"time"

	"trel/internal/core"
	"trel/internal/domain"
)

// Resumable uploads (upload sessions): declare a file, send it in chunks
// at the offset the server has (a chunk at another offset gets 409 with
// the server's offset in the Upload-Offset header), complete it into a
// revision, or abort it.
func (a *API) uploadSessionRoutes() []route {
	const sess = rel + "/upload-sessions"
	return []route{
		{"POST", sess, "Start a resumable upload of one large file (path, size, optional sha512 and expect_revision); it lives 24 hours", "token", "NewUploadSession", "UploadSession", 201, a.startUploadSession},
		{"GET", sess, "Your resumable uploads of this release that have not expired", "token", "", "UploadSessionList", 200, a.releaseUploadSessions},
		{"GET", sess + "/{id}", "A resumable upload: bytes received (the offset of the next chunk), state, expiry", "token", "", "UploadSession", 200, a.uploadSession},
		{"PUT", sess + "/{id}", "Send the chunk that starts at ?offset=N (raw body with its Content-Length; chunk_size bytes except the last)", "token", "binary", "UploadSession", 200, a.putChunk},
		{"POST", sess + "/{id}/complete", "Complete a resumable upload: the file lands as one new revision (content_only: stored for a revision you make)", "token", "CompleteUploadSession", "UploadSessionResult", 201, a.completeUploadSession},
		{"DELETE", sess + "/{id}", "Abort a resumable upload and delete what it received", "token", "", "", 204, a.abortUploadSession},
		{"GET", "/api/v1/me/upload-sessions", "Your resumable uploads that have not expired, in every release", "token", "", "UploadSessionList", 200, a.myUploadSessions},
	}
}

func init() {
	schemas["NewUploadSession"] = obj([]string{"path", "size"}, map[string]any{"path": str, "size": integer,
		"sha512":          map[string]any{"type": "string", "description": "The file's SHA-512 (hex), checked at completion"},
		"expect_revision": map[string]any{"type": "integer", "description": "Completion fails unless the release is still at this revision"}})
	schemas["UploadSession"] = obj([]string{"id", "project", "version", "path", "size", "chunk_size", "received", "state", "expires_at"}, map[string]any{
		"id": str, "uploader": str, "project": str, "version": str, "path": str, "size": integer, "chunk_size": integer,
		"expect_sha512": str, "expect_revision": integer,
		"received": map[string]any{"type": "integer", "description": "Bytes stored so far: the offset of the next chunk"},
		"state":    map[string]any{"type": "string", "enum": []any{domain.SessionOpen, domain.SessionCompleting, domain.SessionCompleted}},
		"sha256":   str, "revision": integer, "created_at": datetime, "updated_at": datetime, "expires_at": datetime})
	schemas["UploadSessionList"] = list("sessions", "UploadSession")
	schemas["CompleteUploadSession"] = obj(nil, map[string]any{
		"sha512":       map[string]any{"type": "string", "description": "The SHA-512 of what the client sent, checked end to end"},
		"sha256":       map[string]any{"type": "string", "description": "The SHA-256 of what the client sent, checked end to end"},
		"description":  str,
		"content_only": map[string]any{"type": "boolean", "description": "Store the content without making a revision (put it in one with POST .../revisions)"}})
	schemas["UploadSessionResult"] = obj([]string{"session", "blob"}, map[string]any{"session": ref("UploadSession"), "blob": ref("Blob"), "revision": ref("RevisionResult")})
}

func (a *API) startUploadSession(w http.ResponseWriter, r *http.Request) {
	var req core.NewUploadSession
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	s, err := a.svc.StartUploadSession(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, s)
}

func (a *API) releaseUploadSessions(w http.ResponseWriter, r *http.Request) {
	ss, err := a.svc.UploadSessions(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"sessions": nonNil(ss)})
}

func (a *API) myUploadSessions(w http.ResponseWriter, r *http.Request) {
	if act := actor(r); act.User == nil {
		a.fail(w, r, signInFirst(act))
		return
	}
	ss, err := a.svc.UploadSessions(r.Context(), actor(r), "", "")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"sessions": nonNil(ss)})
}

func (a *API) uploadSession(w http.ResponseWriter, r *http.Request) {
	s, err := a.svc.UploadSession(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Upload-Offset", strconv.FormatInt(s.Received, 10))
	writeJSON(w, 200, s)
}

// putChunk streams one chunk into the session, like upload: the caller is
// authorised (and takes an upload lease) before the body is read.
func (a *API) putChunk(w http.ResponseWriter, r *http.Request) {
	offset, err := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
	if err != nil || offset < 0 {
		DropBody(w)
		a.fail(w, r, domain.Errorf(domain.KindInvalid, "give the chunk's offset: ?offset=N (the session's received bytes)"))
		return
	}
	up, err := a.svc.PrepareUpload(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"))
	if err != nil {
		DropBody(w)
		a.fail(w, r, err)
		return
	}
	defer up.Done()
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(time.Hour))
	rc.SetWriteDeadline(time.Now().Add(time.Hour))
	s, err := up.PutChunk(r.Context(), r.PathValue("id"), offset, r.Body, r.ContentLength)
	if err != nil {
		if n, ok := core.ReceivedOf(err); ok {
			w.Header().Set("Upload-Offset", strconv.FormatInt(n, 10))
			DropBody(w)
		}
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Upload-Offset", strconv.FormatInt(s.Received, 10))
	writeJSON(w, 200, s)
}

func (a *API) completeUploadSession(w http.ResponseWriter, r *http.Request) {
	var req core.CompleteUploadSession
	if r.ContentLength != 0 {
		if err := decode(r, &req); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	res, err := a.svc.CompleteUploadSession(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), r.PathValue("id"), req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, res)
}

func (a *API) abortUploadSession(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.AbortUploadSession(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(204)
}
