package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestBrowserDownloader is a visitor who is not signed in: from the start
// page to a published release, its files, signers, vote and the commands
// to verify it, the public log and back from the downloads listing; a
// candidate's page; every page at 400 px; and the way there by keyboard.
func TestBrowserDownloader(t *testing.T) {
	browserTestsRun++
	s := startServer(t)
	sd := seedReleases(t, s)
	browser := newBrowser(t)
	tab, _ := newTab(t, browser, true)

	t.Run("start page lists published releases and candidates", func(t *testing.T) {
		run(t, tab, "home", chromedp.Navigate(s.url+"/"), waitText("h1", "Releases"))
		wantText(t, tab, "#published + .scroll", "pub-lib")
		wantText(t, tab, "#published + .scroll", "published")
		wantText(t, tab, "#votes + p + .scroll", "vote open")
		narrowScreenshot(t, tab, "home")
	})

	t.Run("the release page, reached by keyboard", func(t *testing.T) {
		run(t, tab, "keyboard to the release",
			chromedp.Navigate(s.url+"/"), waitText("h1", "Releases"),
			tabTo(`#published + .scroll a[href="/projects/pub-lib/releases/1.0"]`), press(kb.Enter),
			waitText("h1", "Pub Library 1.0"),
		)
		main := text(t, tab, "main")
		for _, want := range []string{
			"published", "pub-lib-1.0.tar.gz", sd.sha512, // the full SHA-512
			"OpenPGP signature pub-lib-1.0.tar.gz.asc by rita", sd.key.Fingerprint, "the signer's own key",
			"Passed", "Binding votes: +1 1", "policy version 1",
			"trel verify pub-lib-1.0.tar.gz --keys KEYS", "gpg --verify pub-lib-1.0.tar.gz.asc pub-lib-1.0.tar.gz",
			"sha512sum -c pub-lib-1.0.tar.gz.sha512", "/downloads/pub/KEYS", "release manifest",
		} {
			if !strings.Contains(main, want) {
				t.Errorf("the release page lacks %q:\n%s", want, main)
			}
		}
		if strings.Contains(main, "Upload") || strings.Contains(main, "Start the vote") {
			t.Errorf("a visitor sees release managers' controls:\n%s", main)
		}
		// The copy button of the first digest copies it (its label says so).
		run(t, tab, "copy the digest", tabTo(`button.copy[data-copy="sha-0"]`), press(kb.Enter), waitText(`button.copy[data-copy="sha-0"]`, "Copied"))
		narrowScreenshot(t, tab, "release-public")
		screenshot(t, tab, "release-public")
	})

	t.Run("the commands of the verify block download what they verify", func(t *testing.T) {
		fetch := text(t, tab, "#cmd-fetch")
		for _, line := range strings.Split(fetch, "\n") {
			f := strings.Fields(line)
			u := strings.Trim(f[len(f)-1], "'")
			resp, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("%s: %d", u, resp.StatusCode)
			}
		}
	})

	t.Run("the manifest's public-log entry is proven", func(t *testing.T) {
		run(t, tab, "log entry", click(`a[href^="/transparency-log/"]`), waitText("h1", "Public log entry"))
		wantText(t, tab, "main", "a published release manifest")
		wantText(t, tab, "main", "proven")
		run(t, tab, "the whole log", click(`main a[href="/transparency-log"]`), waitText("h1", "Public log"))
		wantText(t, tab, "main table", "release manifest")
		narrowScreenshot(t, tab, "transparency-log")
		run(t, tab, "search by key",
			fill("#log-key", sd.key.Fingerprint), press(kb.Enter),
			waitText("main", "The log holds no signature by this key"))
		run(t, tab, "search by something else",
			chromedp.Navigate(s.url+"/transparency-log"), waitText("h1", "Public log"), fill("#log-key", "not a key"), press(kb.Enter),
			waitText("#log-key-error", "40 or 64 hexadecimal digits"))
	})

	t.Run("the downloads listing links back", func(t *testing.T) {
		run(t, tab, "listing", chromedp.Navigate(s.url+"/downloads/pub/pub-lib/1.0/"), waitText("body", "trel-release-manifest.json"))
		run(t, tab, "back to the page", click(`a[href="/projects/pub-lib/releases/1.0"]`), waitText("h1", "Pub Library 1.0"))
	})

	t.Run("a candidate's page says it is under vote", func(t *testing.T) {
		run(t, tab, "candidate", chromedp.Navigate(s.url+"/projects/pub-lib/releases/2.0"), waitText("h1", "Pub Library 2.0"))
		wantText(t, tab, ".banner", "A release candidate under vote")
		wantText(t, tab, "#vote + p", "needs 1 more binding +1")
		// Its files come from the voted revision, for everyone.
		run(t, tab, "download", chromedp.Navigate(s.url+"/projects/pub-lib/releases/2.0/files/pub-lib-2.0.tar.gz.sha512"), waitText("body", "pub-lib-2.0.tar.gz"))
	})

	t.Run("committee and project pages list published releases", func(t *testing.T) {
		run(t, tab, "committee", chromedp.Navigate(s.url+"/committees/pub"), waitText("h1", "Publishing Committee"))
		wantText(t, tab, "#releases + .scroll", "1.0")
		narrowScreenshot(t, tab, "committee-public")
		run(t, tab, "project", chromedp.Navigate(s.url+"/projects/pub-lib"), waitText("h1", "Pub Library"))
		wantText(t, tab, "#published + .scroll", "1.0")
		wantText(t, tab, "#votes + .scroll", "2.0")
	})

	t.Run("a draft is not public", func(t *testing.T) {
		if _, err := s.app.Core.StartRelease(t.Context(), sd.rita, "pub-lib", "3.0"); err != nil {
			t.Fatal(err)
		}
		run(t, tab, "draft", chromedp.Navigate(s.url+"/projects/pub-lib/releases/3.0"), waitText("h1", "Sign in"))
		uploadFiles(t, s, sd.rita, "pub-lib", "3.0", map[string]string{"x.txt": "draft content"})
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noFollow.Get(s.url + "/projects/pub-lib/releases/3.0/files/x.txt")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Errorf("a draft's file to a visitor: %d %s, want 303 to /login", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("every public page at 400 px", func(t *testing.T) {
		for _, p := range []struct{ path, h1, name string }{
			{"/login", "Sign in", "login"},
			{"/projects/pub-lib", "Pub Library", "project"},
			{"/projects/pub-lib/policy", "Release policy", "policy"},
			{"/projects/pub-lib/identities", "", "identities"},
			{"/projects/pub-lib/publishers", "Trusted publishers", "publishers"},
			{"/projects/pub-lib/releases/2.0", "Pub Library 2.0", "candidate"},
			{"/transparency-log/0", "Public log entry 0", "log-entry"},
		} {
			run(t, tab, p.path, chromedp.Navigate(s.url+p.path), waitText("h1", p.h1))
			narrowScreenshot(t, tab, "public-"+p.name)
		}
	})

	for _, p := range pageProblems.take() {
		t.Errorf("a page reported: %s", p)
	}
}
