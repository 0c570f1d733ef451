package web

import (
	"io"
	"io/fs"
	"net/http"
	"strings"

	"trel/internal/core"
	"trel/internal/domain"
)

func fsSub(f fs.FS, dir string) (fs.FS, error) { return fs.Sub(f, dir) }

// maxKeyUpload bounds a key or KEYS file sent through a form (the core
// applies its own limit too).
const maxKeyUpload = 4 << 20

func (w *Web) optionalRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /keys", w.requireUser(w.keys))
	mux.HandleFunc("POST /keys", w.requireUser(w.addKeys))
	mux.HandleFunc("POST /keys/import", w.requireUser(w.importKEYS))
	mux.HandleFunc("POST /keys/{fpr}/challenge", w.requireUser(w.keyChallenge))
	mux.HandleFunc("POST /keys/{fpr}/prove", w.requireUser(w.proveKey))
	mux.HandleFunc("GET /keys/{fpr}/challenge.txt", w.requireUser(w.challengeFile))
	mux.HandleFunc("POST /keys/{fpr}/delete", w.requireUser(w.deleteKey))
	mux.HandleFunc("GET /committees/{committee}/KEYS", w.keysFile)
	mux.HandleFunc("POST /projects/{project}/releases/{version}/checks/rerun", w.requireUser(w.rerunChecks))
	w.signingRoutes(mux)
	w.releaseFileRoutes(mux)
	w.accountRoutes(mux)
	w.keyManagementRoutes(mux)
	w.lifecycleRoutes(mux)
	w.incidentRoutes(mux)
	w.publishingRoutes(mux)
	w.notifyRoutes(mux)
}

// ---- keys

type keysView struct {
	Keys       []domain.Key
	Deleted    []domain.Key // deleted keys the user owns: proving one again restores it
	ServerKeys []domain.ServerKey
	Committees []domain.Committee
	Report     *core.KeyReport
	Challenge  string // text to sign, when proving a key
	ProveFpr   string
	Personal   []domain.SigstoreIdentity // the user's own Sigstore identities
}

func (w *Web) keys(rw http.ResponseWriter, r *http.Request) {
	w.renderKeys(rw, r, keysView{})
}

func (w *Web) renderKeys(rw http.ResponseWriter, r *http.Request, d keysView) {
	act := actor(r)
	var err error
	if d.Keys, err = w.svc.MyKeys(r.Context(), act); err != nil {
		w.pageError(rw, r, err)
		return
	}
	if d.Deleted, err = w.svc.MyDeletedKeys(r.Context(), act); err != nil {
		w.pageError(rw, r, err)
		return
	}
	if d.Committees, err = w.svc.ListCommittees(r.Context(), act); err != nil {
		w.pageError(rw, r, err)
		return
	}
	if d.ServerKeys, err = w.svc.ServerKeys(r.Context(), act); err != nil {
		w.pageError(rw, r, err)
		return
	}
	if d.Personal, err = w.svc.SigstoreIdentities(r.Context(), act, ""); err != nil {
		w.pageError(rw, r, err)
		return
	}
	// A refused proof shows its challenge again, with the pasted signature.
	if f := failedFormOf(r); f != nil && f.ID == "prove" && d.Challenge == "" {
		d.ProveFpr = r.PathValue("fpr")
		d.Challenge, _ = w.svc.MyChallenge(r.Context(), act, d.ProveFpr)
	}
	w.render(rw, r, http.StatusOK, "keys", view{Title: "Keys", D: d})
}

// keyInput reads the key text of a form: an uploaded file, or else the
// pasted text.
func keyInput(rw http.ResponseWriter, r *http.Request) ([]byte, error) {
	r.Body = http.MaxBytesReader(rw, r.Body, maxKeyUpload+64<<10)
	if err := r.ParseMultipartForm(1 << 20); err != nil && err != http.ErrNotMultipart {
		return nil, domain.Errorf(domain.KindTooLarge, "the form is too large: a key file may be at most 4 MiB")
	}
	if f, _, err := r.FormFile("file"); err == nil {
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, maxKeyUpload+1))
		if err != nil {
			return nil, domain.Errorf(domain.KindInvalid, "the file could not be read")
		}
		if len(data) > 0 {
			return data, nil
		}
	}
	text := strings.TrimSpace(r.FormValue("armored"))
	if text == "" {
		return nil, domain.Errorf(domain.KindInvalid, "choose a file or paste an armored public key")
	}
	return []byte(text), nil
}

