// Package sigstoretest runs a private Sigstore instance on loopback for
// tests: Fulcio with an ephemeral CA, the timestamp authority with an
// in-memory signer, Rekor v2 (rekor-tiles on its POSIX driver) and an OIDC
// issuer (oidctest) whose e-mail tokens Fulcio accepts, and a second one
// Fulcio treats as GitHub Actions (workflow identities). It writes the
// instance's trusted_root.json and signing_config.v0.2.json.
//
// The three servers are real binaries built by ./scripts/setup (go install,
// pinned versions) into $TREL_SIGSTORE_BIN or $(go env GOPATH)/bin; Start
// fails, with that advice, when one is missing. The timestamp server binds
// its metrics to :2112 whatever its flags say, so only ONE instance can run
// on a machine: start it once per test binary, and keep every test that
// needs it in one package.
package sigstoretest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"trel/internal/testutil/oidctest"
)

// Binary names in the bin directory (rekor-tiles' POSIX server is renamed
// from "posix" by ./scripts/setup).
const (
	FulcioBin = "fulcio"
	TSABin    = "timestamp-server"
	RekorBin  = "rekor-server-posix"
)

// Instance is a running private Sigstore instance.
type Instance struct {
	Dir  string
	OIDC *oidctest.Issuer
	// GitHub is a second issuer that Fulcio treats as GitHub Actions
	// ("github-workflow"): tokens with GitHub's claims (oidctest.GitHubRun,
	// audience sigstore) get certificates naming the workflow, as a real
	// workflow's would.
	GitHub            *oidctest.Issuer
	FulcioURL         string
	TSAURL            string // the timestamp endpoint
	RekorURL          string
	TrustedRootPath   string
	SigningConfigPath string
	// TrustedRootJSON and SigningConfigJSON are the files' contents.
	TrustedRootJSON   []byte
	SigningConfigJSON []byte
	// BuildInfo names the binaries used.
	BuildInfo string

	procs []*proc
}

type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// BinDir is where the servers are: $TREL_SIGSTORE_BIN, else
// $(go env GOPATH)/bin.
func BinDir() (string, error) {
	if d := os.Getenv("TREL_SIGSTORE_BIN"); d != "" {
		return d, nil
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOPATH: %w", err)
	}
	gopath := strings.TrimSpace(string(out))
	if i := strings.IndexRune(gopath, os.PathListSeparator); i >= 0 {
		gopath = gopath[:i]
	}
	return filepath.Join(gopath, "bin"), nil
}

// Start runs the whole instance in dir. Stop it with Stop.
func Start(dir string) (in *Instance, err error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, b := range []string{FulcioBin, TSABin, RekorBin} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the private Sigstore instance needs %s in %s: run ./scripts/setup (it builds them with go install), or set TREL_SIGSTORE_BIN", strings.Join(missing, ", "), bin)
	}
	if ln, err := net.Listen("tcp", ":2112"); err != nil {
		return nil, fmt.Errorf("port 2112 is taken (%v): the timestamp server always binds its metrics there, so another one (another test run?) is running on this machine; wait for it to finish", err)
	} else {
		ln.Close()
	}

	in = &Instance{Dir: dir, BuildInfo: bin}
	defer func() {
		if err != nil {
			in.Stop()
		}
	}()
	if in.OIDC, err = oidctest.Start(); err != nil {
		return nil, err
	}
	if in.GitHub, err = oidctest.Start(); err != nil {
		return nil, err
	}
	start := time.Now().Add(-time.Minute).UTC()
	if err := in.startTSA(bin); err != nil {
		return nil, err
	}
	if err := in.startFulcio(bin); err != nil {
		return nil, err
	}
	rekorPub, err := in.startRekor(bin)
	if err != nil {
		return nil, err
	}
	if err := in.writeConfig(rekorPub, start); err != nil {
		return nil, err
	}
	return in, nil
}

// Stop ends every server and the issuer.
func (in *Instance) Stop() {
	for _, p := range in.procs {
		p.cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
	}
	in.procs = nil
	if in.OIDC != nil {
		in.OIDC.Close()
	}
	if in.GitHub != nil {
		in.GitHub.Close()
	}
}

