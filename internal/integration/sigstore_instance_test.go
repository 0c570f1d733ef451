package integration

import (
	"os"
	"sync"
	"testing"

	"trel/internal/testutil/sigstoretest"
)

// The private Sigstore instance (Fulcio, timestamp authority, Rekor v2 and
// an OIDC issuer on loopback) is started once for this test binary, on
// first use: the timestamp server binds :2112 whatever its flags say, so
// two cannot run at once. Every test that needs it lives in this package.
var (
	sigstoreOnce sync.Once
	sigstoreInst *sigstoretest.Instance
	sigstoreErr  error
	sigstoreDir  string
)

// privateSigstore returns the running instance, or fails the test (never
// skips it) with the reason, e.g. binaries missing: run ./scripts/setup.
func privateSigstore(t testing.TB) *sigstoretest.Instance {
	t.Helper()
	sigstoreOnce.Do(func() {
		sigstoreDir, sigstoreErr = os.MkdirTemp("", "trel-sigstore-")
		if sigstoreErr == nil {
			sigstoreInst, sigstoreErr = sigstoretest.Start(sigstoreDir)
		}
	})
	if sigstoreErr != nil {
		t.Fatalf("the private Sigstore instance did not start: %v", sigstoreErr)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("Sigstore services' output:\n%s", sigstoreInst.Logs())
		}
	})
	return sigstoreInst
}

func stopSigstore() {
	if sigstoreInst != nil {
		sigstoreInst.Stop()
	}
	if sigstoreDir != "" {
		os.RemoveAll(sigstoreDir)
	}
}
