package openpgp

import (
	"bufio"
	"bytes"
	"crypto"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	pgpv2 "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// Reason codes of VerifyResult and SignatureResult.
const (
	CodeNotDetached      = "not-detached"       // cleartext-signed or inline-signed message
	CodeMalformed        = "malformed"          // not a readable OpenPGP signature
	CodeNoSignature      = "no-signature"       // no signature packet at all
	CodePrivateKey       = "private-key"        // the upload is private key material
	CodeUnknownIssuer    = "unknown-issuer"     // made by a key we do not have
	CodeWeakHash         = "weak-hash"          // MD5, SHA-1 or RIPEMD-160 digest
	CodeV3Signature      = "v3-signature"       // obsolete PGP 2.x signature format
	CodeBadSignature     = "bad-signature"      // does not match the data
	CodeHashUnavailable  = "hash-unavailable"   // the data could not be hashed with the signature's algorithm
	CodeFutureSignature  = "future-signature"   // created after opts.Now
	CodeNotYetValid      = "not-yet-valid"      // created before the signing key existed
	CodeKeyRevoked       = "key-revoked"        // primary key or subkey revoked
	CodeKeyExpired       = "key-expired"        // primary key or subkey expired when it signed
	CodeSubkeyNotSigning = "subkey-not-signing" // subkey not allowed to sign
	CodeKeyNotSigning    = "key-not-signing"    // primary key not allowed to sign
	CodeSignatureExpired = "signature-expired"  // the signature's own expiry has passed
	CodeWeakKey          = "weak-key"           // signing key fails the StrengthPolicy
)

// Bounds on signature files.
const (
	maxSignatureBytes = 1 << 20
	maxSignatures     = 32
	defaultClockSkew  = 5 * time.Minute
)

// VerifyOptions tune VerifyDetached.
type VerifyOptions struct {
	// Now is the time the verdict is given at; zero means time.Now().
	Now time.Time
	// UploadTime, when set, flags signatures dated after the upload.
	UploadTime time.Time
	// StrengthPolicy, when set, refuses signatures by weak keys.
	StrengthPolicy *StrengthPolicy
	// ClockSkew tolerated for signatures dated in the future (5 minutes when zero).
	ClockSkew time.Duration
}

// SignatureResult is the verdict on one signature packet.
type SignatureResult struct {
	IssuerKeyID       string // 16 upper-case hex digits, when known
	IssuerFingerprint string // from the issuer fingerprint subpacket, when present
	SignerFingerprint string // primary key of the certificate that made it
	SubkeyFingerprint string // the subkey that made it, when not the primary
	HashAlgorithm     string // e.g. "SHA-512"
	Created           time.Time
	Valid             bool
	ReasonCode        string // empty when valid
	Reason            string // plain-English explanation and what to do
	AfterUpload       bool   // created after VerifyOptions.UploadTime
	Notes             []string
}

// VerifyResult is the verdict on a signature file.
type VerifyResult struct {
	// Valid is true when at least one signature is valid and made by one
	// of the given keys.
	Valid      bool
	ReasonCode string // for an invalid result: a structural code, or the first signature's code
	Reason     string
	Signatures []SignatureResult
}

// VerifyDetached checks a detached signature file (armored or binary, one
// or more signatures) against the data behind src and the given keys.
// Validity of keys is judged at each signature's creation time; see the
// package documentation for the rules.
func VerifyDetached(sig []byte, keys []*Cert, src HashSource, opts VerifyOptions) *VerifyResult {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.ClockSkew <= 0 {
		opts.ClockSkew = defaultClockSkew
	}
	if len(sig) > maxSignatureBytes {
		return failed(CodeMalformed, fmt.Sprintf("the signature file is larger than %d bytes; a detached signature is a few hundred bytes", maxSignatureBytes))
	}
	if err := DetectPrivateKey(sig); err != nil {
		return failed(CodePrivateKey, err.Error())
	}
	pkts, res := signaturePackets(sig)
	if res != nil {
		return res
	}
	if len(pkts) > maxSignatures {
		return failed(CodeMalformed, fmt.Sprintf("the file holds %d signatures; at most %d are checked", len(pkts), maxSignatures))
	}
	cache := newCachingSource(src)
	out := &VerifyResult{}
	for _, p := range pkts {
		r := verifyOne(p, keys, cache, opts)
		out.Signatures = append(out.Signatures, r)
		if r.Valid {
			out.Valid = true
		}
	}
	if !out.Valid {
		first := out.Signatures[0]
		out.ReasonCode = first.ReasonCode
		if len(out.Signatures) == 1 {
			out.Reason = first.Reason
		} else {
			out.Reason = fmt.Sprintf("none of the %d signatures is valid; the first one: %s", len(out.Signatures), first.Reason)
		}
	}
	return out
}

func failed(code, reason string) *VerifyResult {
	return &VerifyResult{ReasonCode: code, Reason: reason}
}

const notDetachedReason = "this is a signed message (%s), not a detached signature; create a detached one with: gpg --armor --detach-sign FILE"

// signaturePackets extracts the signature packets of an armored or binary
// detached signature file, or returns the verdict explaining why it is not one.
func signaturePackets(sig []byte) ([]rawPacket, *VerifyResult) {
	if bytes.Contains(sig, []byte("-----BEGIN PGP SIGNED MESSAGE-----")) {
		return nil, failed(CodeNotDetached, fmt.Sprintf(notDetachedReason, "cleartext signature"))
	}
	var bodies [][]byte
	if bytes.Contains(sig, armorMarker) {
		br := bufio.NewReader(bytes.NewReader(separateArmor(sig)))
		for i := 0; i <= maxSignatures; i++ {
			block, err := armor.Decode(br)
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, failed(CodeMalformed, "unreadable armor: "+err.Error())
			}
			body, err := io.ReadAll(io.LimitReader(block.Body, maxSignatureBytes))
			if err != nil {
				return nil, failed(CodeMalformed, "corrupt armor (bad base64 or checksum): "+err.Error())
			}
			switch block.Type {
			case "PGP SIGNATURE":
			case "PGP MESSAGE":
				return nil, failed(CodeNotDetached, fmt.Sprintf(notDetachedReason, "inline-signed PGP MESSAGE"))
			default:
				return nil, failed(CodeMalformed, fmt.Sprintf("found a %q block where a PGP SIGNATURE was expected", block.Type))
			}
			bodies = append(bodies, body)
		}
		if len(bodies) == 0 {
			return nil, failed(CodeMalformed, "an armor header was found but no complete PGP SIGNATURE block")
		}
	} else {
		bodies = [][]byte{sig}
	}
	var out []rawPacket
	for _, body := range bodies {
		inline := false
		scanTags(body, func(tag int) {
			if tag == tagOnePassSig || tag == tagLiteralData || tag == tagCompressed {
				inline = true
			}
		})
		if inline {
			return nil, failed(CodeNotDetached, fmt.Sprintf(notDetachedReason, "inline-signed message with literal data"))
		}
		pkts, err := splitPackets(body)
		if err != nil {
			return nil, failed(CodeMalformed, "not a readable OpenPGP signature: "+err.Error())
		}
		for _, p := range pkts {
			switch p.tag {
			case tagSignature:
				out = append(out, p)
			case tagPublicKey, tagPublicSubkey:
				return nil, failed(CodeMalformed, "this file holds a public key, not a signature")
			default:
				return nil, failed(CodeMalformed, fmt.Sprintf("unexpected packet (tag %d) in a detached signature", p.tag))
			}
		}
	}
	if len(out) == 0 {
		return nil, failed(CodeNoSignature, "the file holds no signature")
	}
	return out, nil
}

