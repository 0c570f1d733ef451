package translog

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/tessera/api/layout"
)

const testOrigin = "trel.test/log"

var testKeys = []string{
	"0123456789ABCDEF0123456789ABCDEF01234567",
	"89ABCDEF0123456789ABCDEF0123456789ABCDEF",
	"FEDCBA9876543210FEDCBA9876543210FEDCBA98",
}

// testEntry returns a distinct, valid entry for i signed by key.
func testEntry(i int, key string) Entry {
	art := sha512.Sum512(fmt.Appendf(nil, "artifact %d", i))
	sig := sha256.Sum256(fmt.Appendf(nil, "signature %d", i))
	tx := sha256.Sum256(fmt.Appendf(nil, "transaction %d", i))
	return Entry{
		Kind:              KindSignature,
		KeyFingerprint:    key,
		ArtifactSHA512:    hex.EncodeToString(art[:]),
		SignatureSHA256:   hex.EncodeToString(sig[:]),
		TransactionSHA256: hex.EncodeToString(tx[:]),
		Time:              time.Date(2026, 11, 25, 14, 0, i%60, 0, time.UTC),
	}
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// openTestLog opens (or reopens) the log at base/log with the key at
// base/log.key. The log is closed at the end of the test.
func openTestLog(t testing.TB, base string) *Log {
	t.Helper()
	s, err := LoadOrCreateSigner(filepath.Join(base, "log.key"), testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Open(testContext(t), filepath.Join(base, "log"), s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return l
}

// appendAll appends entries concurrently and returns index -> entry.
func appendAll(t testing.TB, l *Log, entries []Entry) map[uint64]Entry {
	t.Helper()
	ctx := testContext(t)
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		got   = make(map[uint64]Entry)
		first error
	)
	for _, e := range entries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			idx, err := l.Append(ctx, e)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				first = errors.Join(first, err)
				return
			}
			if _, dup := got[idx]; dup {
				first = errors.Join(first, fmt.Errorf("index %d returned twice", idx))
			}
			got[idx] = e
		}()
	}
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
	return got
}

func entriesFor(from, n int) []Entry {
	var es []Entry
	for i := from; i < from+n; i++ {
		es = append(es, testEntry(i, testKeys[i%len(testKeys)]))
	}
	return es
}

