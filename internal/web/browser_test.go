package web_test

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"trel/internal/checks"
	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/jobs"
	"trel/internal/server"
	"trel/internal/signing"
	"trel/internal/store"
	"trel/internal/testutil/archivetest"
	"trel/internal/testutil/gpgtest"
)

// testServer is a real trel server on a loopback port, reached as
// http://localhost:PORT (WebAuthn refuses IP addresses as relying party).
type testServer struct {
	app *server.App
	url string

	mu      sync.Mutex
	uploads []string // Accept header of each upload: the script asks for JSON
}

func (s *testServer) uploadAccepts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.uploads...)
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	ctx := context.Background()
	app, err := server.Open(ctx, t.TempDir(), core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	app.PublicURL = "http://localhost:" + strconv.Itoa(port)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ts := &testServer{app: app, url: app.PublicURL}
	// Server-side signing, as `trel serve --master-key-file` runs it.
	master, err := signing.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	mk := filepath.Join(t.TempDir(), "master.key")
	if err := signing.WriteMasterKeyFile(mk, master); err != nil {
		t.Fatal(err)
	}
	closeLog, err := server.EnableSigning(ctx, app, mk, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeLog)
	h := server.Handler(app, log)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/upload") {
			ts.mu.Lock()
			ts.uploads = append(ts.uploads, r.Header.Get("Accept"))
			ts.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		app.Close()
	})
	// The check workers, as `trel serve` runs them.
	verifier, err := server.SigstoreVerifier(nil)
	if err != nil {
		t.Fatal(err)
	}
	wctx, stopWorkers := context.WithCancel(ctx)
	runner, err := jobs.Start(wctx, app.Store.SQL(), app.Store, checks.NewEngine(app.Store, app.Blobs, verifier), log)
	if err != nil {
		t.Fatal(err)
	}
	app.Core.SetCheckNotifier(runner)
	t.Cleanup(func() {
		stopWorkers()
		runner.Stop(context.Background())
	})
	if _, err := app.Core.Bootstrap(ctx, "admin", "admin@example.org"); err != nil {
		t.Fatal(err)
	}
	return ts
}

// newBrowser starts Debian's chromium, headless, with a fresh profile.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath("/usr/bin/chromium"),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelB()
		cancelA()
	})
	// Start the browser with no deadline: a timeout on the first Run would
	// stop the whole browser.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return bctx
}