// weakHashes are refused for data signatures (collision attacks).
var weakHashes = map[byte]string{1: "MD5", 2: "SHA-1", 3: "RIPEMD-160"}

// sigBodyOffset is where the packet body starts inside raw.
func sigBodyOffset(p rawPacket) int { return len(p.raw) - len(p.body) }

// verifyOne judges one signature packet.
func verifyOne(p rawPacket, keys []*Cert, src *cachingSource, opts VerifyOptions) SignatureResult {
	var r SignatureResult
	fail := func(code, reason string) SignatureResult {
		r.Valid, r.ReasonCode, r.Reason = false, code, reason
		return r
	}
	if len(p.body) == 0 {
		return fail(CodeMalformed, "empty signature packet")
	}
	if v := p.body[0]; v == 2 || v == 3 {
		// v3 layout: version, 5, type, time(4), key ID(8), pubkey algo, hash algo.
		if len(p.body) >= 17 {
			r.Created = time.Unix(int64(binary.BigEndian.Uint32(p.body[3:7])), 0).UTC()
			r.IssuerKeyID = fmt.Sprintf("%016X", binary.BigEndian.Uint64(p.body[7:15]))
			r.HashAlgorithm = hashIDName(p.body[16])
		}
		return fail(CodeV3Signature, "this is an obsolete version 3 (PGP 2.x) signature, which is no longer accepted; re-sign the file with a current GnuPG: gpg --armor --detach-sign FILE")
	}
	var weak string
	raw := p.raw
	if p.body[0] == 4 && len(p.body) > 3 {
		if name, ok := weakHashes[p.body[3]]; ok {
			weak = name
			// go-crypto refuses to parse MD5 signatures at all; parse a
			// copy claiming SHA-256 only to read issuer and time.
			raw = append([]byte(nil), p.raw...)
			raw[sigBodyOffset(p)+3] = 8
		}
	}
	sig, err := parseSignature(rawPacket{tag: p.tag, raw: raw, body: raw[sigBodyOffset(p):]})
	if err != nil {
		return fail(CodeMalformed, "the signature cannot be read: "+err.Error())
	}
	r.Created = sig.CreationTime.UTC()
	r.HashAlgorithm = hashName(sig.Hash)
	if weak != "" {
		r.HashAlgorithm = weak
	}
	if sig.IssuerKeyId != nil {
		r.IssuerKeyID = fmt.Sprintf("%016X", *sig.IssuerKeyId)
	}
	if len(sig.IssuerFingerprint) > 0 {
		r.IssuerFingerprint = fmt.Sprintf("%X", sig.IssuerFingerprint)
		if r.IssuerKeyID == "" && len(sig.IssuerFingerprint) == 20 {
			r.IssuerKeyID = fmt.Sprintf("%X", sig.IssuerFingerprint[12:])
		}
	}
	if !opts.UploadTime.IsZero() && r.Created.After(opts.UploadTime) {
		r.AfterUpload = true
	}
	if sig.SigType != packet.SigTypeBinary && sig.SigType != packet.SigTypeText {
		return fail(CodeMalformed, fmt.Sprintf("this is a signature of type 0x%02X (a key signature or revocation), not a signature over a file", uint8(sig.SigType)))
	}
	if sig.CreationTime.IsZero() || sig.CreationTime.Unix() == 0 {
		return fail(CodeMalformed, "the signature has no creation time")
	}
	candidates := findSigners(keys, sig)
	if len(candidates) == 0 {
		return fail(CodeUnknownIssuer, unknownIssuerReason(r))
	}
	// Several keys can share a key ID: the first that verifies wins,
	// otherwise the first candidate's verdict is reported.
	var first SignatureResult
	for i, cand := range candidates {
		rr := r
		rr.SignerFingerprint = cand.cert.Fingerprint
		if cand.sub != nil {
			rr.SubkeyFingerprint = fmt.Sprintf("%X", cand.sub.pk.Fingerprint)
		}
		rr = judge(rr, sig, weak, cand, src, opts)
		if rr.Valid {
			return rr
		}
		if i == 0 {
			first = rr
		}
	}
	return first
}

