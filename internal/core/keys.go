package core

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"trel/internal/domain"
	"trel/internal/openpgp"
	"trel/internal/secrets"
	"trel/internal/store"
)

// Key operations and the roles they need.
const (
	OpAddKey        Op = "add keys"
	OpLinkKey       Op = "add keys to the committee"
	OpAutomationKey Op = "register automation keys"
	OpImportKEYS    Op = "import the committee's KEYS file"
)

func init() {
	required[OpAddKey] = levelAuthenticated
	required[OpLinkKey] = levelParticipant
	required[OpAutomationKey] = levelMember
	required[OpImportKEYS] = levelMember
}

// ChallengeTTL is how long a key ownership challenge may be answered.
const ChallengeTTL = 30 * time.Minute

// DefaultStrength is the policy for newly added keys: RSA of at least 4096
// bits (2048 for keys created before 2026, which are grandfathered),
// EdDSA, or ECDSA on P-256 or stronger.
func DefaultStrength() openpgp.StrengthPolicy {
	return openpgp.StrengthPolicy{MinRSABits: 4096, GrandfatherBefore: domain.KeyGrandfatherBefore}
}

// Key outcome statuses in a KeyReport.
const (
	KeyAdded     = "added"
	KeyRefreshed = "refreshed"
	KeyUnchanged = "unchanged"
	KeyRejected  = "rejected"
)

// KeyReport accounts for every block of an uploaded key file.
type KeyReport struct {
	Blocks    []BlockReport `json:"blocks"`
	Added     int           `json:"added"`
	Refreshed int           `json:"refreshed"`
	Unchanged int           `json:"unchanged"`
	Rejected  int           `json:"rejected"`
}

// BlockReport is one armored block (or a whole binary keyring).
type BlockReport struct {
	Index  int          `json:"index"`
	Type   string       `json:"type"`
	Keys   []KeyOutcome `json:"keys"`
	Reason string       `json:"reason,omitempty"` // why the block was rejected
	Notes  []string     `json:"notes,omitempty"`
}

// KeyOutcome is what happened to one key.
type KeyOutcome struct {
	Fingerprint string   `json:"fingerprint,omitempty"`
	Status      string   `json:"status"`
	Reason      string   `json:"reason,omitempty"`
	UserIDs     []string `json:"user_ids,omitempty"`
}

// AddKeysOptions say where uploaded keys go.
type AddKeysOptions struct {
	Committees []string // link the keys to these committees
	Automation bool     // register them as the committees' automation keys
}

// AddKeys registers the public keys in data (one key, several, or a whole
// KEYS file). New keys must pass the strength policy; known keys are
// refreshed (never losing a revocation). Ownership is NOT granted by
// uploading: the owner proves it with a challenge.
func (s *Service) AddKeys(ctx context.Context, a *Actor, data []byte, opt AddKeysOptions) (*KeyReport, error) {
	if err := s.authorize(ctx, a, OpAddKey, 0, ""); err != nil {
		return nil, err
	}
	var committees []*domain.Committee
	for _, key := range opt.Committees {
		c, err := s.store.CommitteeByKey(ctx, key)
		if err != nil {
			return nil, err
		}
		op := OpLinkKey
		if opt.Automation {
			op = OpAutomationKey
		}
		if err := s.authorize(ctx, a, op, c.ID, c.Key); err != nil {
			return nil, err
		}
		committees = append(committees, c)
	}
	if opt.Automation && len(committees) == 0 {
		return nil, domain.Errorf(domain.KindInvalid, "an automation key belongs to a committee: name it with --committee")
	}
	return s.addKeys(ctx, a, data, committees, opt.Automation)
}

