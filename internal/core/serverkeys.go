package core

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"trel/internal/checks/rules"
	"trel/internal/domain"
	"trel/internal/openpgp"
	"trel/internal/signing"
	"trel/internal/store"
	"trel/internal/translog"
)

// Server-side signing limits.
const (
	ApprovalTTL        = 5 * time.Minute
	MaxPasswordFails   = 5
	PasswordLockout    = 15 * time.Minute
	MinSigningPassword = 12
	MaxServerKeyYears  = 5
)

// Approval is what a verified WebAuthn assertion tells the signing audit.
// The web layer verifies the assertion (user verification required, the
// user's own passkey, single-use ceremony); the core checks that its
// challenge commits to exactly the files about to be signed.
type Approval struct {
	Challenge    []byte
	CredentialID []byte
	Passkey      string
	AAGUID       []byte
	Flags        byte
	SignCount    uint32
	Raw          []byte // the assertion as the browser sent it
}

// SignatureLog is the public append-only log signatures go to before they
// are released.
type SignatureLog interface {
	Append(ctx context.Context, e translog.Entry) (uint64, error)
}

// SetSigning enables server-side signing with the master key and the
// public log. Without a valid master key it is reported as unavailable.
func (s *Service) SetSigning(master signing.MasterKey, log SignatureLog) {
	s.master, s.sigLog = master, log
}

// SigningAvailable reports whether server-side signing is configured.
func (s *Service) SigningAvailable() bool { return s.signingAvailable() == nil }

func (s *Service) signingAvailable() error {
	if !s.master.Valid() || s.sigLog == nil {
		return domain.Errorf(domain.KindUnavailable, "server-side signing is not available on this server: the administrator has not configured a master key (trel serve --master-key-file FILE; create one with `trel admin create-master-key`). Everything else keeps working, and you can sign locally with `trel sign`")
	}
	return nil
}

// NewServerKey describes a signing key to generate.
type NewServerKey struct {
	Password   string   `json:"password"`
	Algorithm  string   `json:"algorithm,omitempty"`   // "eddsa" (default) or "rsa4096"
	ExpiryDays int      `json:"expiry_days,omitempty"` // default 2 years, at most 5
	Committees []string `json:"committees,omitempty"`
}