type signer struct {
	cert *Cert
	sub  *subkeyState // nil when the primary key signed
}

func (s signer) pk() *packet.PublicKey {
	if s.sub != nil {
		return s.sub.pk
	}
	return s.cert.primary
}

// findSigners returns the keys (primary or subkey) matching the issuer.
func findSigners(keys []*Cert, sig *packet.Signature) []signer {
	match := func(pk *packet.PublicKey) bool {
		if len(sig.IssuerFingerprint) > 0 {
			return bytes.Equal(sig.IssuerFingerprint, pk.Fingerprint)
		}
		if sig.IssuerKeyId != nil {
			return *sig.IssuerKeyId == pk.KeyId
		}
		return true // no issuer: try every key
	}
	var out []signer
	for _, c := range keys {
		if c == nil || c.primary == nil {
			continue
		}
		if match(c.primary) {
			out = append(out, signer{cert: c})
		}
		for _, s := range c.subs {
			if match(s.pk) {
				out = append(out, signer{cert: c, sub: s})
			}
		}
	}
	return out
}

func unknownIssuerReason(r SignatureResult) string {
	who := "an unidentified key"
	switch {
	case r.IssuerFingerprint != "":
		who = "key " + r.IssuerFingerprint
	case r.IssuerKeyID != "":
		who = "key ID " + r.IssuerKeyID
	}
	return "the signature was made by " + who + ", which is not among the known keys; if it is the release manager's key, add it with `trel keys add` and check again"
}