// ImportKEYS imports a committee's KEYS file: every key is linked to the
// committee. Keys from a KEYS file have no proven owner until their owners
// prove possession.
func (s *Service) ImportKEYS(ctx context.Context, a *Actor, committeeKey string, data []byte) (*KeyReport, error) {
	c, err := s.store.CommitteeByKey(ctx, committeeKey)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, a, OpImportKEYS, c.ID, c.Key); err != nil {
		return nil, err
	}
	return s.addKeys(ctx, a, data, []*domain.Committee{c}, false)
}

// ImportKEYSFromRelease imports a KEYS file that was uploaded into a draft
// (revision 0 = latest) into the release's committee.
func (s *Service) ImportKEYSFromRelease(ctx context.Context, a *Actor, projectKey, version string, revision int, path string) (*KeyReport, error) {
	f, rc, err := s.OpenFile(ctx, a, projectKey, version, revision, path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if f.Size > maxKeyFile {
		return nil, domain.Errorf(domain.KindTooLarge, "%s is %d bytes; a KEYS file may be at most %d bytes", path, f.Size, maxKeyFile)
	}
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, domain.Internal("reading the KEYS file", err)
	}
	p, err := s.store.ProjectByKey(ctx, projectKey)
	if err != nil {
		return nil, err
	}
	return s.ImportKEYS(ctx, a, p.CommitteeKey, data)
}

func (s *Service) addKeys(ctx context.Context, a *Actor, data []byte, committees []*domain.Committee, automation bool) (*KeyReport, error) {
	if a.User == nil {
		return nil, domain.Errorf(domain.KindInvalid, "keys are added by a user")
	}
	if err := openpgp.DetectPrivateKey(data); err != nil {
		// The message says the key must be treated as compromised; the
		// bytes are neither stored nor logged.
		return nil, &domain.Error{Kind: domain.KindInvalid, Message: err.Error()}
	}
	if f := secrets.Scan(data); f != nil { // PKCS#12, SSH keys, tokens...
		return nil, &domain.Error{Kind: domain.KindInvalid, Message: f.Error()}
	}
	res, err := openpgp.LoadKeys(bytes.NewReader(data))
	if err != nil {
		return nil, domain.Errorf(domain.KindInvalid, "cannot read the key file: %v", err)
	}
	if len(res.Blocks) == 0 {
		return nil, domain.Errorf(domain.KindInvalid, "no OpenPGP public key found: give an armored key (gpg --export --armor FPR) or a KEYS file")
	}
	now := s.now()
	outcomes := map[string]KeyOutcome{}
	var affected []int64
	for _, c := range committees {
		affected = append(affected, c.ID)
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		for _, cert := range res.Certs {
			o, err := s.putCert(ctx, tx, a, cert, now)
			if err != nil {
				return err
			}
			outcomes[cert.Fingerprint] = o
			if o.Status == KeyRejected {
				continue
			}
			stored, err := tx.Key(ctx, cert.Fingerprint)
			if err != nil {
				return err
			}
			if o.Status != KeyUnchanged {
				for _, l := range stored.Committees {
					affected = append(affected, l.CommitteeID)
				}
			}
			// A deleted key gains no new link: it stays as it was.
			for _, c := range committees {
				if stored.DeletedAt != nil {
					break
				}
				if err := s.mayLink(ctx, a, stored, c); err != nil {
					return err
				}
				if err := tx.LinkKey(ctx, domain.CommitteeKey{CommitteeID: c.ID, Fingerprint: cert.Fingerprint, Automation: automation, AddedAt: now}, a.User.ID); err != nil {
					return err
				}
			}
			details := map[string]any{"status": o.Status, "committees": keysOf(committees), "automation": automation}
			if err := s.audit(ctx, tx, a, "key."+o.Status, "key:"+cert.Fingerprint, details); err != nil {
				return err
			}
		}
		return s.queueCommitteeChecks(ctx, tx, affected)
	})
	if err != nil {
		return nil, err
	}
	s.notifyChecks()
	return buildReport(res, outcomes), nil
}

