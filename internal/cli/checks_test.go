package cli

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestChecksWaitExitCodes: 0 when the checks finished without a blocker, 1
// with a blocker, 2 when they do not finish in time. The server is a stub
// answering the checks endpoint: this is a unit test of the waiting logic.
func TestChecksWaitExitCodes(t *testing.T) {
	cases := []struct {
		name, body string
		code       int
	}{
		{"ok/finished without blocker", `{"revision":1,"run":{"state":"done"},"finished":true,"results":[],"summary":{"note":2}}`, 0},
		{"fail/finished with a blocker", `{"revision":1,"run":{"state":"done"},"finished":true,"results":[],"summary":{"blocker":1}}`, 1},
		{"fail/never finishes", `{"revision":1,"run":{"state":"running"},"finished":false,"results":[],"summary":{}}`, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasSuffix(r.URL.Path, "/revisions/latest/checks") {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(c.body))
			}))
			defer srv.Close()
			t.Setenv("TREL_SERVER", srv.URL)
			t.Setenv("TREL_TOKEN", "trel_x")
			t.Setenv("TREL_CONFIG", t.TempDir()+"/c.json")
			var out, errb bytes.Buffer
			code := Main([]string{"checks", "wait", "p", "1.0", "--timeout", "700ms"}, strings.NewReader(""), &out, &errb)
			if code != c.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, c.code, errb.String())
			}
		})
	}
}