// serveLog serves dir the way trel does, under /log/.
func serveLog(t testing.TB, dir string) *httptest.Server {
	mux := http.NewServeMux()
	mux.Handle("/log/", http.StripPrefix("/log", NewHandler(dir)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestInclusionOfEveryEntryIsProvenFromStaticFilesOnly(t *testing.T) {
	base := t.TempDir()
	l := openTestLog(t, base)
	// 300 entries: one full entry bundle and tile, one partial, and a
	// level-1 tile.
	const n = 300
	logged := appendAll(t, l, entriesFor(0, n))
	if len(logged) != n {
		t.Fatalf("%d entries logged, want %d", len(logged), n)
	}
	srv := serveLog(t, l.Dir())
	httpFetcher, err := HTTPFetcher(srv.URL+"/log/", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		fetch Fetcher
	}{
		{"local directory", DirFetcher(l.Dir())},
		{"HTTP over Handler", httpFetcher},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			c, err := NewClient(tt.fetch, l.VerifierKey())
			if err != nil {
				t.Fatal(err)
			}
			cp, err := c.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if cp.Size != n || cp.Origin != testOrigin {
				t.Fatalf("checkpoint %q size %d, want %q size %d", cp.Origin, cp.Size, testOrigin, n)
			}
			for idx, e := range logged {
				if err := c.ProveInclusion(ctx, e, idx, cp); err != nil {
					t.Fatalf("entry %d: %v", idx, err)
				}
			}
			// The same entry at another index, and another entry at its
			// index, are refused.
			e0 := logged[0]
			if err := c.ProveInclusion(ctx, e0, 1, cp); err == nil {
				t.Error("entry 0 proven at index 1")
			}
			other := testEntry(n+1, testKeys[0])
			if err := c.ProveInclusion(ctx, other, 0, cp); err == nil {
				t.Error("an entry never logged was proven")
			}
			if err := c.ProveInclusion(ctx, e0, n, cp); err == nil {
				t.Error("index beyond the tree was accepted")
			}
			// Reading back every entry gives exactly what was appended.
			count := 0
			for ie, err := range c.Entries(ctx, cp, 0, cp.Size) {
				if err != nil {
					t.Fatal(err)
				}
				if want := logged[ie.Index]; ie.Entry != want {
					t.Fatalf("entry %d reads back as %+v, want %+v", ie.Index, ie.Entry, want)
				}
				count++
			}
			if count != n {
				t.Fatalf("Entries yielded %d, want %d", count, n)
			}
			// A sub-range across the bundle boundary.
			var idxs []uint64
			for ie, err := range c.Entries(ctx, cp, 250, 260) {
				if err != nil {
					t.Fatal(err)
				}
				idxs = append(idxs, ie.Index)
			}
			if want := []uint64{250, 251, 252, 253, 254, 255, 256, 257, 258, 259}; !slices.Equal(idxs, want) {
				t.Fatalf("Entries(250, 260) = %v", idxs)
			}
		})
	}
}

func TestConsistencyIsProvenBetweenCheckpointsAndForksAreRefused(t *testing.T) {
	base := t.TempDir()
	l := openTestLog(t, base)
	ctx := testContext(t)
	c := l.Client()

	empty, err := c.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, l, entriesFor(0, 10))
	cp10, err := c.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, l, entriesFor(10, 260))
	cp270, err := c.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if empty.Size != 0 || cp10.Size != 10 || cp270.Size != 270 {
		t.Fatalf("sizes %d %d %d, want 0 10 270", empty.Size, cp10.Size, cp270.Size)
	}

	// A fork: a log with the same key, the same size 10, other entries.
	forkBase := t.TempDir()
	if err := os.Link(filepath.Join(base, "log.key"), filepath.Join(forkBase, "log.key")); err != nil {
		t.Fatal(err)
	}
	fork := openTestLog(t, forkBase)
	appendAll(t, fork, entriesFor(1000, 10))
	forkCP, err := fork.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		old, new *Checkpoint
		ok       bool
	}{
		{"10 to 270", cp10, cp270, true},
		{"empty to 270", empty, cp270, true},
		{"270 to itself", cp270, cp270, true},
		{"270 back to 10 is refused", cp270, cp10, false},
		{"fork of size 10 to 270 is refused", forkCP, cp270, false},
		{"fork of size 10 against 10 is refused", forkCP, cp10, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.ProveConsistency(ctx, tt.old, tt.new)
			if tt.ok && err != nil {
				t.Fatal(err)
			}
			if !tt.ok && err == nil {
				t.Fatal("consistency accepted")
			}
		})
	}
}