// putCert stores one certificate: new (strength policy applies), refreshed
// or unchanged.
func (s *Service) putCert(ctx context.Context, tx store.Tx, a *Actor, cert *openpgp.Cert, now time.Time) (KeyOutcome, error) {
	o := KeyOutcome{Fingerprint: cert.Fingerprint, UserIDs: cert.UserIDs}
	old, err := tx.Key(ctx, cert.Fingerprint)
	switch {
	case domain.IsKind(err, domain.KindNotFound):
		if err := DefaultStrength().Check(cert); err != nil {
			o.Status, o.Reason = KeyRejected, err.Error()
			return o, nil
		}
		k, err := keyFromCert(cert, a, now)
		if err != nil {
			return o, err
		}
		o.Status = KeyAdded
		return o, tx.PutKey(ctx, k)
	case err != nil:
		return o, err
	}
	stored, err := parseStored(old)
	if err != nil {
		return o, err
	}
	merged, changed, err := openpgp.Merge(stored, cert)
	if err != nil {
		o.Status, o.Reason = KeyRejected, err.Error()
		return o, nil
	}
	k, err := keyFromCert(merged, a, now)
	if err != nil {
		return o, err
	}
	if old.DeletedAt != nil {
		// A deleted key stays deleted, with its owner and links: a
		// re-upload may only add revocations. Restoring it takes the
		// owner's fresh proof or an administrator.
		o.Reason = fmt.Sprintf("key %s was deleted and stays deleted; its owner restores it by proving it again (`trel keys challenge %s`), or an administrator with `trel keys restore %s`",
			k.Fingerprint, k.Fingerprint, k.Fingerprint)
		if !changed || !addsRevocation(old, k) {
			o.Status = KeyUnchanged
			return o, nil
		}
		o.Status = KeyRefreshed
		return o, tx.PutKey(ctx, k)
	}
	if !changed {
		o.Status = KeyUnchanged
		return o, nil
	}
	o.Status = KeyRefreshed
	return o, tx.PutKey(ctx, k)
}

// addsRevocation reports whether k revokes the key or a subkey that old
// did not.
func addsRevocation(old, k *domain.Key) bool {
	if k.RevokedAt != nil && (old.RevokedAt == nil || k.Compromised && !old.Compromised) {
		return true
	}
	was := map[string]bool{}
	for _, sk := range old.Subkeys {
		was[sk.Fingerprint] = sk.RevokedAt != nil
	}
	for _, sk := range k.Subkeys {
		if sk.RevokedAt != nil && !was[sk.Fingerprint] {
			return true
		}
	}
	return false
}

// mayLink decides whether a may link key k to committee c. A committee
// member may link any key; a committer only a key they own, or one nobody
// owns yet that carries their e-mail address (they prove it next). The
// caller has checked that a participates in c.
func (s *Service) mayLink(ctx context.Context, a *Actor, k *domain.Key, c *domain.Committee) error {
	for _, l := range k.Committees {
		if l.CommitteeID == c.ID {
			return nil // already linked: a refresh changes nothing here
		}
	}
	if s.authorize(ctx, a, OpImportKEYS, c.ID, c.Key) == nil {
		return nil
	}
	if k.OwnerID == a.User.ID || k.OwnerID == 0 && slices.Contains(k.Emails, strings.ToLower(a.User.Email)) {
		return nil
	}
	owner := "nobody has proven to own it"
	if k.Owner != "" {
		owner = "it belongs to " + k.Owner
	}
	return domain.Errorf(domain.KindForbidden, "key %s (%s) is not yours: %s, and none of its user IDs carries your address %s. Only a member of committee %s may add someone else's key to it; add your own key instead and prove it with `trel keys challenge`",
		k.Fingerprint, strings.Join(k.UserIDs, ", "), owner, a.User.Email, c.Key)
}