// addKeys answers with the page itself so that the per-key report shows.
func (w *Web) addKeys(rw http.ResponseWriter, r *http.Request) {
	data, err := keyInput(rw, r)
	if err != nil {
		w.refill(rw, r, "add-keys", "armored", err, w.keys)
		return
	}
	var opt core.AddKeysOptions
	if c := r.FormValue("committee"); c != "" {
		opt.Committees = []string{c}
	}
	rep, err := w.svc.AddKeys(r.Context(), actor(r), data, opt)
	if err != nil {
		w.refill(rw, r, "add-keys", "armored", err, w.keys)
		return
	}
	w.renderKeys(rw, r, keysView{Report: rep})
}

func (w *Web) importKEYS(rw http.ResponseWriter, r *http.Request) {
	data, err := keyInput(rw, r)
	if err != nil {
		w.refill(rw, r, "import-keys", "", err, w.keys)
		return
	}
	rep, err := w.svc.ImportKEYS(r.Context(), actor(r), r.FormValue("committee"), data)
	if err != nil {
		w.refill(rw, r, "import-keys", "", err, w.keys)
		return
	}
	w.renderKeys(rw, r, keysView{Report: rep})
}

// keyChallenge creates a single-use challenge and shows it with the form
// for the signature.
func (w *Web) keyChallenge(rw http.ResponseWriter, r *http.Request) {
	fpr := r.PathValue("fpr")
	text, err := w.svc.KeyChallenge(r.Context(), actor(r), fpr)
	if err != nil {
		w.fail(rw, r, "/keys", err)
		return
	}
	w.renderKeys(rw, r, keysView{Challenge: text, ProveFpr: fpr})
}

func (w *Web) proveKey(rw http.ResponseWriter, r *http.Request) {
	fpr := r.PathValue("fpr")
	r.Body = http.MaxBytesReader(rw, r.Body, 1<<20)
	if err := r.ParseMultipartForm(1 << 20); err != nil && err != http.ErrNotMultipart {
		w.refill(rw, r, "prove", "signature", domain.Errorf(domain.KindTooLarge, "the signature is too large: upload challenge.txt.asc"), w.keys)
		return
	}
	sig := strings.TrimSpace(r.FormValue("signature"))
	if f, _, err := r.FormFile("file"); err == nil {
		b, _ := io.ReadAll(io.LimitReader(f, 64<<10))
		f.Close()
		if len(b) > 0 {
			sig = string(b)
		}
	}
	if sig == "" {
		w.refill(rw, r, "prove", "signature", domain.Errorf(domain.KindInvalid, "upload challenge.txt.asc or paste the armored signature of the challenge"), w.keys)
		return
	}
	k, err := w.svc.ProveKey(r.Context(), actor(r), fpr, []byte(sig))
	if err != nil {
		w.refill(rw, r, "prove", "signature", err, w.keys)
		return
	}
	w.redirect(rw, r, "/keys", flash{Notice: "You proved that you hold key " + k.Fingerprint + "."})
}

// challengeFile serves the open challenge as challenge.txt, to sign as is.
func (w *Web) challengeFile(rw http.ResponseWriter, r *http.Request) {
	text, err := w.svc.MyChallenge(r.Context(), actor(r), r.PathValue("fpr"))
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	h := rw.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="challenge.txt"`)
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	io.WriteString(rw, text)
}

func (w *Web) deleteKey(rw http.ResponseWriter, r *http.Request) {
	fpr := r.PathValue("fpr")
	if err := confirmed(r, "delete key "+fpr); err != nil {
		w.fail(rw, r, "/keys", err)
		return
	}
	if err := w.svc.DeleteKey(r.Context(), actor(r), fpr); err != nil {
		w.fail(rw, r, "/keys", err)
		return
	}
	w.redirect(rw, r, "/keys", flash{Notice: "Key " + fpr + " was deleted."})
}

func (w *Web) committeeKeys(r *http.Request, committee string) []domain.Key {
	ks, err := w.svc.CommitteeKeys(r.Context(), actor(r), committee)
	if err != nil {
		w.log.WarnContext(r.Context(), "listing committee keys", "committee", committee, "err", err)
		return nil
	}
	return ks
}

// keysFile serves the committee's KEYS file as plain text.
func (w *Web) keysFile(rw http.ResponseWriter, r *http.Request) {
	data, err := w.svc.KEYSFile(r.Context(), r.PathValue("committee"))
	if err != nil {
		w.pageError(rw, r, err)
		return
	}
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.Write(data)
}

func (w *Web) rerunChecks(rw http.ResponseWriter, r *http.Request) {
	project, version := r.PathValue("project"), r.PathValue("version")
	back := "/projects/" + project + "/releases/" + version
	if _, err := w.svc.RerunChecks(r.Context(), actor(r), project, version, 0); err != nil {
		w.fail(rw, r, back, err)
		return
	}
	w.redirect(rw, r, back, flash{Notice: "The checks of the latest revision were queued again."})
}
