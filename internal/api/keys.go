package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"trel/internal/core"
	"trel/internal/domain"
)

func (a *API) keyRoutes() []route {
	return []route{
		{"POST", "/api/v1/keys", "Add public keys (one key or a KEYS file); reports every block", "token", "AddKeys", "KeyReport", 200, a.addKeys},
		{"GET", "/api/v1/keys", "List keys: ?committee=C for a committee's, ?deleted=true for your deleted ones, otherwise your own", "public", "", "KeyList", 200, a.listKeys},
		{"GET", "/api/v1/keys/{fingerprint}", "One key", "public", "", "Key", 200, a.key},
		{"DELETE", "/api/v1/keys/{fingerprint}", "Delete a key (soft; historic keys stay in KEYS files)", "token", "", "", 204, a.deleteKey},
		{"POST", "/api/v1/keys/{fingerprint}/restore", "Restore a deleted key (administrators; an owner proves the key again instead)", "admin", "", "Key", 200, a.restoreKey},
		{"POST", "/api/v1/keys/{fingerprint}/challenge", "Start an ownership proof: returns the exact text to sign", "token", "", "Challenge", 200, a.keyChallenge},
		{"POST", "/api/v1/keys/{fingerprint}/proof", "Finish an ownership proof with a detached signature of the challenge (restores your deleted key)", "token", "KeyProof", "Key", 200, a.keyProof},
		{"POST", "/api/v1/committees/{committee}/keys", "Import a committee KEYS file", "token", "KeysText", "KeyReport", 200, a.importKEYS},
		{"GET", "/api/v1/committees/{committee}/KEYS", "The committee's KEYS file (also at /downloads/COMMITTEE/KEYS)", "public", "", "text", 200, a.keysFile},
		{"POST", rel + "/keys-import", "Import a KEYS file uploaded into the draft into the committee", "token", "ReleaseKeysImport", "KeyReport", 200, a.importReleaseKEYS},
		{"GET", rel + "/revisions/{number}/checks", "Check results of a revision", "token", "", "ChecksReport", 200, a.checks},
		{"POST", rel + "/revisions/{number}/checks", "Run a revision's checks again", "token", "", "CheckRun", 202, a.rerunChecks},
	}
}

// AddKeysRequest is the body of POST /api/v1/keys.
type AddKeysRequest struct {
	Keys string `json:"keys,omitempty"` // armored public key(s)
	// KeysData is the key file as bytes (base64 in JSON), for binary
	// keyrings (gpg --export); it takes precedence over Keys.
	KeysData   []byte   `json:"keys_data,omitempty"`
	Committees []string `json:"committees,omitempty"`
	Automation bool     `json:"automation,omitempty"`
}

// keyBytes returns the key file of a request: the bytes when given, else
// the text.
func keyBytes(text string, data []byte) []byte {
	if len(data) > 0 {
		return data
	}
	return []byte(text)
}

func (a *API) addKeys(w http.ResponseWriter, r *http.Request) {
	var req AddKeysRequest
	if err := decodeLimit(r, &req, maxKeysBody); err != nil {
		a.fail(w, r, err)
		return
	}
	rep, err := a.svc.AddKeys(r.Context(), actor(r), keyBytes(req.Keys, req.KeysData), core.AddKeysOptions{Committees: req.Committees, Automation: req.Automation})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, rep)
}

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) {
	var ks []domain.Key
	var err error
	if c := r.URL.Query().Get("committee"); c != "" {
		ks, err = a.svc.CommitteeKeys(r.Context(), actor(r), c)
	} else if r.URL.Query().Get("deleted") == "true" {
		ks, err = a.svc.MyDeletedKeys(r.Context(), actor(r))
	} else {
		ks, err = a.svc.MyKeys(r.Context(), actor(r))
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	for i := range ks {
		ks[i].Armored = ""
	}
	writeJSON(w, 200, map[string]any{"keys": nonNil(ks)})
}

func (a *API) key(w http.ResponseWriter, r *http.Request) {
	k, err := a.svc.Key(r.Context(), actor(r), r.PathValue("fingerprint"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, k)
}

func (a *API) restoreKey(w http.ResponseWriter, r *http.Request) {
	k, err := a.svc.RestoreKey(r.Context(), actor(r), r.PathValue("fingerprint"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, k)
}

func (a *API) deleteKey(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.DeleteKey(r.Context(), actor(r), r.PathValue("fingerprint")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(204)
}

// ChallengeResponse holds the exact text to sign.
type ChallengeResponse struct {
	Challenge string `json:"challenge"`
}

func (a *API) keyChallenge(w http.ResponseWriter, r *http.Request) {
	text, err := a.svc.KeyChallenge(r.Context(), actor(r), r.PathValue("fingerprint"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, ChallengeResponse{Challenge: text})
}

// KeyProofRequest is the body of POST .../proof.
type KeyProofRequest struct {
	Signature string `json:"signature"` // armored detached signature (or base64 of a binary one)
}

func (a *API) keyProof(w http.ResponseWriter, r *http.Request) {
	var req KeyProofRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	k, err := a.svc.ProveKey(r.Context(), actor(r), r.PathValue("fingerprint"), []byte(req.Signature))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, k)
}

// KeysTextRequest carries a KEYS file.
type KeysTextRequest struct {
	Keys     string `json:"keys,omitempty"`
	KeysData []byte `json:"keys_data,omitempty"` // the file as bytes (base64 in JSON); takes precedence
}

func (a *API) importKEYS(w http.ResponseWriter, r *http.Request) {
	var req KeysTextRequest
	if err := decodeLimit(r, &req, maxKeysBody); err != nil {
		a.fail(w, r, err)
		return
	}
	rep, err := a.svc.ImportKEYS(r.Context(), actor(r), r.PathValue("committee"), keyBytes(req.Keys, req.KeysData))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, rep)
}

func (a *API) keysFile(w http.ResponseWriter, r *http.Request) {
	data, err := a.svc.KEYSFile(r.Context(), r.PathValue("committee"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	WriteKEYS(w, r, data)
}

// WriteKEYS serves a KEYS file as text, with a strong ETag of its content
// so that Range, If-Range and If-None-Match work as for any other file.
func WriteKEYS(w http.ResponseWriter, r *http.Request, data []byte) {
	sum := sha256.Sum256(data)
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	http.ServeContent(w, r, "KEYS", time.Time{}, bytes.NewReader(data))
}

// ReleaseKeysImportRequest names a KEYS file inside a draft.
type ReleaseKeysImportRequest struct {
	Path     string `json:"path"`
	Revision int    `json:"revision,omitempty"`
}

func (a *API) importReleaseKEYS(w http.ResponseWriter, r *http.Request) {
	var req ReleaseKeysImportRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	rep, err := a.svc.ImportKEYSFromRelease(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), req.Revision, strings.TrimPrefix(req.Path, "/"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, rep)
}

func (a *API) checks(w http.ResponseWriter, r *http.Request) {
	n, err := revisionNumber(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	rep, err := a.svc.Checks(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), n)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, rep)
}

func (a *API) rerunChecks(w http.ResponseWriter, r *http.Request) {
	n, err := revisionNumber(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	run, err := a.svc.RerunChecks(r.Context(), actor(r), r.PathValue("project"), r.PathValue("version"), n)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 202, run)
}