func parseStored(k *domain.Key) (*openpgp.Cert, error) {
	res, err := openpgp.LoadKeys(strings.NewReader(k.Armored))
	if err != nil || len(res.Certs) != 1 {
		return nil, domain.Internal("reading a stored key", fmt.Errorf("key %s: %v", k.Fingerprint, err))
	}
	return res.Certs[0], nil
}

func keyFromCert(c *openpgp.Cert, a *Actor, now time.Time) (*domain.Key, error) {
	armored, err := c.Armored()
	if err != nil {
		return nil, domain.Internal("exporting a key", err)
	}
	k := &domain.Key{
		Fingerprint: c.Fingerprint, KeyID: c.KeyID, Algorithm: c.Algorithm, Bits: c.Bits, Curve: c.Curve,
		CreatedAt: c.Created, ExpiresAt: c.Expires, UserIDs: c.UserIDs, Emails: c.Emails, Armored: string(armored),
		UploadedByID: a.id(), UploadedAt: now, UpdatedAt: now,
	}
	if r := c.Revocation; r != nil {
		t := r.Time
		k.RevokedAt, k.RevocationReason, k.Compromised = &t, r.ReasonText, r.Compromised
	}
	for _, sk := range c.Subkeys {
		d := domain.Subkey{Fingerprint: sk.Fingerprint, KeyID: sk.KeyID, Algorithm: sk.Algorithm, Bits: sk.Bits, Curve: sk.Curve,
			CreatedAt: sk.Created, ExpiresAt: sk.Expires, CanSign: sk.CanSign}
		if sk.Revoked != nil {
			t := sk.Revoked.Time
			d.RevokedAt = &t
		}
		k.Subkeys = append(k.Subkeys, d)
	}
	return k, nil
}

func buildReport(res *openpgp.LoadResult, outcomes map[string]KeyOutcome) *KeyReport {
	rep := &KeyReport{}
	for _, b := range res.Blocks {
		br := BlockReport{Index: b.Index, Type: b.Type, Notes: b.Notes}
		if b.Status != openpgp.StatusAccepted {
			br.Reason = b.Reason
		}
		for _, fpr := range b.Fingerprints {
			o, ok := outcomes[fpr]
			if !ok {
				o = KeyOutcome{Fingerprint: fpr, Status: KeyRejected, Reason: b.Reason}
			}
			br.Keys = append(br.Keys, o)
		}
		if len(b.Fingerprints) == 0 {
			br.Keys = append(br.Keys, KeyOutcome{Status: KeyRejected, Reason: b.Reason})
		}
		rep.Blocks = append(rep.Blocks, br)
	}
	// Count keys, not blocks: a key and its revocation in two blocks are
	// one key.
	seen := map[string]bool{}
	for _, b := range rep.Blocks {
		for _, o := range b.Keys {
			if o.Fingerprint != "" && seen[o.Fingerprint] {
				continue
			}
			seen[o.Fingerprint] = o.Fingerprint != ""
			switch o.Status {
			case KeyAdded:
				rep.Added++
			case KeyRefreshed:
				rep.Refreshed++
			case KeyUnchanged:
				rep.Unchanged++
			default:
				rep.Rejected++
			}
		}
	}
	return rep
}

func keysOf(cs []*domain.Committee) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Key)
	}
	return out
}

// Key returns one key (public).
func (s *Service) Key(ctx context.Context, a *Actor, fpr string) (*domain.Key, error) {
	return s.store.Key(ctx, normalizeFpr(fpr))
}

// MyKeys lists the keys the actor owns or uploaded.
func (s *Service) MyKeys(ctx context.Context, a *Actor) ([]domain.Key, error) {
	if err := s.authorize(ctx, a, OpAddKey, 0, ""); err != nil {
		return nil, err
	}
	return s.store.UserKeys(ctx, a.User.ID)
}