// copyDir copies the log directory so a test can tamper with the copy.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestTamperedTilesAndBundlesFailVerification(t *testing.T) {
	base := t.TempDir()
	l := openTestLog(t, base)
	ctx := testContext(t)
	logged := appendAll(t, l, entriesFor(0, 300))
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}

	flipByte := func(off int) func([]byte) []byte {
		return func(b []byte) []byte {
			b[off] ^= 0x01
			return b
		}
	}
	// In a bundle, entry k starts at 2 + k*(2+len): change a hex digit of
	// the first entry's artifact digest (a different valid-looking entry).
	changeEntry := func(b []byte) []byte {
		i := strings.Index(string(b), `"artifact_sha512":"`) + len(`"artifact_sha512":"`)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return b
	}
	tests := []struct {
		name   string
		file   string
		tamper func([]byte) []byte
		// check returns nil if verification (wrongly) succeeded.
		check func(c *Client) error
	}{
		{
			name:   "leaf hash 5 in the full level-0 tile breaks inclusion of index 6",
			file:   layout.TilePath(0, 0, 0),
			tamper: flipByte(5 * 32),
			check:  func(c *Client) error { return c.ProveInclusion(ctx, logged[6], 6, cp) },
		},
		{
			name:   "leaf hash 5 in the full level-0 tile breaks inclusion of index 200",
			file:   layout.TilePath(0, 0, 0),
			tamper: flipByte(5 * 32),
			check:  func(c *Client) error { return c.ProveInclusion(ctx, logged[200], 200, cp) },
		},
		{
			name:   "a hash in the partial level-0 tile breaks inclusion of index 100",
			file:   layout.TilePath(0, 1, 300-256),
			tamper: flipByte(0),
			check:  func(c *Client) error { return c.ProveInclusion(ctx, logged[100], 100, cp) },
		},
		{
			name:   "the level-1 tile breaks inclusion of index 299",
			file:   layout.TilePath(1, 0, 1),
			tamper: flipByte(0),
			check:  func(c *Client) error { return c.ProveInclusion(ctx, logged[299], 299, cp) },
		},
		{
			name:   "a changed entry in the full bundle is not read back",
			file:   layout.EntriesPath(0, 0),
			tamper: changeEntry,
			check: func(c *Client) error {
				_, err := c.Entry(ctx, cp, 0)
				return err
			},
		},
		{
			name:   "a changed entry in the full bundle fails FindByKey",
			file:   layout.EntriesPath(0, 0),
			tamper: changeEntry,
			check: func(c *Client) error {
				_, err := c.FindByKey(ctx, cp, testKeys[0])
				return err
			},
		},
		{
			name:   "a changed entry in the partial bundle is not read back",
			file:   layout.EntriesPath(1, 300-256),
			tamper: changeEntry,
			check: func(c *Client) error {
				_, err := c.Entry(ctx, cp, 299)
				return err
			},
		},
		{
			name:   "a truncated partial bundle is not read back",
			file:   layout.EntriesPath(1, 300-256),
			tamper: func(b []byte) []byte { return b[:len(b)/2] },
			check: func(c *Client) error {
				_, err := c.Entry(ctx, cp, 256)
				return err
			},
		},
		{
			name:   "a missing tile fails inclusion",
			file:   layout.TilePath(1, 0, 1),
			tamper: nil, // delete
			check:  func(c *Client) error { return c.ProveInclusion(ctx, logged[280], 280, cp) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, l.Dir())
			c, err := NewClient(DirFetcher(dir), l.VerifierKey())
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, tt.file)
			if tt.tamper == nil {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			} else {
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, tt.tamper(b), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := tt.check(c); err == nil {
				t.Fatal("verification succeeded on tampered files")
			} else {
				t.Logf("refused: %v", err)
			}
		})
	}
	// The untouched log still verifies: the failures above come from the
	// tampering alone.
	for idx, e := range logged {
		if err := l.Client().ProveInclusion(ctx, e, idx, cp); err != nil {
			t.Fatalf("untouched log, entry %d: %v", idx, err)
		}
	}
}

