package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Helpers for keyboard-only flows and narrow screens.

// tabTo presses Tab (at most 80 times) until the focused element matches
// sel: what a keyboard user does to reach it. It fails when the element
// cannot be reached that way.
func tabTo(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tt *chromedp.Target) error {
		for range 80 {
			ok, err := chromedp.Evaluate[bool](`(function(){const a=document.activeElement;return !!a && a.matches(`+jsString(sel)+`)})()`)(ctx, tt)
			if err != nil {
				return err
			}
			if ok {
				return nil
			}
			if _, err := chromedp.KeyEvent(kb.Tab)(ctx, tt); err != nil {
				return err
			}
		}
		active, _ := chromedp.Evaluate[string](`document.activeElement ? document.activeElement.outerHTML.slice(0, 200) : ""`)(ctx, tt)
		return fmt.Errorf("80 presses of Tab never reached %s (focus is on %s)", sel, active)
	})
}

// press sends one key (kb.Enter, " ", ...) to the focused element.
func press(key string) chromedp.Action[chromedp.Void] { return chromedp.KeyEvent(key) }

// focusedLabel is the accessible text of the focused element: its
// aria-label, its label's text or its own text.
func focusedLabel(t *testing.T, tab context.Context) string {
	t.Helper()
	s, err := chromedp.Run(tab, chromedp.Evaluate[string](`(function(){const a=document.activeElement;if(!a)return "";
		if(a.getAttribute('aria-label'))return a.getAttribute('aria-label');
		if(a.labels&&a.labels.length)return a.labels[0].innerText;return a.innerText||a.value||""})()`))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(s)
}

// atWidth shows the page at width CSS pixels.
func atWidth(t *testing.T, tab context.Context, width int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 900)); err != nil {
		t.Fatal(err)
	}
}

// narrowScreenshot checks that the page fits 400 px (nothing but a table's
// own box may scroll sideways), then saves a screenshot NAME-400.png.
func narrowScreenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	atWidth(t, tab, 400)
	defer atWidth(t, tab, 1280)
	wide, err := chromedp.Run(tab, chromedp.Evaluate[string](`(function(){
		const w = document.documentElement.clientWidth;
		if (document.documentElement.scrollWidth <= w) return "";
		const out = [];
		document.querySelectorAll('body *').forEach(function(e){
			const r = e.getBoundingClientRect();
			const placed = getComputedStyle(e).position == 'absolute' || getComputedStyle(e).position == 'fixed';
			if (r.right > w + 1 && (placed || (!e.closest('.scroll') && !e.closest('pre')))) out.push(e.tagName + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : '') + ' ' + Math.round(r.right));
		});
		if (out.length == 0) { // then some text runs out of its box: name the box
			document.querySelectorAll('body *').forEach(function(e){
				if (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX == 'visible' && !e.closest('.scroll') && !e.closest('pre'))
					out.push('(text out of) ' + e.tagName + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : '') + ' ' + e.scrollWidth);
			});
		}
		return 'page is ' + document.documentElement.scrollWidth + ' px wide: ' + out.slice(0, 8).join(', ');
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if wide != "" {
		t.Errorf("%s at 400 px: %s", name, wide)
	}
	screenshot(t, tab, name+"-400")
}

// confirmed opens the confirmation of the form matching form and clicks
// its button: what a user does for a destructive action.
func confirmed(form string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tt *chromedp.Target) error {
		if _, err := click("details.confirm:has("+form+") > summary")(ctx, tt); err != nil {
			return err
		}
		_, err := click(form+" button[type=submit]")(ctx, tt)
		return err
	})
}
