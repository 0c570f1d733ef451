package web

import "net/http"

// setIncubating marks a committee as incubating or not (administrators).
func (w *Web) setIncubating(rw http.ResponseWriter, r *http.Request) {
	key := r.PathValue("committee")
	back := "/committees/" + key
	on := r.FormValue("incubating") == "on"
	if err := w.svc.SetIncubating(r.Context(), actor(r), key, on); err != nil {
		w.fail(rw, r, back, err)
		return
	}
	msg := key + " is incubating: its releases must carry a DISCLAIMER; the checks of its open drafts run again."
	if !on {
		msg = key + " is no longer incubating; the checks of its open drafts run again."
	}
	w.redirect(rw, r, back, flash{Notice: msg})
}