func TestCheckpointsNotSignedByTheLogKeyAreRefused(t *testing.T) {
	base := t.TempDir()
	l := openTestLog(t, base)
	ctx := testContext(t)
	appendAll(t, l, entriesFor(0, 3))
	genuine, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Another log with another key but the same origin.
	otherBase := t.TempDir()
	other := openTestLog(t, otherBase)
	otherLogged := appendAll(t, other, entriesFor(100, 3))
	otherCP, err := other.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if other.Origin() != l.Origin() || other.VerifierKey() == l.VerifierKey() {
		t.Fatal("test setup: want same origin, different keys")
	}

	c := l.Client()
	tests := []struct {
		name string
		raw  []byte
	}{
		{"signed by another key with the same origin", otherCP.Raw},
		{"size changed after signing", []byte(strings.Replace(string(genuine.Raw), "\n3\n", "\n4\n", 1))},
		{"signature removed", []byte(string(genuine.Raw[:strings.Index(string(genuine.Raw), "\n\n")+2]))},
		{"garbage", []byte("not a checkpoint")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.ParseCheckpoint(tt.raw); err == nil {
				t.Fatal("checkpoint accepted")
			}
			// Served as the log's checkpoint, it is refused too.
			dir := copyDir(t, l.Dir())
			if err := os.WriteFile(filepath.Join(dir, "checkpoint"), tt.raw, 0o644); err != nil {
				t.Fatal(err)
			}
			dc, err := NewClient(DirFetcher(dir), l.VerifierKey())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := dc.Checkpoint(ctx); err == nil {
				t.Fatal("served checkpoint accepted")
			}
			// A checkpoint struct carrying it is refused by the proofs.
			forged := &Checkpoint{Origin: testOrigin, Size: genuine.Size, Hash: genuine.Hash, Raw: tt.raw}
			if err := c.ProveConsistency(ctx, genuine, forged); err == nil {
				t.Fatal("consistency accepted a forged checkpoint")
			}
		})
	}

	t.Run("checkpoint fields are not trusted, only its signed note", func(t *testing.T) {
		// Fields describing the other log's tree, with the genuine note:
		// proofs against the other log's files must use the note.
		foreign, err := NewClient(DirFetcher(other.Dir()), l.VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		forged := &Checkpoint{Origin: testOrigin, Size: otherCP.Size, Hash: otherCP.Hash, Raw: genuine.Raw}
		for idx, e := range otherLogged {
			if err := foreign.ProveInclusion(ctx, e, idx, forged); err == nil {
				t.Fatalf("entry %d of the other log proven with forged fields", idx)
			}
		}
	})

	t.Run("opening the log with another key is refused", func(t *testing.T) {
		s, err := LoadOrCreateSigner(filepath.Join(otherBase, "log.key"), testOrigin)
		if err != nil {
			t.Fatal(err)
		}
		if l2, err := Open(ctx, l.Dir(), s, Options{}); err == nil {
			l2.Close(ctx)
			t.Fatal("log opened with another key")
		}
	})
}