// judge verifies the cryptography and then the signer's validity at the
// signature's creation time.
func judge(r SignatureResult, sig *packet.Signature, weak string, s signer, src *cachingSource, opts VerifyOptions) SignatureResult {
	fail := func(code, reason string) SignatureResult {
		r.Valid, r.ReasonCode, r.Reason = false, code, reason
		return r
	}
	if weak != "" {
		return fail(CodeWeakHash, fmt.Sprintf("the signature uses the %s digest, which is broken (collisions can be forged) and no longer accepted; re-sign with SHA-512: gpg --digest-algo SHA512 --armor --detach-sign FILE", weak))
	}
	if sig.Hash == crypto.SHA1 {
		return fail(CodeWeakHash, "the signature uses the SHA-1 digest, which is broken and no longer accepted; re-sign with SHA-512: gpg --digest-algo SHA512 --armor --detach-sign FILE")
	}
	h, err := dataHash(sig, src)
	if err != nil {
		return fail(CodeHashUnavailable, "the file could not be hashed for this signature: "+err.Error())
	}
	if err := s.pk().VerifySignature(h, sig); err != nil {
		return fail(CodeBadSignature, "the signature does not match the file: the file was changed after signing, or the signature belongs to another file; re-download both or re-sign the file")
	}
	t := sig.CreationTime
	if t.After(opts.Now.Add(opts.ClockSkew)) {
		return fail(CodeFutureSignature, fmt.Sprintf("the signature claims to be made on %s, which is in the future; check the signer's clock and re-sign", fmtTime(t)))
	}
	// go-crypto's SigExpired also fires for a creation time slightly ahead
	// of Now, which the clock skew above allows: check the lifetime alone.
	if sig.SigLifetimeSecs != nil && *sig.SigLifetimeSecs != 0 && !opts.Now.Before(t.Add(time.Duration(*sig.SigLifetimeSecs)*time.Second)) {
		return fail(CodeSignatureExpired, "the signature carries an expiry date that has passed; re-sign the file")
	}
	if t.Before(s.pk().CreationTime) {
		return fail(CodeNotYetValid, fmt.Sprintf("the signature (%s) claims to be older than the key that made it (created %s); the signature date is wrong, re-sign the file", fmtTime(t), fmtTime(s.pk().CreationTime)))
	}
	c := s.cert
	if code, reason := revokedAt(c.revs, t, "the key "+c.Fingerprint); code != "" {
		return fail(code, reason)
	}
	self, note := sigAt(c.selfSigs(), t)
	if self == nil {
		return fail(CodeKeyExpired, "the key has no self-signature; refresh it from its owner")
	}
	if note != "" {
		r.Notes = append(r.Notes, "the key's self-signatures all postdate the signature; "+note)
	}
	if exp := expiry(c.primary, self); exp != nil && !t.Before(*exp) {
		return fail(CodeKeyExpired, fmt.Sprintf("the key %s had expired on %s, before the signature was made (%s); if the owner extended it since, refresh the key (trel keys add) and check again", c.Fingerprint, fmtTime(*exp), fmtTime(t)))
	}
	signingKey := describeAlg(c.primary)
	if s.sub == nil {
		if self.FlagsValid && !self.FlagSign {
			return fail(CodeKeyNotSigning, "the key's self-signature does not allow it to sign data (no signing flag)")
		}
	} else {
		sub := s.sub
		fpr := fmt.Sprintf("%X", sub.pk.Fingerprint)
		if code, reason := revokedAt(sub.revs, t, "the subkey "+fpr); code != "" {
			return fail(code, reason)
		}
		binding, note := sigAt(sub.bindings, t)
		if binding == nil {
			return fail(CodeSubkeyNotSigning, "the subkey has no binding signature")
		}
		if note != "" {
			r.Notes = append(r.Notes, "the subkey's binding signatures all postdate the signature; "+note)
		}
		if exp := expiry(sub.pk, binding); exp != nil && !t.Before(*exp) {
			return fail(CodeKeyExpired, fmt.Sprintf("the subkey %s had expired on %s, before the signature was made (%s); if the owner extended it since, refresh the key and check again", fpr, fmtTime(*exp), fmtTime(t)))
		}
		if !canSign(sub.pk, binding) {
			return fail(CodeSubkeyNotSigning, fmt.Sprintf("the subkey %s is not allowed to sign (its binding signature lacks the signing flag)", fpr))
		}
		signingKey = describeAlg(sub.pk)
	}
	if opts.StrengthPolicy != nil {
		if err := checkSigner(*opts.StrengthPolicy, s); err != nil {
			return fail(CodeWeakKey, "the signing key is too weak: "+err.Error())
		}
	}
	r.Valid, r.ReasonCode = true, ""
	r.Reason = fmt.Sprintf("good %s signature by %s (%s)", r.HashAlgorithm, c.Fingerprint, signingKey)
	return r
}

