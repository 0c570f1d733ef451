package domain

import (
	"strings"
	"testing"
)

func TestValidateVersion(t *testing.T) {
	for _, v := range []string{"1.0", "1.2.3-rc1", "2.0.0+build.5", "v10", "1", "A1"} {
		if err := ValidateVersion(v); err != nil {
			t.Errorf("ok/%s refused: %v", v, err)
		}
	}
	for _, v := range []string{"", ".1", "1.", "-1", "1-", "1..0", "1.-0", "1+-0", "1 0", "1/0", "1_0", "ü1", strings.Repeat("1", 65)} {
		if err := ValidateVersion(v); !IsKind(err, KindInvalid) {
			t.Errorf("fail/%q accepted", v)
		}
	}
}

func TestValidatePath(t *testing.T) {
	for _, p := range []string{"a.tar.gz", "dist/a.tar.gz.asc", "a/b/c/d", "ünïcode.txt", "a..b"} {
		if err := ValidatePath(p); err != nil {
			t.Errorf("ok/%s refused: %v", p, err)
		}
	}
	cases := []struct{ path, why string }{
		{"", "empty"},
		{"../x", `".."`},
		{"a/../x", `".."`},
		{"./x", `"."`},
		{"/etc/passwd", "absolute"},
		{`a\b`, "backslash"},
		{"a\x00b", "control"},
		{"a\nb", "control"},
		{"a//b", "empty path segments"},
		{"a/", "empty path segments"},
		{".hidden", "dotfiles"},
		{"a/.git/config", "dotfiles"},
		{"\xff\xfe", "UTF-8"},
		{strings.Repeat("a/", 20) + "x", "nested"},
		{strings.Repeat("a", 256), "segment"},
	}
	for _, c := range cases {
		err := ValidatePath(c.path)
		if !IsKind(err, KindInvalid) || !strings.Contains(PublicMessage(err), c.why) {
			t.Errorf("fail/%q: want an error mentioning %q, got %v", c.path, c.why, err)
		}
		if strings.ContainsAny(PublicMessage(err), "\x00\n") {
			t.Errorf("fail/%q: the message echoes control characters", c.path)
		}
	}
}

func TestValidateKeyAndNames(t *testing.T) {
	for _, k := range []string{"tomcat", "commons-io", "a1"} {
		if err := ValidateKey("project", k); err != nil {
			t.Errorf("ok/%s refused: %v", k, err)
		}
	}
	for _, k := range []string{"", "a", "Tomcat", "1abc", "a--b", "-a", "a-", "a_b", strings.Repeat("a", 65)} {
		if err := ValidateKey("project", k); err == nil {
			t.Errorf("fail/%q accepted", k)
		}
	}
	if _, err := ValidateEmail("Alice <a@example.org>"); err == nil {
		t.Error("fail/an address with a display name was accepted")
	}
	if e, err := ValidateEmail("Alice@Example.org"); err != nil || e != "alice@example.org" {
		t.Errorf("ok/mixed case: %q %v", e, err)
	}
	if err := ValidateUsername("alice"); err != nil {
		t.Error(err)
	}
	for _, u := range []string{"", "Alice", "1a", "a b", "a/b"} {
		if err := ValidateUsername(u); err == nil {
			t.Errorf("fail/username %q accepted", u)
		}
	}
}

// TestSourceRepoCarriesNoCredentials: a source repository URL with a
// password or token (https://user:token@host/...) is refused, since the
// policy is shown to every participant and git repeats URLs in its
// errors; an ssh user name alone is fine.
func TestSourceRepoCarriesNoCredentials(t *testing.T) {
	for repo, ok := range map[string]bool{
		"https://git.example.org/alpha.git":                 true,
		"ssh://git@git.example.org/alpha.git":               true,
		"https://x-access-token:ghp_abc@github.com/o/r.git": false,
		"https://ghp_abc@github.com/o/r.git":                false,
		"ssh://git:secret@git.example.org/alpha.git":        false,
	} {
		a := DefaultArchivePolicy()
		a.SourceRepo, a.SourceTag = repo, "v{version}"
		err := a.Validate()
		if (err == nil) != ok {
			t.Errorf("%s: %v", SafeText(repo), err)
		}
		if err != nil && (strings.Contains(PublicMessage(err), "ghp_abc") || strings.Contains(PublicMessage(err), "secret") || !strings.Contains(PublicMessage(err), "credentials")) {
			t.Errorf("%s: the refusal repeats the secret or does not say why: %v", SafeText(repo), err)
		}
	}
}