func TestReopenedLogKeepsItsEntriesAndKey(t *testing.T) {
	base := t.TempDir()
	ctx := testContext(t)
	s1, err := LoadOrCreateSigner(filepath.Join(base, "log.key"), testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	l1, err := Open(ctx, filepath.Join(base, "log"), s1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	logged := appendAll(t, l1, entriesFor(0, 5))
	before, err := l1.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := l1.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := l1.Append(ctx, testEntry(99, testKeys[0])); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v, want ErrClosed", err)
	}

	l2 := openTestLog(t, base)
	if l2.VerifierKey() != s1.VerifierKey() {
		t.Fatalf("verifier key changed on reopen: %s -> %s", s1.VerifierKey(), l2.VerifierKey())
	}
	reopened, err := l2.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if reopened.Size != 5 {
		t.Fatalf("reopened log has size %d, want 5", reopened.Size)
	}
	e := testEntry(5, testKeys[0])
	idx, err := l2.Append(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if idx != 5 {
		t.Fatalf("first append after reopen got index %d, want 5", idx)
	}
	logged[idx] = e
	after, err := l2.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := l2.Client()
	if err := c.ProveConsistency(ctx, before, after); err != nil {
		t.Fatal(err)
	}
	for i, e := range logged {
		if err := c.ProveInclusion(ctx, e, i, after); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
}

func TestFindByKeyReturnsExactlyThatKeysEntries(t *testing.T) {
	base := t.TempDir()
	l := openTestLog(t, base)
	ctx := testContext(t)
	logged := appendAll(t, l, entriesFor(0, 280))
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := make(map[string][]uint64)
	for idx, e := range logged {
		want[e.KeyFingerprint] = append(want[e.KeyFingerprint], idx)
	}
	spaced := func(fpr string) string {
		var parts []string
		for i := 0; i < len(fpr); i += 4 {
			parts = append(parts, fpr[i:i+4])
		}
		return strings.ToLower(strings.Join(parts, " "))
	}
	tests := []struct {
		name  string
		query string
		want  []uint64
	}{
		{"key 0", testKeys[0], want[testKeys[0]]},
		{"key 1 in lower case with spaces", spaced(testKeys[1]), want[testKeys[1]]},
		{"key 2 with 0x prefix", "0x" + testKeys[2], want[testKeys[2]]},
		{"a key that never signed", strings.Repeat("AB", 20), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			found, err := l.Client().FindByKey(ctx, cp, tt.query)
			if err != nil {
				t.Fatal(err)
			}
			var got []uint64
			for _, ie := range found {
				if ie.Entry != logged[ie.Index] {
					t.Fatalf("entry %d differs from the appended one", ie.Index)
				}
				got = append(got, ie.Index)
			}
			wantSorted := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, wantSorted) {
				t.Fatalf("FindByKey(%q) = %v, want %v", tt.query, got, wantSorted)
			}
		})
	}
	if _, err := l.Client().FindByKey(ctx, cp, "not-a-fingerprint"); err == nil {
		t.Error("malformed fingerprint accepted")
	}

	t.Run("FindBySignature finds the one entry of a signature", func(t *testing.T) {
		e := logged[123]
		found, err := l.Client().FindBySignature(ctx, cp, strings.ToUpper(e.SignatureSHA256))
		if err != nil {
			t.Fatal(err)
		}
		if len(found) != 1 || found[0].Index != 123 || found[0].Entry != e {
			t.Fatalf("FindBySignature = %+v", found)
		}
	})
}

func TestHandlerServesOnlyLogFilesReadOnly(t *testing.T) {
	base := t.TempDir()
	l := openTestLog(t, base)
	ctx := testContext(t)
	appendAll(t, l, entriesFor(0, 3))
	// Plant a secret next to the log and a symlink inside it that points
	// at the secret through a name the handler would otherwise serve.
	secret := filepath.Join(base, "secret")
	if err := os.WriteFile(secret, []byte("SECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(l.Dir(), "tile", "entries"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(l.Dir(), "tile", "entries", "999")); err != nil {
		t.Fatal(err)
	}
	srv := serveLog(t, l.Dir())

	tests := []struct {
		name        string
		method      string
		path        string
		status      int
		contentType string
	}{
		{"checkpoint", "GET", "/log/checkpoint", 200, "text/plain; charset=utf-8"},
		{"checkpoint HEAD", "HEAD", "/log/checkpoint", 200, "text/plain; charset=utf-8"},
		{"partial tile", "GET", "/log/tile/0/000.p/3", 200, "application/octet-stream"},
		{"partial entry bundle", "GET", "/log/tile/entries/000.p/3", 200, "application/octet-stream"},
		{"POST refused", "POST", "/log/checkpoint", 405, ""},
		{"root listing", "GET", "/log/", 404, ""},
		{"tile directory listing", "GET", "/log/tile/", 404, ""},
		{"level directory listing", "GET", "/log/tile/0/", 404, ""},
		{"private state", "GET", "/log/.state/treeState", 404, ""},
		{"parent of the log", "GET", "/log/../secret", 404, ""},
		{"encoded parent", "GET", "/log/%2e%2e/secret", 404, ""},
		{"parent inside a tile path", "GET", "/log/tile/entries/../../../secret", 404, ""},
		{"symlink out of the log", "GET", "/log/tile/entries/999", 404, ""},
		{"missing tile", "GET", "/log/tile/0/001", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(ctx, tt.method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req) // follows the mux's clean-path redirects
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if strings.Contains(string(body), "SECRET") || strings.Contains(string(body), "PRIVATE") {
				t.Fatal("secret served")
			}
			if tt.contentType != "" && resp.Header.Get("Content-Type") != tt.contentType {
				t.Fatalf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tt.contentType)
			}
		})
	}

	// The handler itself, given unclean paths that no mux cleaned first.
	for _, p := range []string{"../secret", "/../secret", "tile/entries/../../../secret", "tile/0/../../../secret", "..", "/", ""} {
		t.Run("direct "+p, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.URL.Path = p
			rec := httptest.NewRecorder()
			l.Handler().ServeHTTP(rec, req)
			if rec.Code != http.StatusNotFound {
				t.Fatalf("status %d, want 404", rec.Code)
			}
		})
	}
}