// CreateServerKey generates a key trel holds for the actor. Its public
// half joins the actor's keys (ownership proven by construction) and the
// chosen committees' KEYS files; the secret half is sealed under the
// master key and the actor's password and can never be downloaded.
func (s *Service) CreateServerKey(ctx context.Context, a *Actor, req NewServerKey) (*domain.Key, error) {
	if err := s.authorize(ctx, a, OpAddKey, 0, ""); err != nil {
		return nil, err
	}
	if err := s.signingAvailable(); err != nil {
		return nil, err
	}
	if err := checkSigningPassword(req.Password, a.User); err != nil {
		return nil, err
	}
	algo := signing.AlgorithmEdDSA
	switch strings.ToLower(req.Algorithm) {
	case "", "eddsa", "ed25519":
	case "rsa4096", "rsa-4096", "rsa":
		algo = signing.AlgorithmRSA4096
	default:
		return nil, domain.Errorf(domain.KindInvalid, "unknown algorithm %q: use eddsa or rsa4096", req.Algorithm)
	}
	if req.ExpiryDays < 0 || req.ExpiryDays > MaxServerKeyYears*365 {
		return nil, domain.Errorf(domain.KindInvalid, "a key may live at most %d years", MaxServerKeyYears)
	}
	var committees []*domain.Committee
	for _, key := range req.Committees {
		c, err := s.store.CommitteeByKey(ctx, key)
		if err != nil {
			return nil, err
		}
		if err := s.authorize(ctx, a, OpLinkKey, c.ID, c.Key); err != nil {
			return nil, err
		}
		committees = append(committees, c)
	}
	// Cheap refusals first: the cap, then the user's creation rate, then
	// derivation capacity (creations never take the slot kept for signing).
	if n, err := s.store.ActiveServerKeys(ctx, a.User.ID); err != nil {
		return nil, err
	} else if n >= s.limits.MaxServerKeys {
		return nil, tooManyKeys(s.limits.MaxServerKeys)
	}
	if err := s.rateLimit(ctx, a, "signing-key creations", s.limits.KeyCreations, s.limits.KeyCreationWindow); err != nil {
		return nil, err
	}
	permit, err := signing.Reserve(ctx, signing.PurposeCreate)
	if err != nil {
		return nil, s.busy(err)
	}
	defer permit.Release()
	name := a.User.Name
	if name == "" {
		name = a.User.Username
	}
	gen, err := signing.Generate(signing.GenerateOptions{Name: name, Email: a.User.Email, Algorithm: algo,
		Expiry: time.Duration(req.ExpiryDays) * 24 * time.Hour, Now: s.now})
	if err != nil {
		return nil, domain.Errorf(domain.KindInvalid, "cannot create the key: %v", err)
	}
	defer signing.Wipe(gen.Secret)
	sealed, err := permit.Seal(gen.Secret, gen.Fingerprint, s.master, []byte(req.Password), signing.DefaultArgon2Params())
	permit.Release()
	if err != nil {
		return nil, domain.Internal("sealing the key", err)
	}
	sealedJSON, err := json.Marshal(sealed)
	if err != nil {
		return nil, domain.Internal("sealing the key", err)
	}
	loaded, err := openpgp.LoadKeys(bytes.NewReader(gen.PublicKey))
	if err != nil || len(loaded.Certs) != 1 {
		return nil, domain.Internal("reading the new key", fmt.Errorf("%v", err))
	}
	now := s.now()
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		k, err := keyFromCert(loaded.Certs[0], a, now)
		if err != nil {
			return err
		}
		if err := tx.PutKey(ctx, k); err != nil {
			return err
		}
		if err := tx.SetKeyOwner(ctx, k.Fingerprint, a.User.ID, "generated", now); err != nil {
			return err
		}
		if err := tx.PutServerKeyCapped(ctx, &domain.ServerKey{Fingerprint: gen.Fingerprint, UserID: a.User.ID, Algorithm: string(algo),
			Sealed: sealedJSON, CreatedAt: gen.Created, ExpiresAt: gen.Expires}, s.limits.MaxServerKeys); err != nil {
			return err
		}
		var ids []int64
		for _, c := range committees {
			if err := tx.LinkKey(ctx, domain.CommitteeKey{CommitteeID: c.ID, Fingerprint: gen.Fingerprint, AddedAt: now}, a.User.ID); err != nil {
				return err
			}
			ids = append(ids, c.ID)
		}
		if err := s.audit(ctx, tx, a, "signing.key.create", "key:"+gen.Fingerprint, map[string]any{"algorithm": algo, "expires": gen.Expires, "committees": keysOf(committees)}); err != nil {
			return err
		}
		return s.queueCommitteeChecks(ctx, tx, ids)
	})
	if err != nil {
		return nil, err
	}
	s.notifyChecks()
	return s.store.Key(ctx, gen.Fingerprint)
}

// ServerKeys lists the actor's keys held by trel.
func (s *Service) ServerKeys(ctx context.Context, a *Actor) ([]domain.ServerKey, error) {
	if err := s.authorize(ctx, a, OpAddKey, 0, ""); err != nil {
		return nil, err
	}
	return s.store.ServerKeys(ctx, a.User.ID)
}

func (s *Service) ownServerKey(ctx context.Context, a *Actor, fpr string) (*domain.ServerKey, error) {
	if err := s.authorize(ctx, a, OpAddKey, 0, ""); err != nil {
		return nil, err
	}
	k, err := s.store.ServerKey(ctx, normalizeFpr(fpr))
	if err != nil {
		return nil, err
	}
	if k.UserID != a.User.ID {
		return nil, domain.Errorf(domain.KindForbidden, "key %s is held for another user; only its owner may use it", k.Fingerprint)
	}
	return k, nil
}

// openServerKey unwraps a key's secret with the password, under the
// key's lockout (see withPassword), deriving with permit.
func (s *Service) openServerKey(ctx context.Context, a *Actor, k *domain.ServerKey, permit *signing.Permit, password []byte) ([]byte, error) {
	if why := k.Usable(s.now()); why != "" {
		return nil, domain.Errorf(domain.KindLocked, "key %s cannot sign: %s", k.Fingerprint, why)
	}
	sealed, err := sealedOf(k)
	if err != nil {
		return nil, err
	}
	var secret []byte
	err = s.withPassword(ctx, a, k, func() error {
		var err error
		secret, err = permit.Open(sealed, k.Fingerprint, s.master, password)
		return err
	})
	if err != nil {
		return nil, err
	}
	return secret, nil
}

func sealedOf(k *domain.ServerKey) (*signing.Sealed, error) {
	var sealed signing.Sealed
	if err := json.Unmarshal(k.Sealed, &sealed); err != nil {
		return nil, domain.Internal("reading the sealed key", err)
	}
	return &sealed, nil
}

