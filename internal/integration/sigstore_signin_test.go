package integration

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSigstoreSignInFlows: without a token, `trel sign --sigstore` signs
// the person in at the instance's OIDC provider (the private instance's
// issuer, named in its signing configuration): with the device flow (a
// code approved on "another device") and with the browser flow (trel
// prints the URL; no browser opens here, so the test follows it like a
// signed-in browser, and the redirect reaches trel's loopback server).
func TestSigstoreSignInFlows(t *testing.T) {
	inst := privateSigstore(t)
	inst.OIDC.SetUser(map[string]any{"sub": "u-42", "email": "interactive@example.org", "email_verified": true})
	u := newUser(t, "rm")
	dir := t.TempDir()
	for _, flow := range []string{"device", "browser"} {
		art := filepath.Join(dir, flow+".tar.gz")
		writeFile(t, art, []byte(flow))
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := exec.CommandContext(ctx, trelBin, append([]string{"sign", art, "--sigstore", "--oidc-flow", flow}, sigstoreArgs(inst)...)...)
		// xdg-open honours $BROWSER: "true" opens nothing, so no real
		// browser starts on a machine that has one.
		cmd.Env = append(baseEnv(u.home), "TREL_CONFIG="+u.config, "BROWSER=true")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stdout strings.Builder
		cmd.Stdout = &stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Act on what trel asks the person to do.
		var seen strings.Builder
		sc := bufio.NewScanner(stderr)
		acted := false
		for sc.Scan() {
			line := sc.Text()
			seen.WriteString(line + "\n")
			switch {
			case acted:
			case flow == "device" && strings.Contains(line, "enter the code"):
				code := regexp.MustCompile(`enter the code (\S+)`).FindStringSubmatch(line)[1]
				if err := inst.OIDC.ApproveDevice(code); err != nil {
					t.Error(err)
				}
				acted = true
			case flow == "browser" && strings.HasPrefix(strings.TrimSpace(line), inst.OIDC.URL+"/authorize?"):
				resp, err := http.Get(strings.TrimSpace(line))
				if err != nil {
					t.Error(err)
				} else {
					resp.Body.Close()
				}
				acted = true
			}
		}
		io.Copy(io.Discard, stderr)
		err = cmd.Wait()
		cancel()
		if err != nil || !acted || !strings.Contains(stdout.String(), "interactive@example.org") {
			t.Fatalf("%s flow: %v (acted %v)\nstdout: %s\nstderr: %s", flow, err, acted, stdout.String(), seen.String())
		}
		if !strings.Contains(seen.String(), "token from "+flow) {
			t.Errorf("%s flow: trel should say where the token came from:\n%s", flow, seen.String())
		}
	}
}