func TestEntryEncodingIsCanonical(t *testing.T) {
	e := testEntry(7, testKeys[0])
	golden := `{"v":1,"kind":"signature","key":"0123456789ABCDEF0123456789ABCDEF01234567",` +
		`"artifact_sha512":"` + e.ArtifactSHA512 + `","signature_sha256":"` + e.SignatureSHA256 +
		`","transaction_sha256":"` + e.TransactionSHA256 + `","time":"2026-11-25T14:00:07Z"}`
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != golden {
		t.Fatalf("Marshal =\n%s\nwant\n%s", b, golden)
	}
	back, err := ParseEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	if back != e {
		t.Fatalf("round trip: %+v, want %+v", back, e)
	}

	t.Run("normalized forms encode identically", func(t *testing.T) {
		n := e
		n.KeyFingerprint = strings.ToLower(e.KeyFingerprint)
		n.ArtifactSHA512 = strings.ToUpper(e.ArtifactSHA512)
		n.Time = e.Time.In(time.FixedZone("X", 3600)).Add(900 * time.Millisecond)
		nb, err := n.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if string(nb) != golden {
			t.Fatalf("normalized entry encodes as %s", nb)
		}
	})

	manifest := e
	manifest.Kind = KindReleaseManifest
	manifest.SignatureSHA256 = ""
	if _, err := manifest.Marshal(); err != nil {
		t.Errorf("release manifest without signature digest: %v", err)
	}

	invalid := []struct {
		name   string
		modify func(*Entry)
	}{
		{"unknown kind", func(e *Entry) { e.Kind = "other" }},
		{"signature without signature digest", func(e *Entry) { e.SignatureSHA256 = "" }},
		{"short fingerprint", func(e *Entry) { e.KeyFingerprint = "0123" }},
		{"non-hex fingerprint", func(e *Entry) { e.KeyFingerprint = strings.Repeat("G", 40) }},
		{"short artifact digest", func(e *Entry) { e.ArtifactSHA512 = e.ArtifactSHA512[:64] }},
		{"quote in transaction digest", func(e *Entry) { e.TransactionSHA256 = `"` + e.TransactionSHA256[1:] }},
		{"zero time", func(e *Entry) { e.Time = time.Time{} }},
	}
	for _, tt := range invalid {
		t.Run("Marshal refuses "+tt.name, func(t *testing.T) {
			bad := e
			tt.modify(&bad)
			if _, err := bad.Marshal(); err == nil {
				t.Fatal("invalid entry encoded")
			}
		})
	}

	nonCanonical := []struct {
		name string
		data string
	}{
		{"space after colon", strings.Replace(golden, `"v":1`, `"v": 1`, 1)},
		{"trailing newline", golden + "\n"},
		{"members reordered", strings.Replace(golden, `{"v":1,"kind":"signature",`, `{"kind":"signature","v":1,`, 1)},
		{"unknown member", strings.Replace(golden, `{"v":1,`, `{"v":1,"x":"y",`, 1)},
		{"version 2", strings.Replace(golden, `"v":1`, `"v":2`, 1)},
		{"lower-case fingerprint", strings.Replace(golden, testKeys[0], strings.ToLower(testKeys[0]), 1)},
		{"fractional seconds", strings.Replace(golden, `14:00:07Z`, `14:00:07.5Z`, 1)},
		{"escaped character", strings.Replace(golden, `"signature"`, `"signatur\u0065"`, 1)},
		{"two objects", golden + golden},
	}
	for _, tt := range nonCanonical {
		t.Run("ParseEntry refuses "+tt.name, func(t *testing.T) {
			if _, err := ParseEntry([]byte(tt.data)); err == nil {
				t.Fatal("non-canonical entry accepted")
			}
		})
	}
}

