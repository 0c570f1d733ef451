package rules

import (
	"strings"
	"testing"
)

func TestIgnoreListFollowsGitignore(t *testing.T) {
	list, errs := ParseIgnore(strings.Join([]string{
		"# generated sources",
		"*.min.js",
		"/docs/",
		"target/",
		"src/**/gen/*.java",
		"!src/main/gen/Keep.java",
		"\\#weird",
		"third_party/**",
		"data?.csv",
		"[abc].txt",
		"",
	}, "\n"))
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	for path, want := range map[string]bool{
		"web/app.min.js":          true, // unanchored: any directory
		"app.min.js":              true,
		"web/app.js":              false,
		"docs/index.html":         true,  // anchored directory
		"sub/docs/index.html":     false, // anchored at the root only
		"docs":                    false, // dir-only pattern, a file named docs
		"a/target/x.class":        true,  // unanchored directory at any depth
		"src/main/gen/A.java":     true,  // ** crosses directories
		"src/gen/A.java":          true,  // ** may be empty
		"src/main/gen/Keep.java":  false, // re-included
		"src/main/gen/sub/A.java": false, // * stays in one component
		"#weird":                  true,
		"third_party/x/y/z.c":     true,
		"data1.csv":               true,
		"data10.csv":              false,
		"b.txt":                   true,
		"d.txt":                   false,
	} {
		if got, by := list.Match(path); got != want {
			t.Errorf("%s: ignored=%v (by %q), want %v", path, got, by, want)
		}
	}
}

func TestIgnoreListReportsBadLines(t *testing.T) {
	_, errs := ParseIgnore("ok.txt\n[unclosed\n/\n" + strings.Repeat("x", MaxIgnoreLine+1))
	if len(errs) != 3 || !strings.Contains(errs[0].Error(), "line 2") || !strings.Contains(errs[1].Error(), "line 3") {
		t.Fatalf("%v", errs)
	}
}

func FuzzParseIgnore(f *testing.F) {
	f.Add("*.java\n!Keep.java\n/docs/\nsrc/**/gen/\n[a-c]?.txt\n\\#x\n", "src/a/gen/A.java")
	f.Fuzz(func(t *testing.T, text, path string) {
		list, _ := ParseIgnore(text)
		if list.Len() > MaxIgnorePatterns {
			t.Fatalf("%d patterns", list.Len())
		}
		list.Match(path)
		list.Match("a/b/c.txt")
	})
}
