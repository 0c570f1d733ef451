package integration

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"trel/client"
	"trel/internal/core"
	"trel/internal/domain"
)

// TestStory walks the whole foundation user story through the command line
// of the real binary against a real server process.
func TestStory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "data")

	// An empty data directory: the server creates the first administrator
	// and says how to get a token.
	srv := startServer(t, data)
	hint := "admin create-token --data " + data + " --username admin"
	if !eventually(5*time.Second, func() bool { return strings.Contains(srv.stdout.String(), hint) }) {
		t.Fatalf("serve on an empty directory should print the hint %q; printed:\n%s", hint, srv.stdout)
	}
	for _, want := range []string{`first administrator "admin"`, "trel is serving on http://" + srv.addr} {
		if !eventually(5*time.Second, func() bool { return strings.Contains(srv.stdout.String(), want) }) {
			t.Errorf("serve should print %q; printed:\n%s", want, srv.stdout)
		}
	}
	for _, p := range []string{"trel.db", "blobs/objects", "blobs/tmp"} {
		if _, err := os.Stat(filepath.Join(data, p)); err != nil {
			t.Errorf("the data directory should hold %s: %v", p, err)
		}
	}

	// The operator gets an admin token and signs the CLI in with it (token
	// on stdin); the configuration file holds a secret, so mode 0600.
	ops := newUser(t, "operator")
	adminTok := adminToken(t, data, "admin")
	admin := newUser(t, "admin")
	r := admin.runIn(t, admin.home, adminTok+"\n", "login", "--server", srv.url)
	if r.code != 0 {
		t.Fatalf("login: %s", r)
	}
	if want := "Signed in to " + srv.url + " as admin. Configuration saved in " + admin.config; !strings.Contains(r.stdout, want) {
		t.Errorf("login should say %q; got %s", want, r)
	}
	if strings.Contains(r.stdout+r.stderr, adminTok) {
		t.Errorf("login must never echo the token: %s", r)
	}
	st, err := os.Stat(admin.config)
	if err != nil {
		t.Fatalf("login should write %s: %v", admin.config, err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("the config file holds a token and must have mode 0600, has %v", st.Mode().Perm())
	}
	if st, err := os.Stat(filepath.Dir(admin.config)); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("the config directory should be created with mode 0700: %v %v", st.Mode(), err)
	}
	var cfg struct{ Server, Token string }
	if b, err := os.ReadFile(admin.config); err != nil || json.Unmarshal(b, &cfg) != nil || cfg.Server != srv.url || cfg.Token != adminTok {
		t.Errorf("the config file should hold the server and token; got %+v (%v)", cfg, err)
	}
	admin.fails(t, 2, []string{"nothing to read for \"API token\" on standard input"}, "login", "--server", srv.url)

	// Committee and project, as the administrator (from the saved config).
	if out := admin.ok(t, "committee", "create", "demo", "--name", "Demo Committee"); !strings.Contains(out, "Created committee demo (Demo Committee)") {
		t.Errorf("committee create printed %q", out)
	}
	if out := admin.ok(t, "project", "create", "widget", "--committee", "demo", "--name", "Widget"); !strings.Contains(out, "Created project widget (Widget) in committee demo") {
		t.Errorf("project create printed %q", out)
	}

	// Users, created on the data directory while the server runs.
	if out := ops.ok(t, "admin", "create-user", "--data", data, "--username", "alice", "--email", "alice@example.org"); !strings.Contains(out, "Created user alice <alice@example.org>") {
		t.Errorf("create-user printed %q", out)
	}
	var bobUser domain.User
	ops.okJSON(t, &bobUser, "admin", "create-user", "--data", data, "--username", "bob", "--email", "Bob@Example.org", "--name", "Bob Builder")
	if bobUser.Username != "bob" || bobUser.Email != "bob@example.org" || bobUser.Admin || bobUser.ID == 0 {
		t.Errorf("create-user --json: %+v", bobUser)
	}
	ops.ok(t, "admin", "create-user", "--data", data, "--username", "carol", "--email", "carol@example.org")
	alice := newUser(t, "alice").withToken(srv.url, adminToken(t, data, "alice", "--label", "laptop"))
	bob := newUser(t, "bob").withToken(srv.url, adminToken(t, data, "bob"))
	carol := newUser(t, "carol").withToken(srv.url, adminToken(t, data, "carol", "--expires", "1d"))

	if out := admin.ok(t, "member", "add", "demo", "alice", "--role", "member"); !strings.Contains(out, "alice is now a member of demo") {
		t.Errorf("member add printed %q", out)
	}
	admin.ok(t, "member", "add", "demo", "bob", "--role", "committer")
	admin.ok(t, "member", "add", "demo", "carol", "--role", "committer")
	if out := admin.ok(t, "member", "remove", "demo", "carol"); !strings.Contains(out, "Removed carol from demo") {
		t.Errorf("member remove printed %q", out)
	}
	var cd core.CommitteeDetail
	admin.okJSON(t, &cd, "committee", "show", "demo")
	roles := map[string]domain.Role{}
	for _, m := range cd.Members {
		roles[m.Username] = m.Role
	}
	if !reflect.DeepEqual(roles, map[string]domain.Role{"alice": "member", "bob": "committer"}) || len(cd.Projects) != 1 || cd.Projects[0].Key != "widget" {
		t.Errorf("committee show --json: members %v, projects %+v", roles, cd.Projects)
	}

	// alice starts the release.
	if out := alice.ok(t, "release", "start", "widget", "1.0.0"); !strings.Contains(out, "Started draft release widget 1.0.0") {
		t.Errorf("release start printed %q", out)
	}
	if out := bob.ok(t, "files", "widget", "1.0.0"); !strings.Contains(out, "No files yet") {
		t.Errorf("files of an empty draft printed %q", out)
	}

	// bob uploads two files and a directory into dist/: ONE new revision.
	work := filepath.Join(bob.home, "work")
	local := map[string][]byte{
		"widget-1.0.0.tar.gz":   pseudoRandom("tarball", 300<<10+17),
		"README.txt":            []byte("Widget 1.0.0\n"),
		"docs/index.html":       []byte("<h1>Widget</h1>\n"),
		"docs/api/reference.md": []byte("# API\n"),
		"NOTICE":                []byte("Copyright the widget authors\n"),
	}
	for p, b := range local {
		writeFile(t, filepath.Join(work, p), b)
	}
	r = bob.runIn(t, work, "", "upload", "widget", "1.0.0", "widget-1.0.0.tar.gz", "README.txt", "docs", "--to", "dist")
	if r.code != 0 {
		t.Fatalf("upload: %s", r)
	}
	if want := "Created revision 1 of widget 1.0.0 (4 files).\n"; r.stdout != want {
		t.Errorf("upload should print %q, printed %q", want, r.stdout)
	}
	if n := revisionCount(t, client.New(srv.url, bob.token), "widget", "1.0.0"); n != 1 {
		t.Fatalf("one upload invocation must create exactly one revision; there are %d", n)
	}
	// A second upload, with --json.
	var res core.RevisionResult
	bobInWork := func(args ...string) result { return bob.runIn(t, work, "", args...) }
	r = bobInWork("upload", "widget", "1.0.0", "NOTICE", "--to", "dist/", "-m", "add the notice", "--json")
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil {
		t.Fatalf("upload --json: %s", r)
	}
	if !res.Created || res.Revision.Number != 2 || res.Revision.Parent != 1 || len(res.Revision.Files) != 5 ||
		res.Revision.Author != "bob" || res.Revision.Description != "add the notice" {
		t.Errorf("upload --json result: %+v", res.Revision)
	}
	// The same content again changes nothing and makes no revision.
	r = bobInWork("upload", "widget", "1.0.0", "NOTICE", "--to", "dist")
	if r.code != 0 || !strings.Contains(r.stdout, "Nothing changed: revision 2 already holds these files.") {
		t.Errorf("re-uploading identical content: %s", r)
	}

	// files: every path with the right digests and sizes.
	want := map[string][]byte{}
	for p, b := range local {
		want["dist/"+p] = b
	}
	var rev domain.Revision
	bob.okJSON(t, &rev, "files", "widget", "1.0.0")
	checkManifest(t, "revision 2", rev, want)
	out := bob.ok(t, "files", "widget", "1.0.0")
	for _, w := range []string{"Revision 2", "5 files", "dist/docs/api/reference.md", "300.0 KiB", "PATH", "SHA-512"} {
		if !strings.Contains(out, w) {
			t.Errorf("files should print %q; printed:\n%s", w, out)
		}
	}
	var rev1 domain.Revision
	bob.okJSON(t, &rev1, "files", "widget", "1.0.0", "--revision", "1")
	delete(want, "dist/NOTICE")
	checkManifest(t, "revision 1", rev1, want)
	want["dist/NOTICE"] = local["NOTICE"]

	// download: content and digest match.
	r = bobInWork("download", "widget", "1.0.0", "dist/widget-1.0.0.tar.gz", "-o", "got.tgz")
	if r.code != 0 || !strings.Contains(r.stdout, "Downloaded dist/widget-1.0.0.tar.gz (300.0 KiB) to got.tgz") {
		t.Errorf("download: %s", r)
	}
	checkFile(t, filepath.Join(work, "got.tgz"), local["widget-1.0.0.tar.gz"])
	r = bobInWork("download", "widget", "1.0.0", "dist/docs/api/reference.md")
	if r.code != 0 {
		t.Errorf("download to the default name: %s", r)
	}
	checkFile(t, filepath.Join(work, "reference.md"), local["docs/api/reference.md"])
	r = bobInWork("download", "widget", "1.0.0", "dist/docs/api/reference.md")
	checkFailure(t, r, 2, "reference.md already exists", "--force")
	r = bobInWork("download", "widget", "1.0.0", "dist/NOTICE", "-o", "-")
	if r.code != 0 || r.stdout != string(local["NOTICE"]) {
		t.Errorf("download -o - should print the content: %s", r)
	}
	var dl struct {
		Path, Output string
		Size         int64
	}
	bob.okJSON(t, &dl, "download", "widget", "1.0.0", "dist/README.txt", "-o", filepath.Join(work, "readme.out"))
	if dl.Path != "dist/README.txt" || dl.Size != int64(len(local["README.txt"])) {
		t.Errorf("download --json: %+v", dl)
	}
	for _, e := range dirEntries(t, work) {
		if strings.HasPrefix(e, ".trel-download-") {
			t.Errorf("download left a temporary file %s behind", e)
		}
	}

	// rm and mv: each one new revision; the earlier ones never change.
	bc := client.New(srv.url, bob.token)
	before := map[int]*domain.Revision{}
	for n := 1; n <= 2; n++ {
		if before[n], err = bc.Revision(ctx, "widget", "1.0.0", n); err != nil {
			t.Fatal(err)
		}
	}
	if out := bob.ok(t, "rm", "widget", "1.0.0", "dist/README.txt"); out != "Created revision 3 of widget 1.0.0 (4 files).\n" {
		t.Errorf("rm printed %q", out)
	}
	if out := bob.ok(t, "mv", "widget", "1.0.0", "dist/docs", "dist/documentation"); out != "Created revision 4 of widget 1.0.0 (4 files).\n" {
		t.Errorf("mv printed %q", out)
	}
	delete(want, "dist/README.txt")
	for _, p := range []string{"index.html", "api/reference.md"} {
		want["dist/documentation/"+p] = want["dist/docs/"+p]
		delete(want, "dist/docs/"+p)
	}
	bob.okJSON(t, &rev, "files", "widget", "1.0.0")
	checkManifest(t, "revision 4", rev, want)
	for n := 1; n <= 2; n++ {
		after, err := bc.Revision(ctx, "widget", "1.0.0", n)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(before[n], after) {
			t.Errorf("revision %d changed after rm/mv:\nbefore %+v\nafter  %+v", n, before[n], after)
		}
	}
	// The removed file is gone from the latest revision, still in revision 1.
	bob.fails(t, 1, []string{`no file "dist/README.txt" in revision 4`}, "download", "widget", "1.0.0", "dist/README.txt", "-o", "-")
	if r := bobInWork("download", "widget", "1.0.0", "dist/README.txt", "--revision", "1", "-o", "-"); r.code != 0 || r.stdout != string(local["README.txt"]) {
		t.Errorf("downloading from revision 1 after rm: %s", r)
	}
	var revs []domain.Revision
	bob.okJSON(t, &revs, "revisions", "widget", "1.0.0")
	wantDesc := []string{"upload of 4 file(s)", "add the notice", "remove dist/README.txt", "move dist/docs to dist/documentation"}
	if len(revs) != 4 {
		t.Fatalf("revisions --json: want 4, got %+v", revs)
	}
	for i, rv := range revs {
		if rv.Number != i+1 || rv.Parent != i || rv.Author != "bob" || rv.Description != wantDesc[i] {
			t.Errorf("revision %d: %+v", i+1, rv)
		}
	}
	if out := bob.ok(t, "revisions", "widget", "1.0.0"); !strings.Contains(out, "REVISION") || !strings.Contains(out, "move dist/docs to dist/documentation") {
		t.Errorf("revisions printed:\n%s", out)
	}

	// --json of the listing commands parses and says the right things.
	var rel domain.Release
	alice.okJSON(t, &rel, "release", "show", "widget", "1.0.0")
	if rel.LatestRevision != 4 || rel.CreatedBy != "alice" || rel.Phase != domain.PhaseDraft || rel.CommitteeKey != "demo" {
		t.Errorf("release show --json: %+v", rel)
	}
	var rels []domain.Release
	alice.okJSON(t, &rels, "release", "list", "widget")
	if len(rels) != 1 || rels[0].Version != "1.0.0" {
		t.Errorf("release list --json: %+v", rels)
	}
	var cs []domain.Committee
	carol.okJSON(t, &cs, "committee", "list")
	if len(cs) != 1 || cs[0].Key != "demo" {
		t.Errorf("committee list --json: %+v", cs)
	}
	var ps []domain.Project
	carol.okJSON(t, &ps, "project", "list", "--committee", "demo")
	if len(ps) != 1 || ps[0].Key != "widget" || ps[0].CommitteeKey != "demo" {
		t.Errorf("project list --json: %+v", ps)
	}
	var p domain.Project
	carol.okJSON(t, &p, "project", "show", "widget")
	if p.Name != "Widget" {
		t.Errorf("project show --json: %+v", p)
	}
	// Drafts are for the committee's participants only.
	carol.fails(t, 1, []string{"committer (or member) of the committee demo", "read draft releases"}, "files", "widget", "1.0.0")
	var toks []domain.Token
	alice.okJSON(t, &toks, "token", "list")
	if len(toks) != 1 || toks[0].Label != "laptop" || !strings.HasPrefix(alice.token, toks[0].Prefix) || toks[0].LastUsedAt == nil {
		t.Errorf("token list --json: %+v", toks)
	}
	if out := alice.ok(t, "token", "list"); strings.Contains(out, alice.token) || !strings.Contains(out, "laptop") || !strings.Contains(out, "active") {
		t.Errorf("token list must show the token but never its secret:\n%s", out)
	}
	var created struct {
		Token  domain.Token `json:"token"`
		Secret string       `json:"secret"`
	}
	alice.okJSON(t, &created, "token", "create", "--label", "ci", "--expires", "12h")
	if !strings.HasPrefix(created.Secret, core.TokenPrefix) || created.Token.Label != "ci" {
		t.Errorf("token create --json: %+v", created)
	}
	if u, err := client.New(srv.url, created.Secret).Me(ctx); err != nil || u.Username != "alice" {
		t.Errorf("a token made with `trel token create` should work: %v %v", u, err)
	}

	// The public endpoints.
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	getJSON(t, srv.url+"/api/v1/openapi.json", &doc)
	if doc.OpenAPI == "" || doc.Paths["/api/v1/projects/{project}/releases/{version}/uploads"]["post"] == nil {
		t.Errorf("openapi.json should document the upload endpoint; paths: %v", keys(doc.Paths))
	}
	if body := getBody(t, srv.url+"/metrics"); !strings.Contains(body, "trel_http_requests_total") {
		t.Errorf("/metrics should count requests")
	}

	// Restart on the same data directory: everything is still there and
	// no second administrator is bootstrapped.
	srv.stop()
	srv = srv.restart()
	if !eventually(5*time.Second, func() bool { return strings.Contains(srv.stdout.String(), "trel is serving on") }) {
		t.Errorf("the restarted server printed %q", srv.stdout)
	}
	if strings.Contains(srv.stdout.String(), "Created a new trel data directory") {
		t.Errorf("a restart must not bootstrap again:\n%s", srv.stdout)
	}
	var after domain.Revision
	bob.okJSON(t, &after, "files", "widget", "1.0.0")
	if !reflect.DeepEqual(rev, after) {
		t.Errorf("the latest revision changed across a restart:\nbefore %+v\nafter  %+v", rev, after)
	}
	for n := 1; n <= 2; n++ {
		got, err := bc.Revision(ctx, "widget", "1.0.0", n)
		if err != nil || !reflect.DeepEqual(before[n], got) {
			t.Errorf("revision %d changed across a restart (%v)", n, err)
		}
	}
	if n := revisionCount(t, bc, "widget", "1.0.0"); n != 4 {
		t.Errorf("after restart: %d revisions, want 4", n)
	}
	r = bobInWork("download", "widget", "1.0.0", "dist/widget-1.0.0.tar.gz", "-o", "again.tgz")
	if r.code != 0 {
		t.Errorf("download after restart: %s", r)
	}
	checkFile(t, filepath.Join(work, "again.tgz"), local["widget-1.0.0.tar.gz"])
	admin.okJSON(t, &cd, "committee", "show", "demo") // the saved login still works
	if len(cd.Members) != 2 {
		t.Errorf("after restart the committee has members %+v", cd.Members)
	}
	users, err := client.New(srv.url, adminTok).ListUsers(ctx)
	if err != nil || len(users) != 4 {
		t.Errorf("after restart: users %+v (%v)", users, err)
	}
	// And the story goes on: a new revision continues the numbering.
	if out := bob.ok(t, "rm", "widget", "1.0.0", "dist/NOTICE", "--expect-revision", "4"); !strings.Contains(out, "Created revision 5") {
		t.Errorf("rm after restart printed %q", out)
	}
	if n := checkObjects(t, data); n != 5 {
		t.Errorf("the blob store should hold the 5 distinct contents uploaded, holds %d", n)
	}
}

