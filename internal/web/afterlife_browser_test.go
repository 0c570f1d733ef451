package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// afterlifeInBrowser runs after TestBrowser published widget-core 2.0.0
// (tab is the signed-in administrator, a member of widget): the bell and
// notifications, yank and un-yank, archive, an embargoed release, the
// webhooks page and the mail preview, each as the release manager and as
// an anonymous visitor (a browser context without cookies).
func afterlifeInBrowser(t *testing.T, s *testServer, browser, tab context.Context) {
	anon, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext(), chromedp.WithListener(pageProblems.listen))
	defer cancel()
	// Open the tab without a deadline: a deadline on its first action
	// would close it when that action ends.
	if err := chromedp.Do(anon); err != nil {
		t.Fatalf("opening an anonymous tab: %v", err)
	}
	rel := s.url + "/projects/widget-core/releases/2.0.0"

	t.Run("the bell counts unread notifications", func(t *testing.T) {
		// The administrator signed with a key trel holds: they were told.
		step(t, tab, "bell", chromedp.Navigate(s.url+"/"), waitText("header .bell", ""))
		label := attr(t, tab, "header .bell", "aria-label")
		if !strings.HasPrefix(label, "Notifications: ") || strings.HasPrefix(label, "Notifications: 0") {
			t.Fatalf("bell label %q", label)
		}
		step(t, tab, "notifications page", click("header .bell"), waitText("h1", "Notifications"))
		wantText(t, tab, "ul.notices", "held by trel signed")
		screenshot(t, tab, "notices")
		step(t, tab, "mark all read", click("form[action='/notices/dismiss-all'] button"), waitText(".notice", "marked read"))
		if label := attr(t, tab, "header .bell", "aria-label"); label != "Notifications: 0 unread" {
			t.Fatalf("bell after marking all read: %q", label)
		}
		wantText(t, tab, "ul.notices", "held by trel signed") // still listed, as read
	})

	t.Run("yank asks for a reason and a confirmation, and shows everywhere", func(t *testing.T) {
		step(t, tab, "open the yank page",
			chromedp.Navigate(rel),
			waitText("#after", "After publication"),
			click("a[href$='/yank']"),
			waitText("h1", "Yank widget-core 2.0.0"),
		)
		step(t, tab, "without the box ticked",
			fill("#reason", "the tarball misses a file"),
			click("form button.danger"),
			waitText("#yank-confirm-error", "confirm first that you want to yank the release"),
		)
		if v := value(t, tab, "#reason"); v != "the tarball misses a file" {
			t.Fatalf("the typed reason was lost: %q", v)
		}
		clearField(t, tab, "#reason")
		step(t, tab, "without a reason",
			click("input[name=confirm]"),
			click("form button.danger"),
			waitText("#yank-reason-error", "give a reason"),
		)
		screenshot(t, tab, "yank-error")
		step(t, tab, "yank",
			fill("#reason", "CVE-2026-4242: the tarball misses a file"),
			click("form button.danger"),
			waitText(".notice", "The release is yanked"),
		)
		wantText(t, tab, ".banner.yanked", "CVE-2026-4242: the tarball misses a file")
		wantText(t, tab, "h1", "yanked")
		screenshot(t, tab, "release-yanked")
		step(t, anon, "anonymous: the project page", chromedp.Navigate(s.url+"/projects/widget-core"), waitText("h1", "Widget Core"))
		wantText(t, anon, "main table", "yanked: CVE-2026-4242: the tarball misses a file")
		step(t, anon, "anonymous: the release page", chromedp.Navigate(rel), waitText(".banner.yanked", "CVE-2026-4242"))
		if n := count(t, anon, "a[href$='/yank'], form[action$='/unyank'], a[href$='/archive']"); n != 0 {
			t.Fatalf("an anonymous visitor sees %d release-manager actions", n)
		}
		wantText(t, anon, "main", "files at /downloads/widget/widget-core/2.0.0/")
		step(t, tab, "un-yank",
			chromedp.Navigate(rel),
			click("form[action$='/unyank'] input[name=confirm]"),
			click("form[action$='/unyank'] button"),
			waitText(".notice", "The yank is lifted"),
		)
		if n := count(t, tab, ".banner.yanked"); n != 0 {
			t.Fatal("still marked yanked")
		}
	})

	t.Run("archive moves the files and the page says where", func(t *testing.T) {
		step(t, tab, "archive",
			chromedp.Navigate(rel),
			click("a[href$='/archive']"),
			waitText("h1", "Archive widget-core 2.0.0"),
			click("input[name=confirm]"),
			click("form button.danger"),
			waitText(".notice", "/archive/widget/widget-core/2.0.0/"),
		)
		wantText(t, tab, ".banner.archived", "/archive/widget/widget-core/2.0.0/")
		step(t, anon, "anonymous: the archived files",
			chromedp.Navigate(rel),
			waitText(".banner.archived", "/archive/widget/widget-core/2.0.0/"),
		)
		// (The listing itself is a sandboxed document: fetched, not opened.)
		if href := attr(t, anon, ".banner.archived a", "href"); href != "/archive/widget/widget-core/2.0.0/" {
			t.Fatalf("the banner links to %q", href)
		}
		if code := apiGet(t, s.url+"/archive/widget/widget-core/2.0.0/trel-release-manifest.json"); code != 200 {
			t.Fatalf("the archived manifest: %d", code)
		}
		if s := apiGet(t, s.url+"/downloads/widget/widget-core/2.0.0/"); s != 404 {
			t.Fatalf("the downloads tree still has the release: %d", s)
		}
	})

	t.Run("a published release gets a new release manager", func(t *testing.T) {
		// Yank and archive are release-manager actions: when the release's
		// managers leave, a committee member adds another.
		step(t, tab, "add carol",
			chromedp.Navigate(rel),
			fill("#rm-user", "carol"),
			click("form[action$='/managers'] button"),
			waitText(".notice", "carol is now a release manager"),
		)
		wantText(t, tab, "#managers + p", "carol")
		if n := count(t, anon, "form[action$='/managers']"); n != 0 {
			t.Fatalf("an anonymous visitor sees %d release-manager forms", n)
		}
	})

	t.Run("an embargoed release is seen by the committee only", func(t *testing.T) {
		step(t, tab, "start embargoed",
			chromedp.Navigate(s.url+"/projects/widget-core"),
			fill("#version", "3.0.0"),
			click("input[name=embargoed]"),
			click("form[action='/projects/widget-core/releases'] button"),
			waitText("h1", "widget-core 3.0.0"),
		)
		wantText(t, tab, ".banner.embargoed", "Embargoed security release")
		wantText(t, tab, "h1", "embargoed")
		screenshot(t, tab, "release-embargoed")
		step(t, anon, "anonymous: the project page", chromedp.Navigate(s.url+"/projects/widget-core"), waitText("h1", "Widget Core"))
		if strings.Contains(text(t, anon, "main"), "3.0.0") {
			t.Fatal("an anonymous visitor sees the embargoed release listed")
		}
		step(t, anon, "anonymous: the release page", chromedp.Navigate(s.url+"/projects/widget-core/releases/3.0.0"), waitText("h1", "Sign in"))
	})

	t.Run("webhooks: errors next to the field, values kept", func(t *testing.T) {
		step(t, tab, "webhooks page",
			chromedp.Navigate(s.url+"/projects/widget-core"),
			click("a[href$='/webhooks']"),
			waitText("h1", "Webhooks of Widget Core"),
			fill("#wh-url", "http://127.0.0.1:9/hook"),
			click("input[name=event][value='release.published']"),
			click("form[action$='/webhooks'] button"),
			waitText("#wh-url-error", "private or local address"),
		)
		if v := value(t, tab, "#wh-url"); v != "http://127.0.0.1:9/hook" {
			t.Fatalf("the typed URL was lost: %q", v)
		}
		if n := count(t, tab, "input[name=event][value='release.published']:checked"); n != 1 {
			t.Fatal("the ticked event was lost")
		}
		screenshot(t, tab, "webhooks")
		step(t, tab, "a public URL",
			chromedp.SetValue(chromedp.CSS("#wh-url"), "https://ci.example.org/hooks/trel"),
			click("form[action$='/webhooks'] button"),
			waitText("#webhook-secret", "whsec_"),
		)
		wantText(t, tab, "main table", "https://ci.example.org/hooks/trel")
		step(t, tab, "remove it with the keyboard, after the confirmation",
			tabTo("details.confirm:has(form[action$='/remove']) > summary"), press(kb.Enter),
			waitText("form[action$='/remove']", "gets no more events"),
			tabTo("form[action$='/remove'] button[type=submit]"), press(kb.Enter),
			waitText(".notice", "removed"),
		)
		if n := count(t, tab, "details.confirm:has(form[action$='/remove'])"); n != 0 {
			t.Fatalf("%d webhooks left", n)
		}
	})

	t.Run("mail preview says mail is off", func(t *testing.T) {
		step(t, tab, "preview", chromedp.Navigate(rel+"/mail/announce"), waitText("h1", "The [announce] mail"))
		wantText(t, tab, "main", "mail is off on this server")
		wantText(t, tab, ".mail-body", "widget-core-2.0.0.tar.gz")
		screenshot(t, tab, "mail-preview")
		step(t, tab, "the project page says so too", chromedp.Navigate(s.url+"/projects/widget-core"), waitText("main", "mail is off on this server"))
	})

	t.Run("usable at 400 px", func(t *testing.T) {
		if _, err := chromedp.Call(tab, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 400, Height: 800, DeviceScaleFactor: 1, Mobile: true}); err != nil {
			t.Fatal(err)
		}
		defer chromedp.Call(tab, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
		for _, page := range []string{rel + "/yank", rel + "/archive", s.url + "/projects/widget-core/webhooks", s.url + "/notices", rel + "/mail/vote"} {
			step(t, tab, "narrow "+page, chromedp.Navigate(page), waitText("h1", ""))
			w, err := chromedp.Run(tab, chromedp.Evaluate[float64](`document.documentElement.scrollWidth`))
			if err != nil || w > 400 {
				t.Errorf("%s is %v px wide at 400 px (%v)", page, w, err)
			}
		}
		// On the release page, the blocks this issue added fit (its older
		// tables are the UX work's).
		step(t, tab, "the release page", chromedp.Navigate(rel), waitText("h1", "widget-core"))
		right, err := chromedp.Run(tab, chromedp.Evaluate[float64](`Math.max(0, ...Array.from(document.querySelectorAll('.banner, #after ~ .grid, #mail, #mail ~ p, #mail ~ .scroll')).map(function(e){return e.getBoundingClientRect().right}))`))
		if err != nil || right > 400 {
			t.Errorf("the release page's mail and archive blocks reach %v px at 400 px (%v)", right, err)
		}
		screenshot(t, tab, "release-narrow")
	})
}

// step is run with a bounded page-text dump when it fails (a page that
// is gone must not hang the test).
func step(t *testing.T, tab context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		dump, cancel2 := context.WithTimeout(tab, 3*time.Second)
		defer cancel2()
		body, _ := chromedp.Run(dump, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Fatalf("%s: %v\npage text:\n%s", what, err, body)
	}
}

// clearField empties an input (SetValue refuses the empty string).
func clearField(t *testing.T, tab context.Context, sel string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(function(){document.querySelector(`+jsString(sel)+`).value="";return true})()`)); err != nil {
		t.Fatal(err)
	}
}

func apiGet(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func attr(t *testing.T, tab context.Context, sel, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function(){const e=document.querySelector(`+jsString(sel)+`);return e ? (e.getAttribute(`+jsString(name)+`)||"") : ""})()`))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func value(t *testing.T, tab context.Context, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector(`+jsString(sel)+`).value`))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func count(t *testing.T, tab context.Context, sel string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 5*time.Second)
	defer cancel()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(sel)+`).length`))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