// CommitteeKeys lists a committee's keys (public).
func (s *Service) CommitteeKeys(ctx context.Context, a *Actor, committeeKey string) ([]domain.Key, error) {
	c, err := s.store.CommitteeByKey(ctx, committeeKey)
	if err != nil {
		return nil, err
	}
	return s.store.CommitteeKeys(ctx, c.ID, false)
}

func normalizeFpr(s string) string {
	return strings.ToUpper(strings.ReplaceAll(strings.TrimPrefix(strings.TrimSpace(s), "0x"), " ", ""))
}

// KeyChallenge starts an ownership proof: it returns the exact text the
// user signs with the key. The key must carry one of the user's e-mail
// addresses; the challenge is single use and expires after ChallengeTTL.
func (s *Service) KeyChallenge(ctx context.Context, a *Actor, fpr string) (string, error) {
	if err := s.authorize(ctx, a, OpAddKey, 0, ""); err != nil {
		return "", err
	}
	k, err := s.store.Key(ctx, normalizeFpr(fpr))
	if err != nil {
		return "", err
	}
	if err := s.canClaim(a, k); err != nil {
		return "", err
	}
	var nonce [32]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", domain.Internal("making a challenge", err)
	}
	now := s.now()
	c := &domain.Challenge{Fingerprint: k.Fingerprint, UserID: a.User.ID, CreatedAt: now, ExpiresAt: now.Add(ChallengeTTL)}
	c.Text = fmt.Sprintf("trel key ownership challenge\n"+
		"Signing this text proves that %s holds the OpenPGP key below.\n"+
		"user: %s\nkey: %s\nnonce: %s\nexpires: %s\n",
		a.User.Username, a.User.Username, k.Fingerprint, hex.EncodeToString(nonce[:]), c.ExpiresAt.UTC().Format(time.RFC3339))
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateChallenge(ctx, c); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "key.challenge", "key:"+k.Fingerprint, nil)
	})
	return c.Text, err
}

// canClaim decides whether a may prove to hold k. Proving a deleted key
// again restores it (for its owner, or anyone who may claim an unowned one).
func (s *Service) canClaim(a *Actor, k *domain.Key) error {
	if k.OwnerID != 0 && k.OwnerID != a.User.ID {
		return domain.Errorf(domain.KindConflict, "key %s is already owned by another user", k.Fingerprint)
	}
	if !slices.Contains(k.Emails, strings.ToLower(a.User.Email)) {
		return domain.Errorf(domain.KindForbidden, "no user ID of key %s carries your e-mail address %s (it has: %s): add a user ID with your address to the key (gpg --quick-add-uid) and upload it again",
			k.Fingerprint, a.User.Email, strings.Join(k.Emails, ", "))
	}
	return nil
}

