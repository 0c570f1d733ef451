package core

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"trel/internal/domain"
	"trel/internal/signing"
	"trel/internal/sigstore"
	"trel/internal/store"
)

// Kinds of server-side signatures (signing.Transaction.Kind).
const (
	SignOpenPGP  = signing.KindOpenPGP
	SignSigstore = signing.KindSigstore
)

// SetSigstoreSigning names the Sigstore instance whose timestamp authority
// dates the key-based bundles that keys trel holds make (the public-good
// instance by default). Its trusted root must be one the checks trust.
func (s *Service) SetSigstoreSigning(in *sigstore.Instance) { s.sigstoreInst = in }

// SignKind reads the API's and the web form's names: "openpgp" (or
// nothing) and "sigstore"; anything else is left for checkSignKind to
// refuse.
func SignKind(name string) string {
	if name == "openpgp" {
		return SignOpenPGP
	}
	return name
}

// signatureSuffix is the file name suffix of a kind's signatures.
func signatureSuffix(kind string) string {
	if kind == SignSigstore {
		return ".sigstore.json"
	}
	return ".asc"
}

// checkSignKind refuses unknown kinds, and Sigstore bundles when no
// Sigstore instance is configured, before anything is approved.
func (s *Service) checkSignKind(kind string) error {
	switch {
	case kind == SignSigstore && s.sigstoreInst == nil:
		return domain.Errorf(domain.KindUnavailable, "Sigstore signing is not configured on this server")
	case kind == SignOpenPGP, kind == SignSigstore:
		return nil
	}
	return domain.Errorf(domain.KindInvalid, "unknown kind of signature %q: use openpgp (default) or sigstore", kind)
}

// makeSignatures signs the approved files with the unsealed key: OpenPGP
// detached signatures, or key-based Sigstore bundles made with the ECDSA
// P-256 key derived from the held key (message signatures over each file's
// SHA-256, the approved digest, timestamped by the instance's timestamp
// authority; no Rekor entry: trel's own public log records them). held is
// the derived key's public half, to record (nil for OpenPGP).
func (s *Service) makeSignatures(ctx context.Context, tx signing.Transaction, secret []byte, files []signing.FileToSign) ([]signing.Signature, *domain.HeldSigstoreKey, error) {
	if tx.Kind != SignSigstore {
		sigs, err := signing.SignWithOptions(secret, files, signing.SignOptions{Now: s.now})
		if err != nil {
			return nil, nil, domain.Errorf(domain.KindConflict, "signing refused: %v", err)
		}
		return sigs, nil, nil
	}
	if s.sigstoreInst == nil {
		return nil, nil, domain.Errorf(domain.KindUnavailable, "Sigstore signing is not configured on this server")
	}
	priv, err := signing.DeriveSigstoreKey(secret, tx.KeyFingerprint)
	if err != nil {
		return nil, nil, domain.Internal("deriving the Sigstore key", err)
	}
	signer, err := s.sigstoreInst.NewSigner(ctx, sigstore.SignerOptions{Key: priv, KeyName: "key " + tx.KeyFingerprint + " held by trel for " + tx.User, Now: s.now})
	if err != nil {
		return nil, nil, domain.Errorf(domain.KindUnavailable, "cannot sign with Sigstore: %v", err)
	}
	pub, err := sigstore.PublicKeyOf(&priv.PublicKey, "held")
	if err != nil {
		return nil, nil, domain.Internal("encoding the Sigstore key", err)
	}
	pemKey, err := pub.PEM()
	if err != nil {
		return nil, nil, domain.Internal("encoding the Sigstore key", err)
	}
	held := &domain.HeldSigstoreKey{Fingerprint: tx.KeyFingerprint, PublicKey: string(pemKey), KeyID: pub.Fingerprint, CreatedAt: s.now()}
	var out []signing.Signature
	for _, f := range tx.Files {
		digest, err := hex.DecodeString(f.SHA256)
		if err != nil || len(digest) != 32 {
			return nil, nil, domain.Internal("reading the approved SHA-256", fmt.Errorf("%s: %q", f.Path, f.SHA256))
		}
		signed, err := signer.SignDigest(ctx, digest)
		if err != nil {
			return nil, nil, domain.Errorf(domain.KindUnavailable, "cannot make the Sigstore bundle for %s: %v", f.Path, err)
		}
		out = append(out, signing.Signature{Path: f.Path, Armored: signed.JSON, SHA512: f.SHA512,
			Created: signed.Result.SignedAt.UTC().Truncate(time.Second), Fingerprint: tx.KeyFingerprint})
	}
	return out, held, nil
}

// recordHeldSigstoreKey stores the derived key's public half the first
// time it signs, so that checks can verify its bundles without a password.
func recordHeldSigstoreKey(ctx context.Context, tx store.Tx, held *domain.HeldSigstoreKey) error {
	if held == nil {
		return nil
	}
	return tx.PutHeldSigstoreKey(ctx, held)
}

// HeldSigstoreKeys lists the actor's held keys' Sigstore public keys (known
// once each key has signed a bundle).
func (s *Service) HeldSigstoreKeys(ctx context.Context, a *Actor) ([]domain.HeldSigstoreKey, error) {
	if err := s.authorize(ctx, a, OpAddKey, 0, ""); err != nil {
		return nil, err
	}
	return s.store.HeldSigstoreKeys(ctx, []int64{a.User.ID})
}
