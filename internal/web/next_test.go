package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"trel/internal/auth"
	"trel/internal/blob"
	"trel/internal/core"
	"trel/internal/store/sqlstore"
)

func TestSignInReturnsOnlyToPagesOfThisSite(t *testing.T) {
	tests := []struct {
		name, cookie, want string
	}{
		{"no cookie", "", "/"},
		{"a page of this site", "/projects/widget/releases/1.0?rev=2", "/projects/widget/releases/1.0?rev=2"},
		{"another site", "https://evil.example/", "/"},
		{"protocol-relative URL", "//evil.example/", "/"},
		{"backslash trick", "/\\evil.example", "/"},
		{"relative path", "tokens", "/"},
	}
	dir := t.TempDir()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(dir, "trel.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	blobs, err := blob.NewDisk(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(core.New(st, blobs, core.Options{}), st, auth.Config{PublicURL: "http://localhost:8080"})
	if err != nil {
		t.Fatal(err)
	}
	w := &Web{auth: a}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/login/finish", nil)
			if tt.cookie != "" {
				r.AddCookie(&http.Cookie{Name: nextCookie, Value: url.QueryEscape(tt.cookie)})
			}
			if got := w.takeNext(httptest.NewRecorder(), r); got != tt.want {
				t.Errorf("takeNext = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLogPathHidesEnrollmentTokens(t *testing.T) {
	tests := map[string]string{
		"/enroll/abcDEF123_-":       "/enroll/REDACTED",
		"/enroll/abcDEF123_-/begin": "/enroll/REDACTED/begin",
		"/projects/widget":          "/projects/widget",
		"/enroll/":                  "/enroll/",
	}
	for in, want := range tests {
		if got := LogPath(in); got != want {
			t.Errorf("LogPath(%q) = %q, want %q", in, got, want)
		}
	}
}