// ProveKey completes an ownership proof with a detached signature of the
// challenge text made by the key (gpg --detach-sign --armor works).
func (s *Service) ProveKey(ctx context.Context, a *Actor, fpr string, signature []byte) (*domain.Key, error) {
	if err := s.authorize(ctx, a, OpAddKey, 0, ""); err != nil {
		return nil, err
	}
	fpr = normalizeFpr(fpr)
	k, err := s.store.Key(ctx, fpr)
	if err != nil {
		return nil, err
	}
	if err := s.canClaim(a, k); err != nil {
		return nil, err
	}
	ch, err := s.store.OpenChallenge(ctx, a.User.ID, fpr)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if now.After(ch.ExpiresAt) {
		return nil, domain.Errorf(domain.KindInvalid, "the challenge expired at %s: request a new one with `trel keys challenge %s`", ch.ExpiresAt.UTC().Format(time.RFC3339), fpr)
	}
	cert, err := parseStored(k)
	if err != nil {
		return nil, err
	}
	// The signature may be over the text as given, or over the text as an
	// editor saved it: without its final newline, or with CRLF line ends.
	var res *openpgp.VerifyResult
	for _, text := range challengeVariants(ch.Text) {
		if res = openpgp.VerifyDetached(signature, []*openpgp.Cert{cert}, openpgp.BytesSource(text), openpgp.VerifyOptions{Now: now}); res.Valid {
			break
		}
	}
	if !res.Valid {
		return nil, domain.Errorf(domain.KindInvalid, "the signature does not prove possession of key %s: %s. Sign the exact challenge text, e.g. `trel keys challenge %s > c.txt && gpg --local-user %s --armor --detach-sign c.txt`", fpr, res.Reason, fpr, fpr)
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.UseChallenge(ctx, ch.ID, now); err != nil {
			return err
		}
		if err := tx.SetKeyOwner(ctx, fpr, a.User.ID, "challenge", now); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a, "key.prove", "key:"+fpr, nil); err != nil {
			return err
		}
		if k.DeletedAt != nil {
			if err := tx.RestoreKey(ctx, fpr); err != nil {
				return err
			}
			if err := s.audit(ctx, tx, a, "key.restore", "key:"+fpr, map[string]any{"by": "owner's proof"}); err != nil {
				return err
			}
		}
		var ids []int64
		for _, l := range k.Committees {
			ids = append(ids, l.CommitteeID)
		}
		return s.queueCommitteeChecks(ctx, tx, ids)
	})
	if err != nil {
		return nil, err
	}
	s.notifyChecks()
	return s.store.Key(ctx, fpr)
}

// DeleteKey soft-deletes a key. Its owner may delete it, an administrator
// may, and so may a member of a committee it is linked to when nobody owns
// it. Keys that signed something trel accepted stay in KEYS files as
// historic keys.
func (s *Service) DeleteKey(ctx context.Context, a *Actor, fpr string) error {
	if err := s.authorize(ctx, a, OpAddKey, 0, ""); err != nil {
		return err
	}
	k, err := s.store.Key(ctx, normalizeFpr(fpr))
	if err != nil {
		return err
	}
	if k.DeletedAt != nil {
		return domain.Errorf(domain.KindNotFound, "key %s is already deleted", k.Fingerprint)
	}
	allowed := a.User.Admin || k.OwnerID == a.User.ID || (k.OwnerID == 0 && k.UploadedByID == a.User.ID)
	for _, l := range k.Committees {
		if !allowed && k.OwnerID == 0 && s.authorize(ctx, a, OpImportKEYS, l.CommitteeID, l.CommitteeKey) == nil {
			allowed = true
		}
	}
	if !allowed {
		return domain.Errorf(domain.KindForbidden, "only the key's owner, an administrator, or (for a key nobody owns) a member of its committee may delete key %s", k.Fingerprint)
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.SoftDeleteKey(ctx, k.Fingerprint, s.now()); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a, "key.delete", "key:"+k.Fingerprint, map[string]any{"historic": k.Historic}); err != nil {
			return err
		}
		var ids []int64
		for _, l := range k.Committees {
			ids = append(ids, l.CommitteeID)
		}
		return s.queueCommitteeChecks(ctx, tx, ids)
	})
	if err != nil {
		return err
	}
	s.notifyChecks()
	return nil
}

// keysFileEntry is one key a committee's KEYS file lists: the owner line,
// why it is only historic (Stale, empty when it counts) and the published
// releases it signed.
type keysFileEntry struct {
	Key      domain.Key
	Owner    string
	Stale    string
	Releases []string
}