func TestSignerKeyFileIsCreatedPrivateAndReloaded(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log.key")
	s1, err := LoadOrCreateSigner(path, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %#o, want 0600", fi.Mode().Perm())
	}
	if !strings.HasPrefix(s1.VerifierKey(), testOrigin+"+") {
		t.Fatalf("verifier key %q does not name the origin", s1.VerifierKey())
	}
	s2, err := LoadOrCreateSigner(path, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if s2.VerifierKey() != s1.VerifierKey() {
		t.Fatal("reloaded key differs")
	}

	tests := []struct {
		name   string
		setup  func(t *testing.T) string
		origin string
	}{
		{"another origin", func(t *testing.T) string { return path }, "other.example/log"},
		{"a key readable by others", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "k")
			b, _ := os.ReadFile(path)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, testOrigin},
		{"a file that is not a key", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "k")
			if err := os.WriteFile(p, []byte("hello\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, testOrigin},
		{"an origin with a space", func(t *testing.T) string { return filepath.Join(t.TempDir(), "k") }, "trel example"},
	}
	for _, tt := range tests {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			if _, err := LoadOrCreateSigner(tt.setup(t), tt.origin); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestAppendIsBoundedByItsContext(t *testing.T) {
	l := openTestLog(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if _, err := l.Append(ctx, testEntry(1, testKeys[0])); !errors.Is(err, context.Canceled) {
		t.Fatalf("append with a cancelled context: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("append took %v after cancellation", d)
	}
	if _, err := l.Append(context.Background(), Entry{Kind: "bogus"}); err == nil {
		t.Fatal("invalid entry appended")
	}
}

func TestOldCheckpointsVerifyAfterPartialFilesAreGarbageCollected(t *testing.T) {
	base := t.TempDir()
	l := openTestLog(t, base)
	ctx := testContext(t)
	old := appendAll(t, l, entriesFor(0, 10))
	cp10, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, l, entriesFor(10, 260))
	// tessera deletes partial tiles and bundles once the full ones exist;
	// do it now rather than wait for its collector.
	for _, p := range []string{layout.TilePath(0, 0, 10), layout.EntriesPath(0, 10)} {
		if err := os.Remove(filepath.Join(l.Dir(), p)); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	c := l.Client()
	for idx, e := range old {
		if err := c.ProveInclusion(ctx, e, idx, cp10); err != nil {
			t.Fatalf("entry %d in the old tree: %v", idx, err)
		}
	}
	n := 0
	for ie, err := range c.Entries(ctx, cp10, 0, 10) {
		if err != nil {
			t.Fatal(err)
		}
		if ie.Entry != old[ie.Index] {
			t.Fatalf("entry %d differs", ie.Index)
		}
		n++
	}
	if n != 10 {
		t.Fatalf("%d entries read from the old tree, want 10", n)
	}
}

func TestHTTPFetcherReportsMissingFilesAsNotExist(t *testing.T) {
	srv := serveLog(t, t.TempDir())
	f, err := HTTPFetcher(srv.URL+"/log", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f(testContext(t), "checkpoint"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing checkpoint: %v, want os.ErrNotExist", err)
	}
	for _, bad := range []string{"/etc/passwd", "http://elsewhere.example/x"} {
		if _, err := f(testContext(t), bad); err == nil {
			t.Errorf("fetch %q accepted", bad)
		}
	}
	if _, err := HTTPFetcher("file:///tmp/log", nil); err == nil {
		t.Error("file URL accepted")
	}
}