// reservePassword counts a password check against the actor's rate limit
// and reserves derivation capacity for it. It comes before anything
// single use is spent: a busy server answers 429 and nothing is lost.
func (s *Service) reservePassword(ctx context.Context, a *Actor) (*signing.Permit, error) {
	if err := s.rateLimit(ctx, a, "signing-password checks", s.limits.PasswordChecks, s.limits.PasswordCheckWindow); err != nil {
		return nil, err
	}
	p, err := signing.Reserve(ctx, signing.PurposeUse)
	if err != nil {
		return nil, s.busy(err)
	}
	return p, nil
}

// busy is the 429 of a server without derivation capacity.
func (s *Service) busy(err error) error {
	s.meter.Inc("refusal", "busy")
	e := domain.Busy(5*time.Second, "the server is busy with other signing-password checks: try again in a few seconds")
	e.Err = err
	return e
}

func tooManyKeys(max int) error {
	return domain.Errorf(domain.KindConflict, "you already hold %d active keys on this server, the most allowed: retire or revoke one first (trel signing-key retire FPR)", max)
}

// withPassword runs derive (which unseals the key with a password) under
// the key's lockout. Checks on one key are serialised; each attempt is
// counted in the database BEFORE deriving (one atomic UPDATE that also
// refuses a locked key), so parallel guesses cannot exceed
// MaxPasswordFails; after a right password the count is cleared only if
// no other attempt locked the key meanwhile.
func (s *Service) withPassword(ctx context.Context, a *Actor, k *domain.ServerKey, derive func() error) error {
	unlock := s.keyLocks.lock(k.Fingerprint)
	defer unlock()
	var n int
	var ok bool
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		var err error
		n, ok, err = tx.ReservePasswordAttempt(ctx, k.Fingerprint, s.now(), MaxPasswordFails, PasswordLockout)
		return err
	})
	if err != nil {
		return err
	}
	if !ok {
		return s.lockedError(ctx, k.Fingerprint)
	}
	err = derive()
	switch {
	case errors.Is(err, signing.ErrWrongPassword):
		s.meter.Inc("password", "wrong")
		if n < MaxPasswordFails {
			return domain.Errorf(domain.KindUnauthenticated, "wrong signing password for key %s (%d of %d attempts)", k.Fingerprint, n, MaxPasswordFails)
		}
		s.meter.Inc("lockout", "password")
		until := s.now().Add(PasswordLockout)
		if aerr := s.store.Tx(ctx, func(tx store.Tx) error {
			return s.audit(ctx, tx, a, "signing.key.locked", "key:"+k.Fingerprint, map[string]any{"failures": n, "until": until})
		}); aerr != nil {
			return aerr
		}
		return domain.Errorf(domain.KindUnauthenticated, "wrong signing password for key %s; after %d failures the key is locked until %s", k.Fingerprint, MaxPasswordFails, until.UTC().Format(time.RFC3339))
	case errors.Is(err, signing.ErrWrongMasterKey):
		s.clearAttempts(ctx, k.Fingerprint, n)
		return domain.Errorf(domain.KindUnavailable, "this server's master key is not the one key %s was sealed with: the administrator must configure the right master key", k.Fingerprint)
	case errors.Is(err, signing.ErrBusy):
		s.clearAttempts(ctx, k.Fingerprint, n)
		return s.busy(err)
	case err != nil:
		return domain.Internal("unsealing the key", err)
	}
	s.meter.Inc("password", "right")
	cleared, err := s.clearAttempts(ctx, k.Fingerprint, n)
	if err != nil {
		return err
	}
	if !cleared {
		return s.lockedError(ctx, k.Fingerprint)
	}
	return nil
}

func (s *Service) clearAttempts(ctx context.Context, fpr string, n int) (bool, error) {
	var cleared bool
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		var err error
		cleared, err = tx.ClearPasswordAttempts(ctx, fpr, n, s.now())
		return err
	})
	return cleared, err
}

func (s *Service) lockedError(ctx context.Context, fpr string) error {
	s.meter.Inc("refusal", "locked")
	until := "in a few minutes"
	if k, err := s.store.ServerKey(ctx, fpr); err == nil && k.LockedUntil != nil {
		until = "at " + k.LockedUntil.UTC().Format(time.RFC3339)
	}
	return domain.Errorf(domain.KindLocked, "key %s is locked after %d wrong signing passwords; try again %s", fpr, MaxPasswordFails, until)
}