// keysFileEntries lists the keys of a committee's KEYS file, sorted by
// fingerprint: every key that counts, and those that no longer count but
// signed a published release.
func (s *Service) keysFileEntries(ctx context.Context, c *domain.Committee) ([]keysFileEntry, error) {
	keys, err := s.store.CommitteeKeys(ctx, c.ID, true)
	if err != nil {
		return nil, err
	}
	signed, err := s.store.PublishedSigners(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	members, err := s.store.Members(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	participants := map[int64]bool{}
	for _, m := range members {
		participants[m.UserID] = true
	}
	var out []keysFileEntry
	for _, k := range keys {
		owner, stale := keyStanding(k, c, participants)
		releases := signed[k.Fingerprint]
		if stale != "" && len(releases) == 0 {
			continue
		}
		out = append(out, keysFileEntry{Key: k, Owner: owner, Stale: stale, Releases: releases})
	}
	return out, nil
}

// KEYSFile renders a committee's KEYS file: keys sorted by fingerprint,
// each preceded by a comment with its fingerprint and owner. It holds only
// keys that count: a key linked to the committee whose proven owner is a
// member or committer of it, or the committee's automation key. A key that
// no longer counts (deleted, owner gone, never proven) stays only when it
// signed a published release of the committee, marked historic, so that
// old releases keep verifying. It is rendered from the database on every
// request, so it always reflects the latest change.
func (s *Service) KEYSFile(ctx context.Context, committeeKey string) ([]byte, error) {
	c, err := s.store.CommitteeByKey(ctx, committeeKey)
	if err != nil {
		return nil, err
	}
	entries, err := s.keysFileEntries(ctx, c)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# KEYS file of %s (committee %s), generated by trel.\n", c.Name, c.Key)
	fmt.Fprintf(&b, "# It holds the OpenPGP public keys whose signatures the committee accepts.\n#\n")
	fmt.Fprintf(&b, "# To verify a download, import these keys and check the signature:\n#\n")
	fmt.Fprintf(&b, "#   gpg --import KEYS\n#   gpg --verify ARTIFACT.asc ARTIFACT\n#\n")
	fmt.Fprintf(&b, "# The download is good when gpg reports \"Good signature\" from a key below.\n")
	fmt.Fprintf(&b, "# Keys are sorted by fingerprint.\n")
	n := 0
	for _, e := range entries {
		k := e.Key
		n++
		fmt.Fprintf(&b, "\n# Fingerprint: %s\n", k.Fingerprint)
		fmt.Fprintf(&b, "# Key:         %s %s, created %s", k.Algorithm, keyStrength(k), k.CreatedAt.UTC().Format("2006-01-02"))
		if k.ExpiresAt != nil {
			fmt.Fprintf(&b, ", expires %s", k.ExpiresAt.UTC().Format("2006-01-02"))
		}
		fmt.Fprintln(&b)
		for _, uid := range k.UserIDs {
			fmt.Fprintf(&b, "# User ID:     %s\n", sanitizeComment(uid))
		}
		fmt.Fprintf(&b, "# Owner:       %s\n", e.Owner)
		if k.HeldByTrel() {
			fmt.Fprintf(&b, "# Held by trel: the secret key never leaves the server; it signs only after its owner's\n#              passkey approval, and each of its signatures is in trel's public log\n")
		}
		if k.RevokedAt != nil {
			fmt.Fprintf(&b, "# Revoked:     %s\n", k.RevokedAt.UTC().Format("2006-01-02"))
		}
		if e.Stale != "" {
			fmt.Fprintf(&b, "# Historic:    %s; kept because it signed published releases (%s); not accepted for new ones\n",
				e.Stale, sanitizeComment(strings.Join(e.Releases, ", ")))
		}
		b.WriteString(strings.TrimRight(k.Armored, "\n"))
		b.WriteString("\n")
	}
	if n == 0 {
		fmt.Fprintf(&b, "\n# (no keys yet: committee participants add theirs with `trel keys add KEYFILE --committee %s`)\n", c.Key)
	}
	return b.Bytes(), nil
}

// keyStanding describes a key's owner for its KEYS comment, and says why
// it does not count for the committee now ("" when it does).
func keyStanding(k domain.Key, c *domain.Committee, participants map[int64]bool) (owner, stale string) {
	for _, l := range k.Committees {
		if l.CommitteeID == c.ID && l.Automation {
			owner = "automation key of committee " + c.Key + " (registered by " + l.AddedBy + ")"
		}
	}
	switch {
	case owner != "":
	case k.Owner != "":
		owner = k.Owner + " (proven by " + k.Proof + ")"
		if !participants[k.OwnerID] {
			stale = k.Owner + " is no longer a member or committer of the committee"
		}
	default:
		owner, stale = "no proven owner", "nobody proved to hold it"
	}
	if k.DeletedAt != nil {
		stale = "deleted " + k.DeletedAt.UTC().Format("2006-01-02")
	}
	return owner, stale
}

// OpRestoreKey is restoring a deleted key without its owner's proof.
const OpRestoreKey Op = "restore a deleted key without its owner's proof"

func init() { required[OpRestoreKey] = levelAdmin }

// RestoreKey undoes a key's deletion (administrators). The owner restores
// their own key by proving it again (KeyChallenge, then ProveKey).
func (s *Service) RestoreKey(ctx context.Context, a *Actor, fpr string) (*domain.Key, error) {
	fpr = normalizeFpr(fpr)
	if err := s.authorize(ctx, a, OpRestoreKey, 0, ""); err != nil {
		if domain.IsKind(err, domain.KindForbidden) {
			return nil, domain.Errorf(domain.KindForbidden, "only an administrator restores a deleted key directly; the key's owner restores it by proving it again: `trel keys challenge %s`, then `trel keys prove %s --signature FILE`", fpr, fpr)
		}
		return nil, err
	}
	k, err := s.store.Key(ctx, fpr)
	if err != nil {
		return nil, err
	}
	if k.DeletedAt == nil {
		return nil, domain.Errorf(domain.KindConflict, "key %s is not deleted", fpr)
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.RestoreKey(ctx, fpr); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a, "key.restore", "key:"+fpr, map[string]any{"by": "administrator"}); err != nil {
			return err
		}
		var ids []int64
		for _, l := range k.Committees {
			ids = append(ids, l.CommitteeID)
		}
		return s.queueCommitteeChecks(ctx, tx, ids)
	})
	if err != nil {
		return nil, err
	}
	s.notifyChecks()
	return s.store.Key(ctx, fpr)
}

