package web_test

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/signing"
	"trel/internal/testutil/archivetest"
)

// seeded is what seedReleases made.
type seeded struct {
	rita   *core.Actor // member of committee "pub", release manager
	key    *signing.Generated
	sha512 string // of pub-lib-1.0.tar.gz
}

// seedReleases makes, through the core as a committee would through the
// CLI: committee "pub" with member rita (a proven OpenPGP key linked to
// pub), project pub-lib with a test-friendly policy, pub-lib 1.0
// published and pub-lib 2.0 under vote. Both hold a real source archive,
// its signature and its checksum.
func seedReleases(t *testing.T, s *testServer) seeded {
	t.Helper()
	ctx := context.Background()
	svc, sys := s.app.Core, core.SystemActor
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := svc.CreateCommittee(ctx, sys, "pub", "Publishing Committee")
	must(err)
	u, err := svc.CreateUser(ctx, sys, core.NewUser{Username: "rita", Email: "rita@example.org", Name: "Rita"})
	must(err)
	_, err = svc.AddMember(ctx, sys, "pub", "rita", domain.RoleMember)
	must(err)
	_, err = svc.CreateProject(ctx, sys, "pub-lib", "pub", "Pub Library")
	must(err)
	rita := &core.Actor{User: u}
	pol := domain.DefaultPolicy()
	pol.MinVoteHours, pol.MinBindingPlusOnes = 0, 1
	_, err = svc.SetPolicy(ctx, rita, "pub-lib", pol)
	must(err)
	g, err := signing.Generate(signing.GenerateOptions{Name: "Rita", Email: "rita@example.org"})
	must(err)
	_, err = svc.AddKeys(ctx, rita, g.PublicKey, core.AddKeysOptions{Committees: []string{"pub"}})
	must(err)
	challenge, err := svc.KeyChallenge(ctx, rita, g.Fingerprint)
	must(err)
	proof, err := signing.Sign(g.Secret, []signing.FileToSign{{Path: "challenge.txt", Reader: strings.NewReader(challenge)}})
	must(err)
	_, err = svc.ProveKey(ctx, rita, g.Fingerprint, proof[0].Armored)
	must(err)
	out := seeded{rita: rita, key: g}
	for _, v := range []string{"1.0", "2.0"} {
		_, err = svc.StartRelease(ctx, rita, "pub-lib", v)
		must(err)
		name := "pub-lib-" + v + ".tar.gz"
		art := archivetest.SourceTarGz(t, "pub-lib-"+v, nil)
		sigs, err := signing.Sign(g.Secret, []signing.FileToSign{{Path: name, Reader: strings.NewReader(string(art))}})
		must(err)
		sum := sha512.Sum512(art)
		if v == "1.0" {
			out.sha512 = hex.EncodeToString(sum[:])
		}
		uploadFiles(t, s, rita, "pub-lib", v, map[string]string{name: string(art), name + ".asc": string(sigs[0].Armored),
			name + ".sha512": hex.EncodeToString(sum[:]) + "  " + name + "\n"})
		waitChecks(t, s, rita, "pub-lib", v)
		_, err = svc.StartVote(ctx, rita, "pub-lib", v)
		must(err)
	}
	_, err = svc.CastVote(ctx, rita, "pub-lib", "1.0", 1, "checked the signature and the licence")
	must(err)
	_, err = svc.ResolveVote(ctx, rita, "pub-lib", "1.0")
	must(err)
	_, err = svc.Publish(ctx, rita, "pub-lib", "1.0")
	must(err)
	return out
}

// uploadFiles makes one revision of the files (path -> content).
func uploadFiles(t *testing.T, s *testServer, a *core.Actor, project, version string, files map[string]string) {
	t.Helper()
	ctx := context.Background()
	var changes []core.Change
	for p, content := range files {
		b, err := s.app.Core.UploadFile(ctx, a, project, version, strings.NewReader(content), -1)
		if err != nil {
			t.Fatal(err)
		}
		changes = append(changes, core.Change{Op: "put", Path: p, SHA256: b.SHA256})
	}
	if _, err := s.app.Core.CreateRevision(ctx, a, project, version, core.RevisionRequest{Changes: changes, Description: "seeded"}); err != nil {
		t.Fatal(err)
	}
}

// waitChecks waits (at most 60 s) until the server's workers have checked
// the latest revision, and fails on a blocker.
func waitChecks(t *testing.T, s *testServer, a *core.Actor, project, version string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		rep, err := s.app.Core.Checks(context.Background(), a, project, version, 0)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Finished {
			for _, r := range rep.Results {
				if r.Status == domain.StatusBlocker || r.Status == domain.StatusException {
					t.Fatalf("%s %s: %s %s: %s", project, version, r.Status, r.Path, r.Message)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the checks of %s %s did not finish in 60 s", project, version)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