// ChangeServerKeyPassword re-wraps a key under a new password.
func (s *Service) ChangeServerKeyPassword(ctx context.Context, a *Actor, fpr, oldPassword, newPassword string) error {
	if err := s.signingAvailable(); err != nil {
		return err
	}
	k, err := s.ownServerKey(ctx, a, fpr)
	if err != nil {
		return err
	}
	if err := checkSigningPassword(newPassword, a.User); err != nil {
		return err
	}
	if why := k.Usable(s.now()); why != "" {
		return domain.Errorf(domain.KindLocked, "key %s: %s", k.Fingerprint, why)
	}
	sealed, err := sealedOf(k)
	if err != nil {
		return err
	}
	permit, err := s.reservePassword(ctx, a)
	if err != nil {
		return err
	}
	defer permit.Release()
	// Rewrap checks the old password itself: one derivation, not two.
	var re *signing.Sealed
	if err := s.withPassword(ctx, a, k, func() error {
		var err error
		re, err = permit.Rewrap(sealed, s.master, []byte(oldPassword), []byte(newPassword), signing.DefaultArgon2Params())
		return err
	}); err != nil {
		return err
	}
	permit.Release()
	if k.Sealed, err = json.Marshal(re); err != nil {
		return domain.Internal("re-wrapping the key", err)
	}
	return s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.UpdateServerKey(ctx, k); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "signing.key.password", "key:"+k.Fingerprint, nil)
	})
}

// RevokeServerKey makes a revocation signature (with the password) and
// publishes it in every KEYS file that holds the key; the key never
// signs again.
func (s *Service) RevokeServerKey(ctx context.Context, a *Actor, fpr, password, reason string) error {
	if err := s.signingAvailable(); err != nil {
		return err
	}
	k, err := s.ownServerKey(ctx, a, fpr)
	if err != nil {
		return err
	}
	if k.RevokedAt != nil {
		return domain.Errorf(domain.KindConflict, "key %s is already revoked", k.Fingerprint)
	}
	code := signing.RevokeRetired
	switch reason {
	case "", "retired":
	case "superseded":
		code = signing.RevokeSuperseded
	case "compromised":
		code = signing.RevokeCompromised
	default:
		return domain.Errorf(domain.KindInvalid, "reason must be retired, superseded or compromised")
	}
	permit, err := s.reservePassword(ctx, a)
	if err != nil {
		return err
	}
	secret, err := s.openServerKey(ctx, a, k, permit, []byte(password))
	permit.Release()
	if err != nil {
		return err
	}
	defer signing.Wipe(secret)
	rev, err := signing.Revoke(secret, code, "revoked in trel by "+a.User.Username, s.now())
	if err != nil {
		return domain.Internal("revoking the key", err)
	}
	signing.Wipe(rev.Secret)
	loaded, err := openpgp.LoadKeys(bytes.NewReader(rev.PublicKey))
	if err != nil || len(loaded.Certs) != 1 {
		return domain.Internal("reading the revoked key", fmt.Errorf("%v", err))
	}
	now := s.now()
	k.RevokedAt = &now
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if _, err := s.putCert(ctx, tx, a, loaded.Certs[0], now); err != nil {
			return err
		}
		if err := tx.UpdateServerKey(ctx, k); err != nil {
			return err
		}
		stored, err := tx.Key(ctx, k.Fingerprint)
		if err != nil {
			return err
		}
		var ids []int64
		for _, l := range stored.Committees {
			ids = append(ids, l.CommitteeID)
		}
		if err := s.audit(ctx, tx, a, "signing.key.revoke", "key:"+k.Fingerprint, map[string]any{"reason": reason}); err != nil {
			return err
		}
		return s.queueCommitteeChecks(ctx, tx, ids)
	})
	if err == nil {
		s.notifyChecks()
	}
	return err
}

// RetireServerKey stops a key from signing; its public key stays in KEYS
// files so that what it signed can still be verified.
func (s *Service) RetireServerKey(ctx context.Context, a *Actor, fpr string) error {
	k, err := s.ownServerKey(ctx, a, fpr)
	if err != nil {
		return err
	}
	if k.RetiredAt != nil {
		return domain.Errorf(domain.KindConflict, "key %s is already retired", k.Fingerprint)
	}
	now := s.now()
	k.RetiredAt = &now
	return s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.UpdateServerKey(ctx, k); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "signing.key.retire", "key:"+k.Fingerprint, nil)
	})
}

