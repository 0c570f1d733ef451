package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"trel/internal/api"
	"trel/internal/blob"
	"trel/internal/core"
	"trel/internal/store/sqlstore"
)

func newServer(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "trel.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, _ := blob.NewDisk(filepath.Join(dir, "blobs"))
	svc := core.New(st, blobs, core.Options{MaxFileSize: 1024})
	if _, err := svc.Bootstrap(ctx, "admin", "admin@example.org"); err != nil {
		t.Fatal(err)
	}
	secret, _, err := svc.CreateToken(ctx, core.SystemActor, "admin", "t", core.DefaultTokenTTL)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(svc, slog.New(slog.NewTextHandler(io.Discard, nil)), nil))
	t.Cleanup(srv.Close)
	return srv, secret
}

func do(t testing.TB, srv *httptest.Server, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestOpenAPIMatchesRoutes proves the served document and the router agree:
// every documented operation reaches a handler (never the router's "no
// such endpoint" answer), every $ref resolves, and the document is 3.1.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	srv, token := newServer(t)
	resp, err := http.Get(srv.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || len(doc.Paths) < 15 {
		t.Fatalf("openapi %q with %d paths", doc.OpenAPI, len(doc.Paths))
	}
	for _, m := range regexp.MustCompile(`"#/components/schemas/([A-Za-z]+)"`).FindAllStringSubmatch(string(raw), -1) {
		if _, ok := doc.Components.Schemas[m[1]]; !ok {
			t.Errorf("unresolved $ref %s", m[1])
		}
	}
	ops := 0
	for path, item := range doc.Paths {
		for method := range item {
			ops++
			url := regexp.MustCompile(`\{[a-z]+\}`).ReplaceAllString(path, "zz")
			code, body := do(t, srv, token, strings.ToUpper(method), url, "{}")
			errObj, _ := body["error"].(map[string]any)
			msg, _ := errObj["message"].(string)
			if code == http.StatusMethodNotAllowed || strings.HasPrefix(msg, "no API endpoint") {
				t.Errorf("%s %s is documented but not routed (%d %q)", method, path, code, msg)
			}
		}
	}
	if ops < 20 {
		t.Fatalf("only %d operations documented", ops)
	}
	// And an undocumented path is refused in the API's error shape.
	code, body := do(t, srv, token, "GET", "/api/v1/nothing-here", "")
	if code != 404 || body["error"].(map[string]any)["code"] != "not_found" {
		t.Fatalf("undocumented path: %d %v", code, body)
	}
}

func TestErrorsHaveOneShape(t *testing.T) {
	srv, token := newServer(t)
	cases := []struct {
		name, token, method, path, body string
		status                          int
		code, contains                  string
	}{
		{"fail/no token on a write", "", "POST", "/api/v1/committees", `{"key":"ab","name":"x"}`, 401, "unauthenticated", "sign in"},
		{"fail/a wrong token", "trel_" + strings.Repeat("A", 43), "GET", "/api/v1/committees", "", 401, "unauthenticated", "invalid, expired or revoked"},
		{"fail/not a bearer header", "x", "GET", "/api/v1/me", "", 401, "unauthenticated", "Authorization: Bearer"},
		{"fail/malformed JSON", token, "POST", "/api/v1/committees", `{"key":`, 400, "invalid", "not valid JSON"},
		{"fail/unknown JSON field", token, "POST", "/api/v1/committees", `{"key":"ab","name":"x","colour":"red"}`, 400, "invalid", "unknown field"},
		{"fail/invalid key", token, "POST", "/api/v1/committees", `{"key":"A B","name":"x"}`, 400, "invalid", "lower-case"},
		{"fail/unknown project", token, "GET", "/api/v1/projects/nope", "", 404, "not_found", "trel project list"},
		{"fail/revision zero", token, "GET", "/api/v1/projects/nope/releases/1.0/revisions/0", "", 400, "invalid", "numbered from 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := c.token
			req, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
			if tok == "x" {
				req.Header.Set("Authorization", "Basic abc")
			} else if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body api.ErrorBody
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != c.status || body.Error.Code != c.code || !strings.Contains(body.Error.Message, c.contains) {
				t.Fatalf("got %d %+v", resp.StatusCode, body)
			}
			if resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
			}
		})
	}
}
