package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"sync"
	"testing"

	"trel/internal/domain"
	"trel/internal/store"
	"trel/internal/testutil/softauthn"
)

// TestClonedPasskeyCannotSignInTwiceConcurrently: two copies of one
// authenticator (the same signature counter) answering two sign-ins at
// the same moment: both would pass the library's check, which reads the
// stored counter before either writes it. The counter is advanced by one
// conditional update, so at most one of them signs in.
func TestClonedPasskeyCannotSignInTwiceConcurrently(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	fresh := make([]byte, 32)
	rand.Read(fresh)
	handle, err := e.st.UserHandle(ctx, e.root.ID, fresh)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := softauthn.New("http://localhost:8080", "localhost", handle)
	if err != nil {
		t.Fatal(err)
	}
	cred, _ := orig.Credential()
	raw, _ := json.Marshal(cred)
	pk := &store.Passkey{UserID: e.root.ID, Name: "k", CredentialID: orig.CredID, Credential: raw, CreatedAt: e.clock()}
	if err := e.st.AddPasskey(ctx, pk, 0, e.clock(), domain.AuditEvent{Time: e.clock(), Actor: "test", Action: "passkey.add", Target: "user:root"}); err != nil {
		t.Fatal(err)
	}
	const pairs = 20
	for round := range pairs {
		clones := []softauthn.Authenticator{*orig, *orig}
		bodies := make([][]byte, 2)
		ids := make([]string, 2)
		for i := range clones {
			opts, id, err := e.a.BeginLogin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			o, _ := json.Marshal(opts)
			if bodies[i], err = clones[i].Assert(o, true); err != nil {
				t.Fatal(err)
			}
			ids[i] = id
		}
		orig.Count = clones[0].Count
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for i := range clones {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, _, err := e.a.FinishLogin(ctx, ids[i], bytes.NewReader(bodies[i]), Client{IP: "192.0.2.9"}); err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				} else if !domain.IsKind(err, domain.KindUnauthenticated) {
					t.Errorf("round %d: %v", round, err)
				}
			}()
		}
		wg.Wait()
		if ok != 1 {
			t.Fatalf("round %d: %d sign-ins with one counter value, want exactly 1", round, ok)
		}
	}
}