// RotateMasterKey re-wraps every held key from the old master key to the
// new one (no user password is needed: the master key is the outer layer).
func (s *Service) RotateMasterKey(ctx context.Context, oldMaster, newMaster signing.MasterKey) (int, error) {
	keys, err := s.store.ServerKeys(ctx, 0)
	if err != nil {
		return 0, err
	}
	n := 0
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		for i := range keys {
			k := &keys[i]
			sealed, err := sealedOf(k)
			if err != nil {
				return err
			}
			re, err := signing.RotateMaster(sealed, oldMaster, newMaster)
			if err != nil {
				return domain.Errorf(domain.KindInvalid, "key %s: %v", k.Fingerprint, err)
			}
			if k.Sealed, err = json.Marshal(re); err != nil {
				return domain.Internal("re-wrapping", err)
			}
			if err := tx.UpdateServerKey(ctx, k); err != nil {
				return err
			}
			n++
		}
		return s.audit(ctx, tx, SystemActor, "signing.master.rotate", "server", map[string]any{"keys": n, "new_master_key_id": newMaster.ID()})
	})
	return n, err
}

// SigningPlan is a transaction waiting for approval.
type SigningPlan struct {
	Request     *domain.SigningRequest `json:"request"`
	Transaction signing.Transaction    `json:"transaction"`
	// Challenge is what the passkey must sign (base64url in WebAuthn).
	Challenge []byte `json:"challenge"`
}

// BeginSigning builds the transaction for signing files of the latest
// revision of a draft (all artifacts when paths is empty) with one of the
// actor's held keys, making OpenPGP signatures or (kind SignSigstore)
// key-based Sigstore bundles. The approval must come within ApprovalTTL.
func (s *Service) BeginSigning(ctx context.Context, a *Actor, projectKey, version, fpr string, paths []string, kind string) (*SigningPlan, error) {
	if err := s.signingAvailable(); err != nil {
		return nil, err
	}
	if err := s.checkSignKind(kind); err != nil {
		return nil, err
	}
	k, err := s.ownServerKey(ctx, a, fpr)
	if err != nil {
		return nil, err
	}
	if why := k.Usable(s.now()); why != "" {
		return nil, domain.Errorf(domain.KindLocked, "key %s cannot sign: %s", k.Fingerprint, why)
	}
	rel, err := s.releaseManager(ctx, a, projectKey, version, "sign its files with a key held by trel")
	if err != nil {
		return nil, err
	}
	if rel.Phase != domain.PhaseDraft {
		return nil, domain.Errorf(domain.KindConflict, "release %s %s is no longer a draft", rel.ProjectKey, rel.Version)
	}
	if rel.LatestRevision == 0 {
		return nil, domain.Errorf(domain.KindConflict, "the release has no files yet")
	}
	rev, err := s.store.Revision(ctx, rel.ID, rel.LatestRevision)
	if err != nil {
		return nil, err
	}
	pol, err := s.store.Policy(ctx, rel.ProjectID)
	if err != nil {
		return nil, err
	}
	if err := policyAcceptsHeldSignatures(pol, rel, kind); err != nil {
		return nil, err
	}
	tx, err := transactionFor(a.User.Username, k.Fingerprint, rel, rev, paths, kind, pol.Unsigned)
	if err != nil {
		return nil, err
	}
	canon, err := signing.CanonicalJSON(tx)
	if err != nil {
		return nil, domain.Internal("building the transaction", err)
	}
	var nonce [32]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, domain.Internal("making the approval challenge", err)
	}
	ch, err := signing.Challenge(tx, nonce)
	if err != nil {
		return nil, domain.Internal("making the approval challenge", err)
	}
	now := s.now()
	req := &domain.SigningRequest{UserID: a.User.ID, Fingerprint: k.Fingerprint, ReleaseID: rel.ID, Revision: rev.Number,
		Tx: canon, Nonce: nonce[:], Challenge: ch[:], CreatedAt: now, ExpiresAt: now.Add(ApprovalTTL)}
	if err := s.store.Tx(ctx, func(t store.Tx) error { return t.CreateSigningRequest(ctx, req) }); err != nil {
		return nil, err
	}
	return &SigningPlan{Request: req, Transaction: tx, Challenge: ch[:]}, nil
}