// checkManifest compares a revision's files with the expected contents.
func checkManifest(t *testing.T, what string, rev domain.Revision, want map[string][]byte) {
	t.Helper()
	var got []string
	for _, f := range rev.Files {
		got = append(got, f.Path)
		b, ok := want[f.Path]
		if !ok {
			continue
		}
		s512 := sha512.Sum512(b)
		if f.SHA256 != sha256Hex(b) || f.SHA512 != hex.EncodeToString(s512[:]) || f.Size != int64(len(b)) {
			t.Errorf("%s: %s has sha256 %s sha512 %.16s… size %d; want %s %.16s… %d", what, f.Path, f.SHA256, f.SHA512, f.Size,
				sha256Hex(b), hex.EncodeToString(s512[:]), len(b))
		}
	}
	wantPaths := keys(want)
	if !reflect.DeepEqual(got, wantPaths) {
		t.Errorf("%s holds %v, want %v (sorted)", what, got, wantPaths)
	}
}

func checkFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("reading the downloaded file: %v", err)
		return
	}
	if sha256Hex(got) != sha256Hex(want) {
		t.Errorf("%s: %d bytes with sha256 %s, want %d bytes with %s", path, len(got), sha256Hex(got), len(want), sha256Hex(want))
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(getBody(t, url)), v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
