package signing

import (
	"bytes"
	"crypto/sha512"
	"encoding"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Interop tests drive real gpg, gpgv and sqv. A missing tool is a failure,
// never a skip (CI installs gnupg, gpgv and sqv).

func requireTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is required for this test (apt-get install -y gnupg gpgv sqv): %v", name, err)
	}
}

// fastParams keep vault tests quick; the defaults are exercised too.
var fastParams = Argon2Params{Time: 1, MemoryKiB: MinArgon2MemoryKiB, Threads: 1}

var (
	rsaOnce sync.Once
	rsaKey  *Generated
	rsaErr  error
)

// sharedRSA generates the one RSA-4096 key of the test run (it is slow).
func sharedRSA(t testing.TB) *Generated {
	t.Helper()
	rsaOnce.Do(func() {
		rsaKey, rsaErr = Generate(GenerateOptions{Name: "Rosa RSA", Email: "rosa@example.org", Algorithm: AlgorithmRSA4096})
	})
	if rsaErr != nil {
		t.Fatalf("generate RSA-4096: %v", rsaErr)
	}
	return rsaKey
}

func newEdDSA(t testing.TB) *Generated {
	t.Helper()
	g, err := Generate(GenerateOptions{Name: "Eddie Ed", Email: "eddie@example.org"})
	if err != nil {
		t.Fatalf("generate EdDSA: %v", err)
	}
	return g
}

// sha512State hashes data and returns the marshaled state, as the upload
// path saves it.
func sha512State(t testing.TB, data []byte) []byte {
	t.Helper()
	h := sha512.New()
	h.Write(data)
	st, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func fixedClock(at time.Time) func() time.Time { return func() time.Time { return at } }

// gpgHome is a throw-away GNUPGHOME (short path: gpg-agent sockets).
type gpgHome struct{ dir string }

func newGPGHome(t testing.TB) *gpgHome {
	t.Helper()
	requireTool(t, "gpg")
	dir, err := os.MkdirTemp("", "trelsig")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	g := &gpgHome{dir: dir}
	t.Cleanup(func() {
		_ = exec.Command("gpgconf", "--homedir", dir, "--kill", "all").Run()
		_ = os.RemoveAll(dir)
	})
	return g
}

// run runs gpg and returns stdout, stderr and the error.
func (g *gpgHome) run(stdin []byte, args ...string) (string, string, error) {
	cmd := exec.Command("gpg", append([]string{"--homedir", g.dir, "--batch", "--no-tty", "--yes"}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func (g *gpgHome) mustRun(t testing.TB, stdin []byte, args ...string) string {
	t.Helper()
	out, stderr, err := g.run(stdin, args...)
	if err != nil {
		t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

// statusLines parses "[GNUPG:] KEYWORD args" lines into keyword -> args.
func statusLines(out string) map[string][]string {
	m := map[string][]string{}
	for _, line := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(line, "[GNUPG:] ")
		if !ok {
			continue
		}
		kw, args, _ := strings.Cut(rest, " ")
		m[kw] = append(m[kw], args)
	}
	return m
}

// writeFiles writes name -> content into a new temp directory.
func writeFiles(t testing.TB, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