// newTab opens a tab with its own CDP virtual authenticator (a platform
// authenticator holding discoverable credentials, verifying its user when
// verified is true).
func newTab(t *testing.T, browser context.Context, verified bool) (context.Context, cdpwebauthn.AuthenticatorID) {
	t.Helper()
	tab, cancel := chromedp.NewContext(browser, chromedp.WithListener(pageProblems.listen))
	t.Cleanup(cancel)
	if _, err := chromedp.Call(tab, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	return tab, addAuthenticator(t, tab, verified)
}

func addAuthenticator(t *testing.T, tab context.Context, verified bool) cdpwebauthn.AuthenticatorID {
	t.Helper()
	res, err := chromedp.Call(tab, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{
		Options: &cdpwebauthn.VirtualAuthenticatorOptions{
			Protocol:            cdpwebauthn.AuthenticatorProtocolCtap2,
			Ctap2version:        cdpwebauthn.Ctap2versionCtap21,
			Transport:           cdpwebauthn.AuthenticatorTransportInternal,
			HasResidentKey:      true,
			HasUserVerification: true,
			IsUserVerified:      verified,
			// Unset is sent as false, and create() then waits for ever.
			AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

// problems collects what the pages reported that should never happen: a
// Content-Security-Policy violation or an uncaught script exception.
type problems struct {
	mu   sync.Mutex
	list []string
}

var pageProblems = &problems{}

func (p *problems) listen(ev any) {
	var msg string
	switch e := ev.(type) {
	case *cdplog.EventEntryAdded:
		if strings.Contains(e.Entry.Text, "Content Security Policy") {
			msg = e.Entry.Text
		}
	case *runtime.EventExceptionThrown:
		msg = "uncaught exception: " + e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil {
			msg += " " + e.ExceptionDetails.Exception.Description
		}
	}
	if msg != "" {
		p.mu.Lock()
		p.list = append(p.list, msg)
		p.mu.Unlock()
	}
}

func (p *problems) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.list
	p.list = nil
	return l
}

// run runs browser steps with a deadline, failing the test on error.
func run(t *testing.T, tab context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		html, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Fatalf("%s: %v\npage text:\n%s", what, err, html)
	}
}

func text(t *testing.T, tab context.Context, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("reading %s: %v", sel, err)
	}
	return s
}

func wantText(t *testing.T, tab context.Context, sel, want string) {
	t.Helper()
	if got := text(t, tab, sel); !strings.Contains(got, want) {
		t.Fatalf("%s = %q, want it to contain %q", sel, got, want)
	}
}

// waitText waits until the element's text contains want.
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tt *chromedp.Target) error {
		for {
			s, err := chromedp.Evaluate[string](`(function(){const e=document.querySelector(`+jsString(sel)+`);return e && !e.hidden ? e.innerText : ""})()`)(ctx, tt)
			if err == nil && strings.Contains(s, want) {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// reloadUntil reloads the page until the element's text contains want
// (for results that background workers produce).
func reloadUntil(sel, want string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tt *chromedp.Target) error {
		for {
			if _, err := chromedp.Reload()(ctx, tt); err != nil {
				return err
			}
			s, err := chromedp.Evaluate[string](`(function(){const e=document.querySelector(`+jsString(sel)+`);return e ? e.innerText : ""})()`)(ctx, tt)
			if err == nil && strings.Contains(s, want) {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// screenshot saves a full-page PNG into the repository's screenshots/.
func screenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("..", "..", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	taken[name] = true
	if slices.Contains(docScreenshots, name) && os.Getenv("TREL_UPDATE_SCREENSHOTS") != "" {
		ctx, cancel := context.WithTimeout(tab, 20*time.Second)
		defer cancel()
		jpg, err := chromedp.Run(ctx, chromedp.FullScreenshot(50))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "screenshots", name+".jpg"), jpg, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// offline cuts the tab's network (or gives it back), as when a connection
// drops.
func offline(t *testing.T, tab context.Context, off bool) {
	t.Helper()
	if _, err := chromedp.Call(tab, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	cond := network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: []*network.Conditions{{Offline: off, DownloadThroughput: -1, UploadThroughput: -1}}}
	if _, err := chromedp.Call(tab, network.EmulateNetworkConditionsByRule, cond); err != nil {
		t.Fatal(err)
	}
}

// taken are the screenshots this run took (TestMain checks that each of
// docScreenshots is among them).
var taken = map[string]bool{}

func enrollmentLink(t *testing.T, s *testServer, username string) string {
	t.Helper()
	link, err := server.EnrollmentLink(context.Background(), s.app, username)
	if err != nil {
		t.Fatal(err)
	}
	return link
}

// submit fills a form's fields by CSS selector and clicks its button.
func fill(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(chromedp.CSS(sel), value)
}

func click(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(chromedp.CSS(sel))
}

// TestBrowser drives the web interface in Chromium, with a virtual
// authenticator, through a release manager's day: enrollment, sign-out and
// sign-in, administration, a release with two uploads and a diff, API
// tokens and passkey management, and the refusals on the way.
func TestBrowser(t *testing.T) {
	browserTestsRun++
	start := time.Now()
	s := startServer(t)
	browser := newBrowser(t)
	tab, authID := newTab(t, browser, true)
	link := enrollmentLink(t, s, "admin")

	t.Run("enroll with a link signs in", func(t *testing.T) {
		run(t, tab, "enroll",
			chromedp.Navigate(link),
			waitText("h1", "Welcome, admin"),
		)
		screenshot(t, tab, "enroll")
		run(t, tab, "create passkey",
			chromedp.WaitEnabled(chromedp.CSS("#passkey-register button")),
			chromedp.SetValue(chromedp.CSS("#name"), "laptop"),
			click("#passkey-register button"),
			waitText("h1", "Dashboard"),
		)
		wantText(t, tab, ".notice", "Your passkey was created")
		res, err := chromedp.Call(tab, network.GetCookies, network.GetCookiesParams{URLs: []string{s.url}})
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, c := range res.Cookies {
			if c.Name == "trel_session" {
				found = true
				if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax {
					t.Errorf("session cookie: HttpOnly %v, SameSite %q; want HttpOnly, Lax", c.HTTPOnly, c.SameSite)
				}
			}
		}
		if !found {
			t.Errorf("no session cookie after enrollment: %+v", res.Cookies)
		}
	})

	t.Run("a used enrollment link is refused", func(t *testing.T) {
		run(t, tab, "reuse link", chromedp.Navigate(link), waitText("h1", "Enrollment link not usable"))
		wantText(t, tab, ".error", "already used")
	})

	t.Run("sign out and in again", func(t *testing.T) {
		run(t, tab, "sign out",
			chromedp.Navigate(s.url+"/"),
			click("header form button"),
			waitText("h1", "Sign in"),
		)
		wantText(t, tab, ".notice", "signed out")
		screenshot(t, tab, "login")
		// A page that needs signing in sends there, and back after.
		run(t, tab, "sign in",
			chromedp.Navigate(s.url+"/tokens"),
			chromedp.WaitVisible(chromedp.CSS("#passkey-signin")),
			click("#passkey-signin"),
			waitText("h1", "API tokens"),
		)
		wantText(t, tab, ".notice", "Welcome back, admin")
	})

	t.Run("sign-in without user verification is refused", func(t *testing.T) {
		bad := true
		if _, err := chromedp.Call(tab, cdpwebauthn.SetResponseOverrideBits, cdpwebauthn.SetResponseOverrideBitsParams{AuthenticatorID: authID, IsBadUV: &bad}); err != nil {
			t.Fatal(err)
		}
		run(t, tab, "sign out", click("header form button"), waitText("h1", "Sign in"))
		run(t, tab, "sign in without UV",
			chromedp.WaitVisible(chromedp.CSS("#passkey-signin")),
			click("#passkey-signin"),
			waitText("#passkey-error", "refused"),
		)
		screenshot(t, tab, "login-refused")
		if _, err := chromedp.Call(tab, cdpwebauthn.SetResponseOverrideBits, cdpwebauthn.SetResponseOverrideBitsParams{AuthenticatorID: authID}); err != nil {
			t.Fatal(err)
		}
		run(t, tab, "sign in again",
			chromedp.Navigate(s.url+"/login"),
			chromedp.WaitVisible(chromedp.CSS("#passkey-signin")),
			click("#passkey-signin"),
			waitText("h1", "Dashboard"),
		)
	})

	t.Run("administration", func(t *testing.T) {
		run(t, tab, "create committee",
			chromedp.Navigate(s.url+"/admin"),
			waitText("h1", "Administration"),
			fill("#c-key", "widget"),
			fill("#c-name", "Widget Committee"),
			click("form[action='/admin/committees'] button"),
			waitText(".notice", "Committee widget was created"),
		)
		run(t, tab, "create project",
			fill("#p-key", "widget-core"),
			fill("#p-name", "Widget Core"),
			click("form[action='/admin/projects'] button"),
			waitText(".notice", "Project widget-core was created"),
		)
		run(t, tab, "create user",
			fill("#nu-username", "carol"),
			fill("#nu-email", "carol@example.org"),
			click("form[action='/admin/users'] button"),
			waitText("#enroll-link", "/enroll/"),
		)
		run(t, tab, "add member",
			chromedp.Navigate(s.url+"/admin"),
			waitText("h1", "Administration"),
			chromedp.SetValue(chromedp.CSS("#m-committee"), "widget"),
			fill("#m-user", "carol"),
			chromedp.SetValue(chromedp.CSS("#m-role"), "member"),
			click("form[action='/admin/members'] button"),
			waitText(".notice", "carol is now a member of widget"),
		)
		screenshot(t, tab, "admin")
		run(t, tab, "committee page", chromedp.Navigate(s.url+"/committees/widget"), waitText("h1", "Widget Committee"))
		wantText(t, tab, "main", "carol")
		screenshot(t, tab, "committee")
	})

	t.Run("add a key", func(t *testing.T) {
		key, err := filepath.Abs(filepath.Join("..", "openpgp", "testdata", "atr", "68FF2E20F02B070D73D416188DE8CC167FE2663A.asc"))
		if err != nil {
			t.Fatal(err)
		}
		run(t, tab, "add key",
			chromedp.Navigate(s.url+"/keys"),
			waitText("h1", "Signing keys"),
			chromedp.SetUploadFiles(chromedp.CSS("#add-file"), []string{key}),
			chromedp.SetValue(chromedp.CSS("#add-committee"), "widget"),
			click("form[action='/keys'] button"),
			waitText("main", "1 added"),
		)
		wantText(t, tab, "main table", "68FF2E20F02B070D73D416188DE8CC167FE2663A")
		screenshot(t, tab, "keys")
		run(t, tab, "committee keys",
			chromedp.Navigate(s.url+"/committees/widget"),
			waitText("main", "68FF2E20F02B070D73D416188DE8CC167FE2663A"),
			click("a[href$='/KEYS']"),
			// Nobody proved to hold the key: linked, but not in KEYS.
			waitText("body", "(no keys yet"),
		)
		// The key's only user ID is not the administrator's address, so
		// the core refuses an ownership challenge, and the page says why.
		run(t, tab, "prove ownership",
			chromedp.Navigate(s.url+"/keys"),
			click("form[action$='/challenge'] button"),
			waitText(".error", "e-mail address"),
		)
	})

	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("create a release and upload files", func(t *testing.T) {
		run(t, tab, "start release",
			chromedp.Navigate(s.url+"/projects/widget-core"),
			waitText("h1", "Widget Core"),
			fill("#version", "1.0.0"),
			click("form[action='/projects/widget-core/releases'] button"),
			waitText("h1", "widget-core 1.0.0"),
		)
		// A real artifact signed by the key added above, its signature and
		// its checksum file.
		var atr []string
		for _, name := range []string{"apache-test-0.2.tar.gz", "apache-test-0.2.tar.gz.asc", "apache-test-0.2.tar.gz.sha512"} {
			p, err := filepath.Abs(filepath.Join("..", "openpgp", "testdata", "atr", name))
			if err != nil {
				t.Fatal(err)
			}
			atr = append(atr, p)
		}
		run(t, tab, "upload three files",
			chromedp.SetUploadFiles(chromedp.CSS("#files"), atr),
			fill("#description", "first upload"),
			click("#upload-form button[type=submit]"),
			waitText(".notice", "Revision 1 was created with 3 uploaded file(s)"),
		)
		wantText(t, tab, "main table", "apache-test-0.2.tar.gz.sha512")
		sums2 := write("apache-test-0.2.tar.gz.sha512", "not the right checksum\n")
		notes := write("NOTES.txt", "release notes\n")
		run(t, tab, "upload a change",
			chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{sums2, notes}),
			click("#upload-form button[type=submit]"),
			waitText(".notice", "Revision 2 was created"),
		)
		// The server's check workers run on the new revision; the page
		// shows their results grouped by status once they are done.
		run(t, tab, "see check results", reloadUntil("main", "Checks are done"))
		wantText(t, tab, "main", "Files and checks of revision 2")
		wantText(t, tab, "#progress", "0 of 2 artifacts ready; 7 problems")
		wantText(t, tab, "#progress .step.blocked", "Checks")
		if n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('#results h3 .badge').length`)); err != nil || n == 0 {
			t.Fatalf("no group of check results on the page (%d, %v)", n, err)
		}
		screenshot(t, tab, "release")
		run(t, tab, "re-run checks",
			click("form[action$='/checks/rerun'] button"),
			waitText(".notice", "queued again"),
			reloadUntil("main", "Checks are done"),
		)
		run(t, tab, "diff",
			click("form[action$='/diff'] button"),
			waitText("h1", "revision 1 → 2"),
		)
		wantText(t, tab, "main table", "added")
		wantText(t, tab, "main table", "changed")
		screenshot(t, tab, "diff")

		// Without JavaScript the upload form is a plain multipart POST.
		if _, err := chromedp.Call(tab, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatal(err)
		}
		readme := write("README.txt", "read me\n")
		run(t, tab, "upload without JavaScript",
			chromedp.Navigate(s.url+"/projects/widget-core/releases/1.0.0"),
			chromedp.WaitVisible(chromedp.CSS("#upload-form")),
			chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{readme}),
			click("#upload-form button[type=submit]"),
			waitText(".notice", "Revision 3 was created with 1 uploaded file(s)"),
		)
		if _, err := chromedp.Call(tab, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false}); err != nil {
			t.Fatal(err)
		}
		accepts := s.uploadAccepts()
		if len(accepts) != 3 || accepts[0] != "application/json" || accepts[1] != "application/json" || accepts[2] == "application/json" {
			t.Errorf("Accept headers of the uploads %q: want two by the script, then one plain form post", accepts)
		}
	})

	t.Run("files of a draft: view, rename, remove, restore; abandon a draft", func(t *testing.T) {
		rel := s.url + "/projects/widget-core/releases/1.0.0"
		run(t, tab, "view a small text file",
			chromedp.Navigate(rel),
			click("a[href$='/view/README.txt']"),
			waitText("h1", "README.txt"),
		)
		wantText(t, tab, "#file-text", "read me")
		run(t, tab, "rename it",
			chromedp.Navigate(rel),
			click("summary[aria-label='Rename or move README.txt']"),
			chromedp.SetValue(chromedp.CSS("form[action$='/files/move']:has(input[value='README.txt']) input[name=to]"), "docs/README.txt"),
			click("form[action$='/files/move']:has(input[value='README.txt']) button"),
			waitText(".notice", ": revision 4."),
		)
		wantText(t, tab, "#results", "docs/README.txt")
		run(t, tab, "remove it, after the confirmation",
			click("summary[aria-label='Remove docs/README.txt']"),
			waitText("form[action$='/files/remove']:has(input[value='docs/README.txt'])", "A new revision is made without docs/README.txt"),
			click("form[action$='/files/remove']:has(input[value='docs/README.txt']) button"),
			waitText(".notice", ": revision 5."),
		)
		if strings.Contains(text(t, tab, "#results"), "README.txt") {
			t.Fatal("the removed file is still listed")
		}
		run(t, tab, "an old revision is read-only, and restored as a new one",
			chromedp.Navigate(rel+"?rev=3"),
			waitText(".banner", "You are looking at revision 3, not the latest (5)."),
		)
		if n := count(t, tab, "#upload-form, form[action$='/files/remove'], form[action$='/vote/start']"); n != 0 {
			t.Fatalf("an old revision offers %d actions", n)
		}
		run(t, tab, "restore revision 3",
			confirmed("form[action$='/revisions/3/restore']"),
			waitText(".notice", "Revision 6 holds the files of revision 3."),
		)
		wantText(t, tab, "#results", "README.txt")
		if strings.Contains(text(t, tab, "#results"), "docs/README.txt") {
			t.Fatal("the restored revision holds the renamed file")
		}
		newNotes := write("NOTES-new.txt", "notes, corrected\n")
		run(t, tab, "replace a file",
			click("summary[aria-label='Replace NOTES.txt']"),
			chromedp.SetUploadFiles(chromedp.CSS("form[action$='/upload']:has(input[name=path][value='NOTES.txt']) input[type=file]"), []string{newNotes}),
			click("form[action$='/upload']:has(input[name=path][value='NOTES.txt']) button"),
			waitText(".notice", "Revision 7 was created"),
			click("a[href$='/revisions/7/view/NOTES.txt']"),
			waitText("#file-text", "notes, corrected"),
		)
		run(t, tab, "a draft started by mistake",
			chromedp.Navigate(s.url+"/projects/widget-core"),
			fill("#version", "0.9.9"),
			click("form[action='/projects/widget-core/releases'] button"),
			waitText("h1", "widget-core 0.9.9"),
			click("details.confirm:has(form[action$='/abandon']) > summary"),
			fill("#abandon-reason", "started by mistake"),
			click("form[action$='/abandon'] button"),
			waitText(".notice", "The draft widget-core 0.9.9 is deleted."),
		)
		if n := count(t, tab, "main a[href$='/releases/0.9.9']"); n != 0 {
			t.Fatal("the abandoned draft is still listed")
		}
	})

	t.Run("a resumable upload is listed on the release page and aborted after the confirmation", func(t *testing.T) {
		admin, err := s.app.Store.UserByUsername(t.Context(), "admin")
		if err != nil {
			t.Fatal(err)
		}
		us, err := s.app.Core.StartUploadSession(t.Context(), &core.Actor{User: admin}, "widget-core", "1.0.0",
			core.NewUploadSession{Path: "dist/widget-core-1.0.0-src.tar.gz", Size: 200 << 20})
		if err != nil {
			t.Fatal(err)
		}
		form := "form[action$='/upload-sessions/" + us.ID + "/abort']"
		run(t, tab, "the release page lists it",
			chromedp.Navigate(s.url+"/projects/widget-core/releases/1.0.0"),
			waitText("#session-"+us.ID, "0 B of 200.0 MiB"),
		)
		run(t, tab, "the confirmation says what is lost, then aborts",
			click("details.confirm:has("+form+") > summary"),
			waitText(form, "The 0 B received of dist/widget-core-1.0.0-src.tar.gz are deleted"),
			click(form+" button[type=submit]"),
			waitText(".notice", "The upload of dist/widget-core-1.0.0-src.tar.gz was aborted"),
		)
		if n := count(t, tab, "#resumable"); n != 0 {
			t.Fatal("the aborted upload is still listed")
		}
	})

	t.Run("delete a key", func(t *testing.T) {
		run(t, tab, "keys page", chromedp.Navigate(s.url+"/keys"), waitText("h1", "Signing keys"))
		run(t, tab, "delete key",
			confirmed("form[action$='/delete']"),
			waitText(".notice", "was deleted"),
		)
		wantText(t, tab, "main", "You have no keys yet")
	})

	t.Run("sign with a key held by trel, approved with the passkey", func(t *testing.T) {
		const pw = "a long signing password"
		run(t, tab, "create a held key",
			chromedp.Navigate(s.url+"/keys"),
			waitText("h1", "Signing keys"),
			fill("#sk-password", pw),
			fill("#sk-password2", pw),
			click("input[name=committee][value=widget]"),
			click("form[action='/signing-keys'] button"),
			waitText(".notice", "held by trel"),
		)
		art := write("widget-core-1.0.0-src.tar.gz", string(archivetest.SourceTarGz(t, "widget-core-1.0.0-src", nil)))
		run(t, tab, "upload an artifact",
			chromedp.Navigate(s.url+"/projects/widget-core/releases/1.0.0"),
			chromedp.WaitVisible(chromedp.CSS("#upload-form")),
			chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{art}),
			click("#upload-form button[type=submit]"),
			waitText(".notice", "was created"),
		)
		run(t, tab, "sign page",
			click("a[href$='/sign']"),
			waitText("h1", "Sign widget-core 1.0.0"),
			chromedp.WaitEnabled(chromedp.CSS("#sign-form button")),
		)
		wantText(t, tab, "#sign-form", "widget-core-1.0.0-src.tar.gz")
		// The kind of signature chosen pre-selects the files that lack it:
		// apache-test-0.2.tar.gz has an .asc but no Sigstore bundle; the
		// notes and the readme need signatures too (no unsigned rule yet).
		checked := func() string {
			t.Helper()
			v, err := chromedp.Run(tab, chromedp.Evaluate[string](`Array.from(document.querySelectorAll('input[name=path]:checked')).map(function(e){return e.value}).join(',')`))
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		if got := checked(); got != "NOTES.txt,README.txt,widget-core-1.0.0-src.tar.gz" {
			t.Fatalf("OpenPGP pre-selects %q", got)
		}
		run(t, tab, "choose Sigstore bundles", click("#kind-sigstore"))
		if got := checked(); got != "NOTES.txt,README.txt,apache-test-0.2.tar.gz,widget-core-1.0.0-src.tar.gz" {
			t.Fatalf("Sigstore pre-selects %q", got)
		}
		run(t, tab, "back to OpenPGP", click("#kind-openpgp"))
		screenshot(t, tab, "sign")
		run(t, tab, "a wrong password signs nothing",
			fill("#password", "not my password"),
			click("#sign-form button"),
			waitText("#passkey-error", "wrong signing password"),
		)
		// The password is checked before the passkey is asked: no approval
		// was spent, and the field says what is wrong.
		if hidden, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.getElementById('sign-transaction').hidden && document.getElementById('password').getAttribute('aria-invalid') === 'true'`)); err != nil || !hidden {
			t.Fatalf("after a wrong password the transaction is shown or the field is not marked (%v)", err)
		}
		run(t, tab, "approve and sign",
			chromedp.SetValue(chromedp.CSS("#password"), pw),
			click("#sign-form button"),
			waitText(".notice", "widget-core-1.0.0-src.tar.gz): revision"),
		)
		// The .asc trel made verifies in gpg (status lines), gpgv and sqv.
		ctx := context.Background()
		admin, err := s.app.Store.UserByUsername(ctx, "admin")
		if err != nil {
			t.Fatal(err)
		}
		act := &core.Actor{User: admin}
		read := func(path string) []byte {
			_, rc, err := s.app.Core.OpenFile(ctx, act, "widget-core", "1.0.0", 0, path)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			b, _ := io.ReadAll(rc)
			return b
		}
		sigPath := write("a.asc", string(read("widget-core-1.0.0-src.tar.gz.asc")))
		// The held key counts for widget (and so is in its KEYS) once its
		// owner participates in the committee: an administrator is not
		// a participant by being an administrator.
		if _, err := s.app.Core.AddMember(ctx, core.SystemActor, "widget", "admin", domain.RoleMember); err != nil {
			t.Fatal(err)
		}
		keys, err := s.app.Core.KEYSFile(ctx, "widget")
		if err != nil {
			t.Fatal(err)
		}
		g := gpgtest.New(t)
		g.Run(t, "", "--import", write("KEYS", string(keys)))
		status := string(g.Run(t, "", "--status-fd", "1", "--verify", sigPath, art))
		if !strings.Contains(status, "[GNUPG:] GOODSIG") || !strings.Contains(status, "[GNUPG:] VALIDSIG") {
			t.Fatalf("gpg status:\n%s", status)
		}
		ring := write("ring.gpg", string(g.Run(t, "", "--export")))
		for _, tool := range [][]string{{"gpgv", "--keyring", ring, sigPath, art}, {"sqv", "--keyring", ring, sigPath, art}} {
			if out, err := exec.Command(tool[0], tool[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v %s", tool[0], err, out)
			}
		}
	})

	t.Run("policy, vote and publish in the browser", func(t *testing.T) {
		run(t, tab, "make admin a committee member",
			chromedp.Navigate(s.url+"/admin"),
			waitText("h1", "Administration"),
			chromedp.SetValue(chromedp.CSS("#m-committee"), "widget"),
			fill("#m-user", "admin"),
			chromedp.SetValue(chromedp.CSS("#m-role"), "member"),
			click("form[action='/admin/members'] button"),
			waitText(".notice", "admin is now a member of widget"),
		)
		run(t, tab, "policy",
			chromedp.Navigate(s.url+"/projects/widget-core"),
			click("a[href$='/policy']"),
			waitText("h1", "Release policy of Widget Core"),
			chromedp.SetValue(chromedp.CSS("#min_vote_hours"), "0"),
			chromedp.SetValue(chromedp.CSS("#min_binding_plus_ones"), "1"),
			chromedp.SetValue(chromedp.CSS("#unsigned"), "CHANGES*.txt=plain-text release notes"),
			click("form[action$='/policy'] button"),
			waitText(".notice", "version 1"),
		)
		wantText(t, tab, "main", "CHANGES*.txt (plain-text release notes)")
		screenshot(t, tab, "policy")
		notes := write("CHANGES.txt", "changes\n")
		artifact := string(archivetest.SourceTarGz(t, "widget-core-2.0.0", []byte(strings.Repeat("widget 2.0.0 ", 3000))))
		art := write("widget-core-2.0.0.tar.gz", artifact)
		d := sha512.Sum512([]byte(artifact))
		sum := write("widget-core-2.0.0.tar.gz.sha512", hex.EncodeToString(d[:])+"  widget-core-2.0.0.tar.gz\n")
		run(t, tab, "a small release, signed with the key trel holds",
			chromedp.Navigate(s.url+"/projects/widget-core"),
			fill("#version", "2.0.0"),
			click("form[action='/projects/widget-core/releases'] button"),
			waitText("h1", "widget-core 2.0.0"),
			chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{notes, art, sum}),
		)
		// The network drops during the upload: the page says nothing
		// changed and keeps the chosen files for another try.
		offline(t, tab, true)
		run(t, tab, "upload while offline",
			click("#upload-form button[type=submit]"),
			waitText("#upload-error", "Nothing changed in the release"),
		)
		if revs, err := s.app.Core.ListRevisions(t.Context(), core.SystemActor, "widget-core", "2.0.0"); err != nil || len(revs) != 0 {
			t.Fatalf("revisions after a failed upload: %v, %v", revs, err)
		}
		offline(t, tab, false)
		run(t, tab, "upload again",
			click("#upload-form button[type=submit]"),
			waitText(".notice", "Revision 1 was created"),
			click("a[href$='/sign']"),
			chromedp.WaitEnabled(chromedp.CSS("#sign-form button")),
			chromedp.SetValue(chromedp.CSS("#password"), "a long signing password"),
			click("#sign-form button"),
			waitText(".notice", "Signed"),
			reloadUntil("main", "Checks are done"),
		)
		run(t, tab, "start, cast, resolve, publish",
			click("form[action$='/vote/start'] button"),
			waitText(".notice", "The vote on revision 2 is open"),
			click("form[action$='/vote/cast'] button"),
			waitText(".notice", "was recorded"),
		)
		wantText(t, tab, "main", "Binding: +1 1")
		screenshot(t, tab, "vote")
		// Cancelled by keyboard only, with a reason: back to draft, the
		// round and its ballot kept; then started again with the own +1.
		run(t, tab, "cancel the vote with the keyboard",
			tabTo("details.confirm:has(form[action$='/vote/cancel']) > summary"), press(kb.Enter),
			tabTo("#cancel-reason"), press("CHANGES.txt names the wrong date"),
			tabTo("form[action$='/vote/cancel'] button[type=submit]"), press(kb.Enter),
			waitText(".notice", "The vote is cancelled"),
		)
		wantText(t, tab, "#vote", "cancelled by admin")
		wantText(t, tab, "#vote", "CHANGES.txt names the wrong date")
		wantText(t, tab, "h1", "draft")
		run(t, tab, "start again with my +1",
			click("#start-vote input[name=plus_one]"),
			fill("#vote-start-comment", "checked again"),
			click("#start-vote button[type=submit]"),
			waitText(".notice", "The vote on revision 2 is open"),
		)
		wantText(t, tab, "#vote", "Binding: +1 1")
		wantText(t, tab, "#vote-history summary", "Earlier votes (1)")
		run(t, tab, "unfold the earlier votes", click("#vote-history summary"))
		wantText(t, tab, "#vote-history", "cancelled by admin")
		wantText(t, tab, "#vote-history", "CHANGES.txt names the wrong date")
		run(t, tab, "resolve and publish",
			click("form[action$='/vote/resolve'] button"),
			waitText(".notice", "The vote passed"),
			// Publishing cannot be undone: the button is behind a confirmation.
			click("details.confirm:has(form[action$='/publish']) > summary"),
			click("form[action$='/publish'] button"),
			waitText(".notice", "Published to /downloads/widget/widget-core/2.0.0/"),
			click("a[href='/downloads/widget/widget-core/2.0.0/']"),
			waitText("body", "trel-release-manifest.json"),
		)
	})

	t.Run("trusted publishers and issuers, at 400 px", func(t *testing.T) {
		run(t, tab, "narrow", chromedp.EmulateViewport(400, 900))
		defer run(t, tab, "reset", chromedp.EmulateReset())
		run(t, tab, "issuers",
			chromedp.Navigate(s.url+"/admin"),
			click("a[href='/admin/issuers']"),
			waitText("h1", "OIDC issuers"),
			fill("#is-url", "http://ci.example.org"),
			click("form[action='/admin/issuers'] button"),
			waitText("#is-url-error", "https"),
		)
		wantFits(t, tab, 400)
		screenshot(t, tab, "issuers")
		run(t, tab, "a publisher refused, then added",
			chromedp.Navigate(s.url+"/projects/widget-core/policy"),
			click("a[href$='/publishers']"),
			waitText("h1", "Trusted publishers of Widget Core"),
			fill("#pub-repository", "widget/core"),
			fill("#pub-workflow", "release.yml@main"),
			click("form[action$='/publishers'] button"),
			waitText("#pub-workflow-error", "without @ref"),
		)
		if v := value(t, tab, "#pub-repository"); v != "widget/core" {
			t.Fatalf("the typed repository was not kept: %q", v)
		}
		wantFits(t, tab, 400)
		screenshot(t, tab, "publishers-refused")
		run(t, tab, "fixed",
			chromedp.SetValue(chromedp.CSS("#pub-workflow"), ".github/workflows/release.yml"),
			click("form[action$='/publishers'] button"),
			waitText(".notice", "Publisher"),
		)
		wantText(t, tab, "main table", "widget/core")
		wantFits(t, tab, 400)
		screenshot(t, tab, "publishers")
		// Removing asks first, and works with the keyboard alone.
		run(t, tab, "remove it with the keyboard",
			tabTo("details.confirm:has(form[action$='/remove']) > summary"), press(kb.Enter),
			waitText("form[action$='/remove']", "credentials its runs hold stop working at once"),
			tabTo("form[action$='/remove'] button[type=submit]"), press(kb.Enter),
			waitText(".notice", "removed"),
		)
	})
	t.Run("after publication", func(t *testing.T) { afterlifeInBrowser(t, s, browser, tab) })

	// Every page a signed-in committee member and administrator uses, at
	// 400 px: nothing but a table's own box scrolls sideways.
	t.Run("every signed-in page at 400 px", func(t *testing.T) {
		for _, p := range []struct{ path, h1, name string }{
			{"/", "Dashboard", "dashboard"},
			{"/keys", "Signing keys", "keys"},
			{"/tokens", "API tokens", "tokens"},
			{"/account", "Your account", "account"},
			{"/notices", "Notifications", "notices"},
			{"/admin", "Administration", "admin"},
			{"/admin/issuers", "OIDC issuers", "issuers"},
			{"/committees/widget", "", "committee"},
			{"/projects/widget-core", "Widget Core", "project"},
			{"/projects/widget-core/policy", "Release policy", "policy"},
			{"/projects/widget-core/identities", "", "identities"},
			{"/projects/widget-core/publishers", "Trusted publishers", "publishers"},
			{"/projects/widget-core/webhooks", "Webhooks", "webhooks"},
			{"/projects/widget-core/releases/1.0.0", "widget-core 1.0.0", "release"},
			{"/projects/widget-core/releases/1.0.0/sign", "", "sign"},
			{"/projects/widget-core/releases/2.0.0", "widget-core 2.0.0", "release-published"},
			{"/projects/widget-core/releases/2.0.0?view=public", "2.0.0", "release-public-member"},
			{"/transparency-log", "Public log", "transparency-log"},
		} {
			run(t, tab, p.path, chromedp.Navigate(s.url+p.path), waitText("h1", p.h1))
			narrowScreenshot(t, tab, "signed-in-"+p.name)
		}
	})

	t.Run("create and revoke a token", func(t *testing.T) {
		run(t, tab, "create token",
			chromedp.Navigate(s.url+"/tokens"),
			fill("#label", "ci"),
			click("form[action='/tokens'] button"),
			waitText("#new-token", "trel_"),
		)
		secret := strings.TrimSpace(text(t, tab, "#new-token"))
		screenshot(t, tab, "tokens")
		if got := apiStatus(t, s, secret); got != http.StatusOK {
			t.Fatalf("the new token gives %d on /api/v1/me, want 200", got)
		}
		run(t, tab, "revoke token",
			chromedp.Navigate(s.url+"/tokens"),
			confirmed("form[action$='/revoke']"),
			waitText(".notice", "revoked"),
		)
		if got := apiStatus(t, s, secret); got != http.StatusUnauthorized {
			t.Fatalf("the revoked token gives %d on /api/v1/me, want 401", got)
		}
	})

	t.Run("the last passkey cannot be removed", func(t *testing.T) {
		run(t, tab, "remove last",
			chromedp.Navigate(s.url+"/account"),
			confirmed("form[action$='/remove']"),
			waitText(".error", "last passkey"),
		)
		// This authenticator already holds a passkey for the account (it is
		// excluded), so the second passkey lives on a new authenticator.
		if _, err := chromedp.Call(tab, cdpwebauthn.RemoveVirtualAuthenticator, cdpwebauthn.RemoveVirtualAuthenticatorParams{AuthenticatorID: authID}); err != nil {
			t.Fatal(err)
		}
		addAuthenticator(t, tab, true)
		run(t, tab, "add a second passkey",
			chromedp.WaitEnabled(chromedp.CSS("#passkey-register button")),
			fill("#name", "security key"),
			click("#passkey-register button"),
			waitText(".notice", "The passkey was added"),
		)
		wantText(t, tab, "main table", "security key")
		screenshot(t, tab, "account")
		run(t, tab, "remove one",
			confirmed("form[action$='/remove']"),
			waitText(".notice", "The passkey was removed"),
		)
	})

	t.Run("enrollment without user verification is refused", func(t *testing.T) {
		bob := enrollmentLink(t, s, "carol")
		tab2, id2 := newTab(t, browser, true)
		bad := true
		if _, err := chromedp.Call(tab2, cdpwebauthn.SetResponseOverrideBits, cdpwebauthn.SetResponseOverrideBitsParams{AuthenticatorID: id2, IsBadUV: &bad}); err != nil {
			t.Fatal(err)
		}
		run(t, tab2, "enroll without UV",
			chromedp.Navigate(bob),
			chromedp.WaitEnabled(chromedp.CSS("#passkey-register button")),
			click("#passkey-register button"),
			waitText("#passkey-error", "refused"),
		)
		// The refused attempt did not use up the link.
		if _, err := chromedp.Call(tab2, cdpwebauthn.SetResponseOverrideBits, cdpwebauthn.SetResponseOverrideBitsParams{AuthenticatorID: id2}); err != nil {
			t.Fatal(err)
		}
		run(t, tab2, "enroll with UV",
			chromedp.Navigate(bob),
			chromedp.WaitEnabled(chromedp.CSS("#passkey-register button")),
			click("#passkey-register button"),
			waitText("h1", "Dashboard"),
		)
		wantText(t, tab2, "main", "widget-core")
		screenshot(t, tab2, "dashboard")

		// A signature counter that goes backwards means a cloned
		// authenticator: the library only flags it, trel refuses.
		run(t, tab2, "sign out", click("header form button"), waitText("h1", "Sign in"))
		if _, err := s.app.Store.SQL().Exec(`UPDATE passkeys SET sign_count = 1000000 WHERE user_id = (SELECT id FROM users WHERE username = 'carol')`); err != nil {
			t.Fatal(err)
		}
		run(t, tab2, "sign in with a cloned passkey",
			chromedp.WaitVisible(chromedp.CSS("#passkey-signin")),
			click("#passkey-signin"),
			waitText("#passkey-error", "cloned authenticator"),
		)
	})

	t.Run("an expired enrollment link is refused", func(t *testing.T) {
		token := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
		h := sha256.Sum256([]byte(token))
		u, err := s.app.Store.UserByUsername(context.Background(), "carol")
		if err != nil {
			t.Fatal(err)
		}
		past := time.Now().Add(-48 * time.Hour)
		e := &store.Enrollment{UserID: u.ID, Hash: h[:], CreatedBy: "test", CreatedAt: past, ExpiresAt: past.Add(24 * time.Hour)}
		if err := s.app.Store.CreateEnrollment(context.Background(), e, domain.AuditEvent{}); err != nil {
			t.Fatal(err)
		}
		run(t, tab, "expired link", chromedp.Navigate(s.url+"/enroll/"+token), waitText("h1", "Enrollment link not usable"))
		wantText(t, tab, ".error", "expired")
	})

	for _, p := range pageProblems.take() {
		t.Errorf("a page reported: %s", p)
	}
	t.Logf("browser tests took %v", time.Since(start).Round(time.Millisecond))
}

// wantFits fails when the page is wider than width (a horizontal scroll).
func wantFits(t *testing.T, tab context.Context, width int) {
	t.Helper()
	w, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if err != nil || w > width {
		t.Fatalf("the page is %d px wide at a %d px viewport (%v)", w, width, err)
	}
}

func apiStatus(t *testing.T, s *testServer, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