// MyDeletedKeys lists the deleted keys the actor owns (to restore them).
func (s *Service) MyDeletedKeys(ctx context.Context, a *Actor) ([]domain.Key, error) {
	if err := s.authorize(ctx, a, OpAddKey, 0, ""); err != nil {
		return nil, err
	}
	return s.store.DeletedKeys(ctx, a.User.ID)
}

func keyStrength(k domain.Key) string {
	if k.Curve != "" {
		return k.Curve
	}
	return fmt.Sprintf("%d bits", k.Bits)
}

// sanitizeComment keeps a user ID on one comment line.
func sanitizeComment(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// maxKeyFile bounds a KEYS file read from a release.
const maxKeyFile = 4 << 20

// challengeVariants are the texts a proof signature may cover: the
// challenge as given, without its final newline, and with CRLF line ends.
func challengeVariants(text string) []string {
	crlf := strings.ReplaceAll(text, "\n", "\r\n")
	return []string{text, strings.TrimSuffix(text, "\n"), crlf, strings.TrimSuffix(crlf, "\r\n")}
}

// MyChallenge returns the text of the actor's open ownership challenge for
// a key (to download it as challenge.txt).
func (s *Service) MyChallenge(ctx context.Context, a *Actor, fpr string) (string, error) {
	if err := s.authorize(ctx, a, OpAddKey, 0, ""); err != nil {
		return "", err
	}
	ch, err := s.store.OpenChallenge(ctx, a.User.ID, normalizeFpr(fpr))
	if err != nil {
		return "", err
	}
	if s.now().After(ch.ExpiresAt) {
		return "", domain.Errorf(domain.KindInvalid, "the challenge expired at %s: ask for a new one", ch.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return ch.Text, nil
}