// policyAcceptsHeldSignatures refuses (conflict) to make a signature the
// project's policy would not count: made by a key trel holds when the
// policy refuses server-made signatures, or of a kind it refuses.
func policyAcceptsHeldSignatures(pol *domain.Policy, rel *domain.Release, kind string) error {
	switch {
	case !pol.AcceptServerSigned:
		return domain.Errorf(domain.KindConflict, "project %s's policy does not accept signatures made by keys trel holds, so this one would not count; sign with your own key (`trel sign`), or a committee member allows them (`trel policy set %s --accept-server-signed`)", rel.ProjectKey, rel.ProjectKey)
	case kind == SignSigstore && !pol.AcceptSigstore:
		return domain.Errorf(domain.KindConflict, "project %s's policy does not accept Sigstore bundles, so this one would not count; make OpenPGP signatures, or a committee member allows Sigstore (`trel policy set %s --accept-sigstore`)", rel.ProjectKey, rel.ProjectKey)
	case kind != SignSigstore && !pol.AcceptOpenPGP:
		return domain.Errorf(domain.KindConflict, "project %s's policy does not accept OpenPGP signatures, so this one would not count; make a Sigstore bundle (kind sigstore), or a committee member allows OpenPGP (`trel policy set %s --accept-openpgp`)", rel.ProjectKey, rel.ProjectKey)
	}
	return nil
}

// transactionFor lists (path, size, sha512, and sha256 for Sigstore) of
// the files to sign. Without paths, they are the files the policy wants
// signed (not allowed unsigned) that lack a signature of this kind.
func transactionFor(user, fpr string, rel *domain.Release, rev *domain.Revision, paths []string, kind string, unsigned []domain.UnsignedRule) (signing.Transaction, error) {
	tx := signing.Transaction{User: user, KeyFingerprint: fpr, Project: rel.ProjectKey, Version: rel.Version, Revision: rev.Number, Kind: kind}
	suffix := signatureSuffix(kind)
	byPath := map[string]domain.File{}
	for _, f := range rev.Files {
		byPath[f.Path] = f
	}
	if len(paths) == 0 {
		for _, f := range rev.Files {
			if _, signed := byPath[f.Path+suffix]; rules.NeedsSignature(f.Path, unsigned) && !signed {
				paths = append(paths, f.Path)
			}
		}
		if len(paths) == 0 {
			return tx, domain.Errorf(domain.KindInvalid, "revision %d holds no artifacts to sign: name the files", rev.Number)
		}
	}
	for _, p := range paths {
		f, ok := byPath[p]
		if !ok {
			return tx, domain.Errorf(domain.KindNotFound, "revision %d has no file %q", rev.Number, p)
		}
		if _, kind, isMeta := rules.ArtifactOf(p); isMeta && kind != "" {
			return tx, domain.Errorf(domain.KindInvalid, "%s is a signature or checksum file; sign the artifact it belongs to", p)
		}
		if _, exists := byPath[p+suffix]; exists {
			return tx, domain.Errorf(domain.KindConflict, "%s%s already exists; remove it first (trel rm) to sign %s again", p, suffix, p)
		}
		tf := signing.TxFile{Path: p, Size: f.Size, SHA512: f.SHA512}
		if kind == SignSigstore {
			tf.SHA256 = f.SHA256
		}
		tx.Files = append(tx.Files, tf)
	}
	return tx, nil
}

// SigningResult is what CompleteSigning made.
type SigningResult struct {
	Revision *domain.Revision    `json:"revision"`
	Files    []domain.SignedFile `json:"files"`
}

// SigningSlot is what PrepareSigning reserved for one CompleteSigning.
type SigningSlot struct {
	requestID int64
	permit    *signing.Permit
}

// Release gives back what the slot reserved (CompleteSigning does it).
func (sl *SigningSlot) Release() {
	if sl != nil {
		sl.permit.Release()
	}
}

// PrepareSigning is the step before a signing request's single-use
// approval is verified and spent: it checks that the request is the
// actor's, counts the password check against the actor's rate limit and
// reserves derivation capacity. A busy or rate-limited server answers 429
// here, and the approval stays unused.
func (s *Service) PrepareSigning(ctx context.Context, a *Actor, requestID int64) (*SigningSlot, error) {
	if err := s.signingAvailable(); err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, a, OpAddKey, 0, ""); err != nil {
		return nil, err
	}
	req, err := s.store.SigningRequest(ctx, requestID)
	if err != nil {
		return nil, err
	}
	if req.UserID != a.User.ID {
		return nil, domain.Errorf(domain.KindForbidden, "this signing request belongs to another user")
	}
	permit, err := s.reservePassword(ctx, a)
	if err != nil {
		return nil, err
	}
	return &SigningSlot{requestID: requestID, permit: permit}, nil
}