// Logs returns the last bytes each server printed, for failure reports.
func (in *Instance) Logs() string {
	var b strings.Builder
	for _, p := range in.procs {
		s := p.out.String()
		if len(s) > 3000 {
			s = "..." + s[len(s)-3000:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", p.name, s)
	}
	return b.String()
}

func (in *Instance) run(name, bin string, args ...string) (*proc, error) {
	p := &proc{name: name, out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(filepath.Join(bin, name), args...)
	p.cmd.Dir = in.Dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	in.procs = append(in.procs, p)
	return p, nil
}

// waitFor polls url until it answers 200 or the process exits.
func waitFor(p *proc, url string) ([]byte, error) {
	deadline := time.Now().Add(60 * time.Second)
	hc := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited before it was ready:\n%s", p.name, p.out.String())
		default:
		}
		resp, err := hc.Get(url)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return body, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("%s did not answer %s within 60s:\n%s", p.name, url, p.out.String())
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports = append(ports, p)
	}
	return ports, nil
}

func (in *Instance) startTSA(bin string) error {
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	p, err := in.run(TSABin, bin, "serve", "--host", "127.0.0.1", "--port", fmt.Sprint(ports[0]),
		"--timestamp-signer", "memory", "--disable-ntp-monitoring")
	if err != nil {
		return err
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	if _, err := waitFor(p, base+"/api/v1/timestamp/certchain"); err != nil {
		return err
	}
	in.TSAURL = base + "/api/v1/timestamp"
	return nil
}

func (in *Instance) startFulcio(bin string) error {
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	cfg := filepath.Join(in.Dir, "fulcio.json")
	conf, _ := json.Marshal(map[string]any{"OIDCIssuers": map[string]any{
		in.OIDC.URL:   map[string]any{"IssuerURL": in.OIDC.URL, "ClientID": "sigstore", "Type": "email"},
		in.GitHub.URL: map[string]any{"IssuerURL": in.GitHub.URL, "ClientID": "sigstore", "Type": "github-workflow"}}})
	if err := os.WriteFile(cfg, conf, 0o600); err != nil {
		return err
	}
	p, err := in.run(FulcioBin, bin, "serve", "--host", "127.0.0.1", "--port", fmt.Sprint(ports[0]),
		"--grpc-host", "127.0.0.1", "--grpc-port", fmt.Sprint(ports[1]), "--metrics-port", fmt.Sprint(ports[2]),
		"--ca", "ephemeralca", "--ct-log-url", "", "--config-path", cfg,
		"--legacy-unix-domain-socket", filepath.Join(in.Dir, "fulcio-legacy.sock"))
	if err != nil {
		return err
	}
	in.FulcioURL = fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	_, err = waitFor(p, in.FulcioURL+"/api/v2/trustBundle")
	return err
}

// startRekor writes the log's signing key and starts rekor-tiles; it
// returns the log's public key (DER).
func (in *Instance) startRekor(bin string) ([]byte, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	keyPath := filepath.Join(in.Dir, "rekor-signer.pem")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	storage := filepath.Join(in.Dir, "rekor-tiles")
	if err := os.MkdirAll(storage, 0o700); err != nil {
		return nil, err
	}
	p, err := in.run(RekorBin, bin, "serve", "--http-address", "127.0.0.1", "--http-port", fmt.Sprint(ports[0]),
		"--grpc-address", "127.0.0.1", "--grpc-port", fmt.Sprint(ports[1]), "--http-metrics-port", fmt.Sprint(ports[2]),
		"--hostname", "localhost", "--storage-dir", storage, "--signer-filepath", keyPath, "--checkpoint-interval", "1s")
	if err != nil {
		return nil, err
	}
	in.RekorURL = fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	if _, err := waitFor(p, in.RekorURL+"/healthz"); err != nil {
		return nil, err
	}
	return x509.MarshalPKIXPublicKey(&key.PublicKey)
}

// writeConfig fetches the CA and TSA chains and writes trusted_root.json
// and signing_config.v0.2.json (protobuf JSON, written by hand so that this
// package does not need sigstore-go).
func (in *Instance) writeConfig(rekorPub []byte, start time.Time) error {
	fulcioChain, err := in.fulcioChain()
	if err != nil {
		return err
	}
	tsaChain, err := fetchPEMChain(strings.TrimSuffix(in.TSAURL, "/timestamp") + "/timestamp/certchain")
	if err != nil {
		return fmt.Errorf("the TSA's certificate chain: %w", err)
	}
	logID := sha256.Sum256(rekorPub)
	validFor := map[string]string{"start": start.Format(time.RFC3339)}
	chain := func(ders [][]byte) map[string]any {
		var certs []map[string][]byte
		for _, d := range ders {
			certs = append(certs, map[string][]byte{"rawBytes": d})
		}
		return map[string]any{"certificates": certs}
	}
	rekorPort := in.RekorURL[strings.LastIndex(in.RekorURL, ":")+1:]
	trustedRoot := map[string]any{
		"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
		"tlogs": []any{map[string]any{
			// The checkpoint origin is --hostname: the base URL must name it.
			"baseUrl":       "http://localhost:" + rekorPort,
			"hashAlgorithm": "SHA2_256",
			"publicKey":     map[string]any{"rawBytes": rekorPub, "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": validFor},
			"logId":         map[string]any{"keyId": logID[:]},
		}},
		"certificateAuthorities": []any{map[string]any{
			"subject": map[string]string{"organization": "sigstore.dev", "commonName": "sigstore"},
			"uri":     in.FulcioURL, "certChain": chain(fulcioChain), "validFor": validFor,
		}},
		"ctlogs": []any{},
		"timestampAuthorities": []any{map[string]any{
			"subject": map[string]string{"organization": "local", "commonName": "Test TSA Root"},
			"uri":     in.TSAURL, "certChain": chain(tsaChain), "validFor": validFor,
		}},
	}
	service := func(url string, version int) []any {
		return []any{map[string]any{"url": url, "majorApiVersion": version, "validFor": validFor, "operator": "trel-test"}}
	}
	signingConfig := map[string]any{
		"mediaType":       "application/vnd.dev.sigstore.signingconfig.v0.2+json",
		"caUrls":          service(in.FulcioURL, 1),
		"oidcUrls":        service(in.OIDC.URL, 1),
		"rekorTlogUrls":   service(in.RekorURL, 2),
		"tsaUrls":         service(in.TSAURL, 1),
		"rekorTlogConfig": map[string]string{"selector": "ANY"},
		"tsaConfig":       map[string]string{"selector": "ANY"},
	}
	if in.TrustedRootJSON, err = json.MarshalIndent(trustedRoot, "", "  "); err != nil {
		return err
	}
	if in.SigningConfigJSON, err = json.MarshalIndent(signingConfig, "", "  "); err != nil {
		return err
	}
	in.TrustedRootPath = filepath.Join(in.Dir, "trusted_root.json")
	in.SigningConfigPath = filepath.Join(in.Dir, "signing_config.v0.2.json")
	if err := os.WriteFile(in.TrustedRootPath, in.TrustedRootJSON, 0o644); err != nil {
		return err
	}
	return os.WriteFile(in.SigningConfigPath, in.SigningConfigJSON, 0o644)
}

func (in *Instance) fulcioChain() ([][]byte, error) {
	resp, err := http.Get(in.FulcioURL + "/api/v2/trustBundle")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var tb struct {
		Chains []struct {
			Certificates []string `json:"certificates"`
		} `json:"chains"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tb); err != nil || len(tb.Chains) == 0 {
		return nil, fmt.Errorf("Fulcio's trust bundle: %v", err)
	}
	var ders [][]byte
	for _, c := range tb.Chains[0].Certificates {
		d, err := pemDERs([]byte(c))
		if err != nil {
			return nil, err
		}
		ders = append(ders, d...)
	}
	return ders, nil
}

func fetchPEMChain(url string) ([][]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	return pemDERs(body)
}

func pemDERs(data []byte) ([][]byte, error) {
	var out [][]byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		out = append(out, b.Bytes)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return out, nil
}

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 1<<20 { // keep memory bounded; the tail matters
		s.b.Reset()
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Ready is a context-free health probe used by tests between cases.
func (in *Instance) Ready(ctx context.Context) error {
	for _, u := range []string{in.FulcioURL + "/api/v2/trustBundle", in.RekorURL + "/healthz"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
	}
	return nil
}
