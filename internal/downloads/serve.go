package downloads

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"trel/internal/checks/rules"
	"trel/internal/domain"
)

// FileCSP is the Content-Security-Policy of every file in the tree: should
// a browser render one anyway, it runs in a sandbox without scripts, forms
// or any fetch, and never with trel's origin.
const FileCSP = "sandbox; default-src 'none'; form-action 'none'"

// contentTypes maps file name endings (lower case; the longest match wins)
// to the type trel serves them with.
var contentTypes = map[string]string{
	".asc": "application/pgp-signature", ".sig": "application/pgp-signature",
	".sha256": "text/plain; charset=utf-8", ".sha512": "text/plain; charset=utf-8",
	".sha1": "text/plain; charset=utf-8", ".md5": "text/plain; charset=utf-8",
	".sigstore": "application/json", ".sigstore.json": "application/json", ".bundle": "application/json",
	".cdx.json": "application/vnd.cyclonedx+json", ".cdx.xml": "application/vnd.cyclonedx+xml",
	".spdx.json": "application/spdx+json", ".spdx": "text/spdx; charset=utf-8",
	".tar.gz": "application/gzip", ".tgz": "application/gzip", ".crate": "application/gzip",
	".tar.bz2": "application/x-bzip2", ".tar.xz": "application/x-xz", ".tar.zst": "application/zstd",
	".tar": "application/x-tar", ".gem": "application/x-tar",
	".zip": "application/zip", ".whl": "application/zip", ".nupkg": "application/zip",
	".jar": "application/java-archive", ".war": "application/java-archive",
	".rpm": "application/x-rpm", ".deb": "application/vnd.debian.binary-package",
	".dmg": "application/x-apple-diskimage", ".msi": "application/x-msi",
	".exe": "application/vnd.microsoft.portable-executable", ".apk": "application/vnd.android.package-archive",
}

// ContentType returns the type a file is served with, and whether it is
// served inline: known artifacts, signatures, checksums and the manifest
// are; everything else is an attachment of type application/octet-stream
// or its own type.
func ContentType(name string) (ctype string, inline bool) {
	base := strings.ToLower(path.Base(name))
	if base == ManifestName {
		return "application/json", true
	}
	if base == "keys" {
		return "application/pgp-keys", true
	}
	best := ""
	for suffix := range contentTypes {
		if len(base) > len(suffix) && strings.HasSuffix(base, suffix) && len(suffix) > len(best) {
			best = suffix
		}
	}
	if best == "" {
		return "application/octet-stream", false
	}
	inline = rules.IsKnownArtifact(base) || best == ".asc" || best == ".sha256" || best == ".sha512"
	return contentTypes[best], inline
}

// Handler implements Tree. Hidden entries (in-progress publications) do
// not exist for it; symbolic links cannot lead out of the tree.
func (t *Dir) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rel, name, dir, ok := requestPath(w, r)
		if !ok {
			return
		}
		root, err := os.OpenRoot(t.root)
		if err != nil {
			http.Error(w, "the downloads tree is unavailable", http.StatusInternalServerError)
			return
		}
		defer root.Close()
		f, err := root.Open(name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if info.IsDir() {
			if !dir {
				http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
				return
			}
			listDir(w, r, f, rel)
			return
		}
		if dir || !info.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		serveFile(w, r, name, info.Size(), info.ModTime(), f)
	})
}

// requestPath reads a /downloads/ request: the path below /downloads/
// (rel), the name to open ("." for the root), and whether a directory was
// asked for (trailing slash). It answers the request itself (and returns
// ok false) for other methods and for names that cannot be in the tree:
// "..", dotfiles (hidden publications), empty segments.
func requestPath(w http.ResponseWriter, r *http.Request) (rel, name string, dir, ok bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "only GET and HEAD", http.StatusMethodNotAllowed)
		return "", "", false, false
	}
	rel, found := strings.CutPrefix(r.URL.Path, treeRoot(r))
	if !found {
		http.NotFound(w, r)
		return "", "", false, false
	}
	dir = rel == "" || strings.HasSuffix(rel, "/")
	name = strings.TrimSuffix(rel, "/")
	if name == "" {
		name = "."
	} else if domain.ValidatePath(name) != nil {
		http.NotFound(w, r)
		return "", "", false, false
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", FileCSP)
	return rel, name, dir, true
}

// treeRoot is the prefix the tree is served under: /downloads/, or
// /archive/ for the archive tree.
func treeRoot(r *http.Request) string {
	if strings.HasPrefix(r.URL.Path, "/archive/") {
		return "/archive/"
	}
	return "/downloads/"
}

