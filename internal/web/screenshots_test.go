package web_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

// docScreenshots are the pages the README shows, from docs/screenshots/.
// TestBrowser takes each of them and, with TREL_UPDATE_SCREENSHOTS=1,
// writes them there:
//
//	TREL_UPDATE_SCREENSHOTS=1 go test ./internal/web -run TestBrowser
var docScreenshots = []string{"dashboard", "release", "release-public", "release-public-400", "transparency-log-400", "policy", "publishers"}

// TestREADMEShowsTheDocScreenshots: the README shows exactly the
// screenshots the browser tests keep, and each file is there.
func TestREADMEShowsTheDocScreenshots(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var shown []string
	for _, m := range regexp.MustCompile(`docs/screenshots/([a-z0-9-]+)\.jpg`).FindAllStringSubmatch(string(readme), -1) {
		if !slices.Contains(shown, m[1]) {
			shown = append(shown, m[1])
		}
	}
	slices.Sort(shown)
	want := slices.Sorted(slices.Values(docScreenshots))
	if !slices.Equal(shown, want) {
		t.Fatalf("the README shows %v; the browser tests keep %v", shown, want)
	}
	for _, name := range docScreenshots {
		st, err := os.Stat(filepath.Join("..", "..", "docs", "screenshots", name+".jpg"))
		if err != nil || st.Size() < 10<<10 {
			t.Errorf("docs/screenshots/%s.jpg: %v (run TREL_UPDATE_SCREENSHOTS=1 go test ./internal/web -run TestBrowser)", name, err)
		}
	}
}

// browserTestsRun counts the browser tests that ran (TestBrowser and
// TestBrowserDownloader).
var browserTestsRun int

// TestMain checks, after a run of both browser tests, that they still
// reach every page the README shows.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && browserTestsRun == 2 {
		for _, name := range docScreenshots {
			if !taken[name] {
				fmt.Printf("FAIL: the README shows docs/screenshots/%s.jpg, but no browser test takes that screenshot any more\n", name)
				code = 1
			}
		}
	}
	os.Exit(code)
}
