package translog

import (
	"net/http"
	"os"
	"regexp"
	"strings"
)

// servedPath matches exactly the public files of a tlog-tiles log:
// the checkpoint, hash tiles and entry bundles, full or partial.
var servedPath = regexp.MustCompile(`^(checkpoint|tile/(entries|[0-9]{1,2})/(x[0-9]{3}/){0,6}[0-9]{3}(\.p/[0-9]{1,3})?)$`)

// Handler serves the log's static files read-only; see NewHandler.
func (l *Log) Handler() http.Handler { return NewHandler(l.dir) }

// NewHandler serves the static files of the log in dir, read-only, relative
// to the request path: mount it with http.StripPrefix, e.g.
//
//	mux.Handle("/log/", http.StripPrefix("/log", translog.NewHandler(dir)))
//
// Only GET and HEAD of "checkpoint", "tile/<L>/<N>[.p/<W>]" and
// "tile/entries/<N>[.p/<W>]" are answered; everything else (directories,
// tessera's ".state", any other name, "..") is 404, and files are opened
// through os.OpenInRoot so a symlink cannot lead outside dir. The checkpoint
// is text/plain and must be revalidated; tiles and bundles are immutable
// application/octet-stream.
func NewHandler(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/")
		if !servedPath.MatchString(name) {
			http.NotFound(w, r)
			return
		}
		f, err := os.OpenInRoot(dir, name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Access-Control-Allow-Origin", "*")
		if name == "checkpoint" {
			h.Set("Content-Type", "text/plain; charset=utf-8")
			h.Set("Cache-Control", "no-cache")
		} else {
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		http.ServeContent(w, r, "", fi.ModTime(), f)
	})
}