func describeAlg(pk *packet.PublicKey) string {
	alg, bits, curve := describeKey(pk)
	if curve != "" {
		return alg + " " + curve
	}
	return fmt.Sprintf("%s-%d", alg, bits)
}

func checkSigner(p StrengthPolicy, s signer) error {
	c := s.cert
	if err := p.checkKey(c.Algorithm, c.Bits, c.Curve, c.Created); err != nil {
		return fmt.Errorf("primary key: %w", err)
	}
	if s.sub != nil {
		alg, bits, curve := describeKey(s.sub.pk)
		if err := p.checkKey(alg, bits, curve, s.sub.pk.CreationTime); err != nil {
			return fmt.Errorf("subkey: %w", err)
		}
	}
	return nil
}

// dataHash returns the hash of the signed data, ready for the trailer.
// v4 binary signatures use the saved state; text-mode and v6 (salted)
// signatures need the content again.
func dataHash(sig *packet.Signature, src *cachingSource) (hash.Hash, error) {
	if sig.Version < 6 && sig.SigType == packet.SigTypeBinary {
		return src.Hash(sig.Hash)
	}
	h, err := sig.PrepareVerify() // v6: the salt comes first
	if err != nil {
		return nil, err
	}
	rc, err := src.Content()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var r io.Reader = rc
	if sig.SigType == packet.SigTypeText {
		r = pgpv2.NewCanonicalTextReader(rc)
	}
	if _, err := io.Copy(h, r); err != nil {
		return nil, fmt.Errorf("read artifact: %w", err)
	}
	return h, nil
}