// CompleteSigning signs the approved files: the approval must be fresh,
// unused, for this user, and its challenge must commit to the digests of
// the release's CURRENT latest revision. The password unwraps the key in
// memory only; each signature is appended to the public log before it is
// released; the .asc files land as one new revision in the same
// transaction as the audit event. Every attempt is audited.
func (s *Service) CompleteSigning(ctx context.Context, a *Actor, slot *SigningSlot, ap *Approval, password []byte) (res *SigningResult, err error) {
	if slot == nil {
		return nil, domain.Internal("signing", errors.New("no slot from PrepareSigning"))
	}
	defer slot.Release()
	if err := s.signingAvailable(); err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, a, OpAddKey, 0, ""); err != nil {
		return nil, err
	}
	req, err := s.store.SigningRequest(ctx, slot.requestID)
	if err != nil {
		return nil, err
	}
	if req.UserID != a.User.ID {
		return nil, domain.Errorf(domain.KindForbidden, "this signing request belongs to another user")
	}
	ev := &domain.SigningEvent{UserID: a.User.ID, ClientIP: a.ClientIP, RequestID: req.ID, Fingerprint: req.Fingerprint, Tx: string(req.Tx)}
	if ap != nil {
		ev.CredentialID, ev.AAGUID, ev.Flags, ev.SignCount, ev.Assertion = ap.CredentialID, ap.AAGUID, int(ap.Flags), ap.SignCount, ap.Raw
	}
	// Audit every refusal, in its own transaction, with the reason.
	defer func() {
		outcome := "signed"
		if err != nil {
			outcome = "refused"
		}
		s.meter.Inc("signing", outcome)
		if err != nil {
			ev.Time, ev.Outcome = s.now(), "refused: "+domain.PublicMessage(err)
			if aerr := s.store.Tx(ctx, func(tx store.Tx) error { return tx.AddSigningEvent(ctx, ev) }); aerr != nil {
				err = errors.Join(err, aerr)
			}
		}
	}()
	// Single use, whatever happens next: a replayed approval finds it used.
	if err := s.store.Tx(ctx, func(tx store.Tx) error { return tx.UseSigningRequest(ctx, req.ID, s.now()) }); err != nil {
		return nil, err
	}
	if !s.now().Before(req.ExpiresAt) {
		return nil, domain.Errorf(domain.KindConflict, "the approval request expired at %s (they last %s): start again", req.ExpiresAt.UTC().Format(time.RFC3339), ApprovalTTL)
	}
	if ap == nil || subtle.ConstantTimeCompare(ap.Challenge, req.Challenge) != 1 {
		return nil, domain.Errorf(domain.KindForbidden, "the passkey approved something else (another transaction's challenge): nothing was signed")
	}
	if ap.Flags&0x04 == 0 { // UV bit of this assertion
		return nil, domain.Errorf(domain.KindUnauthenticated, "the passkey approval did not verify you (user verification): nothing was signed")
	}
	rel, err := s.store.ReleaseByID(ctx, req.ReleaseID)
	if err != nil {
		return nil, err
	}
	if _, err := s.releaseManager(ctx, a, rel.ProjectKey, rel.Version, "sign its files with a key held by trel"); err != nil {
		return nil, err // no longer a release manager, or no longer in the committee
	}
	if rel.Phase != domain.PhaseDraft || rel.LatestRevision != req.Revision {
		return nil, domain.Errorf(domain.KindConflict, "the release changed since the approval (now revision %d, phase %s): review the files and approve again", rel.LatestRevision, rel.Phase)
	}
	rev, err := s.store.Revision(ctx, rel.ID, rel.LatestRevision)
	if err != nil {
		return nil, err
	}
	var approved signing.Transaction
	if err := json.Unmarshal(req.Tx, &approved); err != nil {
		return nil, domain.Internal("reading the approved transaction", err)
	}
	pol, err := s.store.Policy(ctx, rel.ProjectID)
	if err != nil {
		return nil, err
	}
	if err := policyAcceptsHeldSignatures(pol, rel, approved.Kind); err != nil {
		return nil, err // the policy changed since the approval
	}
	var paths []string
	for _, f := range approved.Files {
		paths = append(paths, f.Path)
	}
	// Recompute the transaction from what is stored NOW and check that the
	// approval commits to it.
	current, err := transactionFor(a.User.Username, req.Fingerprint, rel, rev, paths, approved.Kind, nil)
	if err != nil {
		return nil, err
	}
	if err := signing.VerifyChallenge(current, [32]byte(req.Nonce), ap.Challenge); err != nil {
		return nil, domain.Errorf(domain.KindForbidden, "the approval does not match the files' current digests: nothing was signed")
	}
	k, err := s.store.ServerKey(ctx, req.Fingerprint)
	if err != nil {
		return nil, err
	}
	secret, err := s.openServerKey(ctx, a, k, slot.permit, password)
	slot.permit.Release()
	if err != nil {
		return nil, err
	}
	byPath := map[string]domain.File{}
	for _, f := range rev.Files {
		byPath[f.Path] = f
	}
	var toSign []signing.FileToSign
	for _, f := range current.Files {
		toSign = append(toSign, signing.FileToSign{Path: f.Path, SHA512State: byPath[f.Path].SHA512State, ExpectSHA512: f.SHA512})
	}
	sigs, held, err := s.makeSignatures(ctx, current, secret, toSign)
	signing.Wipe(secret)
	if err != nil {
		return nil, err
	}
	txDigest, err := signing.TransactionDigest(current)
	if err != nil {
		return nil, domain.Internal("digesting the transaction", err)
	}
	// Log every signature before releasing any.
	req2 := RevisionRequest{ExpectRevision: &rev.Number, Description: fmt.Sprintf("signed by trel with key %s, approved by %s", k.Fingerprint, a.User.Username)}
	for _, sig := range sigs {
		sum := sha256.Sum256(sig.Armored)
		idx, err := s.sigLog.Append(ctx, translog.Entry{Kind: translog.KindSignature, KeyFingerprint: k.Fingerprint,
			ArtifactSHA512: sig.SHA512, SignatureSHA256: hex.EncodeToString(sum[:]), TransactionSHA256: txDigest, Time: sig.Created})
		if err != nil {
			return nil, domain.Internal("appending to the public log", err)
		}
		ev.Files = append(ev.Files, domain.SignedFile{Path: sig.Path, SHA512: sig.SHA512, SignatureSHA256: hex.EncodeToString(sum[:]), LogIndex: idx})
		b, err := s.blobs.Put(ctx, bytes.NewReader(sig.Armored), s.maxFileSize)
		if err != nil {
			return nil, err
		}
		if err := s.store.Tx(ctx, func(tx store.Tx) error {
			if err := tx.PutBlob(ctx, b); err != nil {
				return err
			}
			return tx.RecordUpload(ctx, rel.ID, b.SHA256, a.User.ID, s.now())
		}); err != nil {
			return nil, err
		}
		req2.Changes = append(req2.Changes, Change{Op: "put", Path: sig.Path + signatureSuffix(current.Kind), SHA256: b.SHA256})
	}
	out, err := s.createRevision(ctx, a, rel.ProjectKey, rel.Version, req2, func(tx store.Tx, newRev *domain.Revision) error {
		ev.Time, ev.Outcome = s.now(), "signed"
		if err := tx.AddSigningEvent(ctx, ev); err != nil {
			return err
		}
		if err := recordHeldSigstoreKey(ctx, tx, held); err != nil {
			return err
		}
		if err := s.notifySignature(ctx, tx, k.UserID, k.Fingerprint, rel, newRev, len(sigs)); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "signing.sign", releaseTarget(rel), map[string]any{"key": k.Fingerprint, "files": len(sigs), "revision": newRev.Number, "passkey": ap.Passkey, "kind": signatureSuffix(current.Kind)})
	})
	if err != nil {
		return nil, err
	}
	return &SigningResult{Revision: out.Revision, Files: ev.Files}, nil
}