// serveFile serves one published file: trel's content type (attachments
// for anything not recognisably an artifact, signature or checksum), a
// strong validator from size and modification time (published files never
// change), and Range, If-Range and conditional requests by
// http.ServeContent.
func serveFile(w http.ResponseWriter, r *http.Request, name string, size int64, mod time.Time, content io.ReadSeeker) {
	h := w.Header()
	ctype, inline := ContentType(name)
	h.Set("Content-Type", ctype)
	if !inline {
		h.Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(path.Base(name)))
	}
	h.Set("ETag", fmt.Sprintf(`"%x-%x"`, size, mod.UnixNano()))
	h.Set("Cache-Control", "public, max-age=3600")
	// http.ServeContent answers 416 to a unit it does not know and to
	// "BYTES="; RFC 9110 says the unit is case-insensitive and a Range in
	// another unit is ignored.
	if rg := r.Header.Get("Range"); rg != "" {
		if unit, spec, ok := strings.Cut(rg, "="); ok && strings.EqualFold(strings.TrimSpace(unit), "bytes") {
			r.Header.Set("Range", "bytes="+spec)
		} else {
			r.Header.Del("Range")
		}
	}
	http.ServeContent(w, r, path.Base(name), mod, content)
}

var listingPage = template.Must(template.New("listing").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>Index of {{.Root}}{{.Dir}}</title></head>
<body><h1>Index of {{.Root}}<bdi>{{.Dir}}</bdi></h1>
{{with .Page}}<p>{{.Text}}: <a href="{{.Href}}"><bdi>{{.Name}}</bdi></a></p>{{end}}
{{with .Notes.Banner}}<p role="alert"><strong><bdi>{{.}}</bdi></strong></p>
{{end}}<table><thead><tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr></thead><tbody>
{{if .Dir}}<tr><td><a href="../">../</a></td><td></td><td></td></tr>{{end}}
{{range .Entries}}<tr><td><a href="{{.Href}}"><bdi>{{.Name}}</bdi></a>{{with index $.Notes.Entries .Name}} <strong><bdi>{{.}}</bdi></strong>{{end}}</td><td>{{.Size}}</td><td>{{.Modified}}</td></tr>
{{end}}</tbody></table></body></html>
`))

// pageLink is the link from a listing back to trel's page of the same
// thing: the tree is /downloads/COMMITTEE/PROJECT/VERSION/.
type pageLink struct{ Text, Href, Name string }

// PageFor returns the web page of a downloads directory (rel is the path
// below /downloads/, with or without a trailing slash), or nil.
func PageFor(rel string) *pageLink {
	parts := strings.Split(strings.Trim(rel, "/"), "/")
	switch {
	case len(parts) == 1 && parts[0] != "":
		return &pageLink{"Committee page", "/committees/" + url.PathEscape(parts[0]), parts[0]}
	case len(parts) == 2:
		return &pageLink{"Project page, with every release", "/projects/" + url.PathEscape(parts[1]), parts[1]}
	case len(parts) == 3:
		return &pageLink{"Release page, with signers, the vote and how to verify these files",
			"/projects/" + url.PathEscape(parts[1]) + "/releases/" + url.PathEscape(parts[2]), parts[1] + " " + parts[2]}
	}
	return nil
}

type entry struct {
	Name, Href, Size, Modified string
}

// ListingNotes are what the server says in a directory's index beyond
// the files (a yanked release and its reason); the tree knows nothing of
// releases, so the server puts them on the request's context.
type ListingNotes struct {
	Banner  string            // above the listing
	Entries map[string]string // beside an entry, by its name as listed ("1.0/")
}

type notesKey struct{}

// WithListingNotes returns ctx carrying notes for the index it serves.
func WithListingNotes(ctx context.Context, n ListingNotes) context.Context {
	return context.WithValue(ctx, notesKey{}, n)
}

// listDir writes trel's own index of a directory on disk: hidden entries
// and anything that is not a plain file or directory are left out.
func listDir(w http.ResponseWriter, r *http.Request, f fs.File, rel string) {
	d, ok := f.(fs.ReadDirFile)
	if !ok {
		http.NotFound(w, r)
		return
	}
	all, err := d.ReadDir(-1)
	if err != nil {
		http.Error(w, "cannot list this directory", http.StatusInternalServerError)
		return
	}
	var entries []entry
	for _, e := range all {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := e.Info()
		if err != nil || !(info.IsDir() || info.Mode().IsRegular()) {
			continue
		}
		en := entry{Name: e.Name(), Href: url.PathEscape(e.Name()), Modified: info.ModTime().UTC().Format(time.DateTime)}
		if info.IsDir() {
			en.Name += "/"
			en.Href += "/"
		} else {
			en.Size = domain.HumanSize(info.Size())
		}
		entries = append(entries, en)
	}
	writeListing(w, r, rel, entries)
}

// writeListing writes an index page; names are escaped and isolated (<bdi>).
func writeListing(w http.ResponseWriter, r *http.Request, rel string, entries []entry) {
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	if r.Method == http.MethodHead {
		return
	}
	notes, _ := r.Context().Value(notesKey{}).(ListingNotes)
	listingPage.Execute(w, map[string]any{"Root": treeRoot(r), "Dir": rel, "Entries": entries, "Notes": notes, "Page": PageFor(rel)})
}