// revokedAt applies the revocation rules at signature time t: a compromise
// (or no reason) invalidates every signature; superseded/retired only those
// made at or after the revocation.
func revokedAt(revs []sigEntry, t time.Time, what string) (code, reason string) {
	for _, e := range revs {
		rv := revocationOf(e.sig)
		why := revocationWords(rv)
		if rv.Compromised {
			return CodeKeyRevoked, fmt.Sprintf("%s was revoked on %s (%s); no signature by it can be trusted, whatever its date; the signer must re-sign with a new key", what, fmtTime(rv.Time), why)
		}
		if !t.Before(rv.Time) {
			return CodeKeyRevoked, fmt.Sprintf("%s was revoked on %s (%s), before the signature was made (%s); re-sign with the current key", what, fmtTime(rv.Time), why, fmtTime(t))
		}
	}
	return "", ""
}

func revocationWords(rv *Revocation) string {
	var s string
	switch rv.ReasonCode {
	case -1:
		s = "no reason given, treated as compromised"
	case 0:
		s = "no reason specified, treated as compromised"
	case 1:
		s = "superseded"
	case 2:
		s = "key compromised"
	case 3:
		s = "retired"
	default:
		s = fmt.Sprintf("reason code %d, treated as compromised", rv.ReasonCode)
	}
	if rv.ReasonText != "" {
		s += ": " + strings.TrimSpace(rv.ReasonText)
	}
	return s
}

// sigAt returns the newest self-signature made at or before t. When every
// self-signature is newer than t (a key refreshed from an export that
// dropped the older ones), it returns the oldest one and a note: validity
// periods count from the key's creation, so the newer statement covers t.
func sigAt(sigs []sigEntry, t time.Time) (*packet.Signature, string) {
	var best, oldest *packet.Signature
	for _, e := range sigs {
		s := e.sig
		if oldest == nil || s.CreationTime.Before(oldest.CreationTime) {
			oldest = s
		}
		if s.CreationTime.After(t) {
			continue
		}
		if best == nil || s.CreationTime.After(best.CreationTime) {
			best = s
		}
	}
	if best != nil || oldest == nil {
		return best, ""
	}
	return oldest, fmt.Sprintf("judged by the oldest one (%s), as validity counts from key creation; refreshing the key with its older self-signatures removes this note", fmtTime(oldest.CreationTime))
}

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

func hashIDName(id byte) string {
	switch id {
	case 1:
		return "MD5"
	case 2:
		return "SHA-1"
	case 3:
		return "RIPEMD-160"
	case 8:
		return "SHA-256"
	case 9:
		return "SHA-384"
	case 10:
		return "SHA-512"
	case 11:
		return "SHA-224"
	}
	return fmt.Sprintf("hash-%d", id)
}

// Issuer names the key a signature says it was made by.
type Issuer struct {
	KeyID       string // 16 upper-case hex digits
	Fingerprint string // when the signature carries it
}

// Issuers lists the issuers named by the signatures of a signature file,
// without verifying anything (to look the keys up). Unreadable input
// gives none.
func Issuers(sig []byte) []Issuer {
	var out []Issuer
	for _, s := range VerifyDetached(sig, nil, BytesSource(nil), VerifyOptions{}).Signatures {
		is := Issuer{KeyID: s.IssuerKeyID, Fingerprint: s.IssuerFingerprint}
		if is.KeyID == "" && len(is.Fingerprint) >= 16 {
			is.KeyID = is.Fingerprint[len(is.Fingerprint)-16:]
		}
		if is.KeyID != "" {
			out = append(out, is)
		}
	}
	return out
}