// RefuseSigning records a refused approval (e.g. an assertion without user
// verification) for a signing request, burns the request, and returns why.
func (s *Service) RefuseSigning(ctx context.Context, a *Actor, requestID int64, why error) error {
	if a.User == nil {
		return why
	}
	req, err := s.store.SigningRequest(ctx, requestID)
	if err != nil || req.UserID != a.User.ID {
		return why
	}
	ev := &domain.SigningEvent{Time: s.now(), UserID: a.User.ID, ClientIP: a.ClientIP, RequestID: req.ID, Fingerprint: req.Fingerprint,
		Tx: string(req.Tx), Outcome: "refused: " + domain.PublicMessage(why)}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.UseSigningRequest(ctx, req.ID, s.now()); err != nil && !domain.IsKind(err, domain.KindConflict) {
			return err
		}
		return tx.AddSigningEvent(ctx, ev)
	})
	return errors.Join(why, err)
}

// SigningEvents lists every signing attempt with one of the actor's keys
// (the owner can spot one they did not ask for).
func (s *Service) SigningEvents(ctx context.Context, a *Actor, fpr string) ([]domain.SigningEvent, error) {
	k, err := s.ownServerKey(ctx, a, fpr)
	if err != nil {
		return nil, err
	}
	return s.store.SigningEvents(ctx, k.Fingerprint)
}
