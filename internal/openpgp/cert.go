package openpgp

import (
	"bytes"
	"crypto/dsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Revocation describes a revocation signature made by the key itself.
type Revocation struct {
	Time time.Time
	// ReasonCode is the RFC 9580 reason code, or -1 when the signature has
	// no reason subpacket.
	ReasonCode int
	ReasonText string
	// Compromised is true unless the reason says the key was merely
	// superseded (1) or retired (3). A compromised key is invalid for every
	// signature, also ones dated before the revocation.
	Compromised bool
}

// Subkey summarises one bound subkey.
type Subkey struct {
	Fingerprint string
	KeyID       string
	Algorithm   string
	Bits        int
	Curve       string
	Created     time.Time
	Expires     *time.Time // nil = never
	Revoked     *Revocation
	CanSign     bool
}

// Cert summarises one OpenPGP certificate (a public key with its user IDs,
// subkeys and self-signatures). Only self-signatures that verify are kept;
// third-party certifications and user attributes (photos) are dropped.
// The exported fields are a summary computed from the kept packets.
type Cert struct {
	Fingerprint string // upper-case hex
	KeyID       string // upper-case hex, 16 digits
	Algorithm   string // "RSA", "EdDSA", "Ed25519", "ECDSA", "DSA", "ElGamal", ...
	Bits        int
	Curve       string
	Created     time.Time
	Expires     *time.Time // nil = never, judged by the newest self-signature
	Revocation  *Revocation
	UserIDs     []string
	Emails      []string // lower-cased addresses from the user IDs
	Subkeys     []Subkey
	SelfSigTime time.Time // creation time of the newest self-signature

	primary    *packet.PublicKey
	primaryRaw []byte
	direct     []sigEntry // direct-key self-signatures (0x1F)
	revs       []sigEntry // key revocations (0x20)
	ids        []*identity
	subs       []*subkeyState
}

type sigEntry struct {
	sig *packet.Signature
	raw []byte
}

type identity struct {
	name     string
	email    string
	raw      []byte
	selfSigs []sigEntry // certifications 0x10-0x13 by the primary key
	revs     []sigEntry // certification revocations 0x30
}

type subkeyState struct {
	pk       *packet.PublicKey
	raw      []byte
	bindings []sigEntry // subkey bindings 0x18
	revs     []sigEntry // subkey revocations 0x28
	lastErr  error      // why the last binding candidate was refused
}

// parsePublicKey parses a public key or subkey packet and turns go-crypto's
// errors into reasons a key owner can act on.
func parsePublicKey(p rawPacket) (*packet.PublicKey, error) {
	if len(p.body) == 0 {
		return nil, errors.New("empty key packet")
	}
	if v := p.body[0]; v == 2 || v == 3 {
		return nil, fmt.Errorf("version %d key (PGP 2.x era, MD5 fingerprint%s) is obsolete and not supported; ask the owner for a modern (v4) key", v, v3KeyHint(p.body))
	}
	parsed, err := packet.Read(bytes.NewReader(p.raw))
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "large public exponent") {
			return nil, errors.New("RSA key with an unusually large public exponent is not supported (expected 65537)")
		}
		return nil, fmt.Errorf("unsupported or malformed key packet: %w", err)
	}
	pk, ok := parsed.(*packet.PublicKey)
	if !ok {
		return nil, fmt.Errorf("expected a public key packet, found %T", parsed)
	}
	if e := rsaExponent(pk); e != 0 && (e < 3 || e%2 == 0) {
		return nil, fmt.Errorf("RSA key with unusual public exponent %d is not supported (expected 65537)", e)
	}
	if err := checkKeySize(pk); err != nil {
		return nil, err
	}
	return pk, nil
}

// v3KeyHint returns ", key ID XXXXXXXXXXXXXXXX" for a v3 RSA key (its key ID
// is the low 64 bits of the modulus), so the owner can find the block.
func v3KeyHint(body []byte) string {
	// version(1) created(4) validity days(2) algo(1) MPI n
	if len(body) < 10 || body[7] > 3 {
		return ""
	}
	bits := int(body[8])<<8 | int(body[9])
	n := (bits + 7) / 8
	if n < 8 || len(body) < 10+n {
		return ""
	}
	mod := new(big.Int).SetBytes(body[10 : 10+n])
	return fmt.Sprintf(", key ID %016X", new(big.Int).And(mod, new(big.Int).SetUint64(^uint64(0))).Uint64())
}

// checkKeySize refuses parameters no real key has: verifying with them
// costs seconds to minutes of CPU (a denial of service on upload).
func checkKeySize(pk *packet.PublicKey) error {
	switch k := pk.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() > 16384 {
			return fmt.Errorf("RSA key of %d bits is larger than any supported key (16384)", k.N.BitLen())
		}
	case *dsa.PublicKey:
		if k.P.BitLen() > 3072 || k.Q.BitLen() > 256 {
			return fmt.Errorf("DSA key with %d/%d-bit parameters is outside the DSA standard sizes", k.P.BitLen(), k.Q.BitLen())
		}
	}
	if pk.PubKeyAlgo == packet.PubKeyAlgoElGamal {
		if bits, err := pk.BitLength(); err == nil && bits > 8192 {
			return fmt.Errorf("ElGamal key of %d bits is larger than any supported key", bits)
		}
	}
	return nil
}

func rsaExponent(pk *packet.PublicKey) int {
	if k, ok := pk.PublicKey.(*rsa.PublicKey); ok {
		return k.E
	}
	return 0
}

// parseSignature parses one signature packet.
func parseSignature(p rawPacket) (*packet.Signature, error) {
	if len(p.body) > 0 && (p.body[0] == 2 || p.body[0] == 3) {
		return nil, fmt.Errorf("version %d signature (obsolete PGP 2.x format) is not supported", p.body[0])
	}
	parsed, err := packet.Read(bytes.NewReader(p.raw))
	if err != nil {
		return nil, fmt.Errorf("unreadable signature: %w", err)
	}
	sig, ok := parsed.(*packet.Signature)
	if !ok {
		return nil, fmt.Errorf("expected a signature packet, found %T", parsed)
	}
	return sig, nil
}

// isSelfIssued reports whether sig claims to be made by pk.
func isSelfIssued(sig *packet.Signature, pk *packet.PublicKey) bool {
	if len(sig.IssuerFingerprint) > 0 {
		return bytes.Equal(sig.IssuerFingerprint, pk.Fingerprint)
	}
	if sig.IssuerKeyId != nil {
		return *sig.IssuerKeyId == pk.KeyId
	}
	// No issuer at all: we can still try to verify with the primary.
	return true
}

// parseCert builds a Cert from the packets of one certificate (the first
// packet is the primary key). Notes record everything that was dropped.
func parseCert(pkts []rawPacket) (*Cert, []string, error) {
	pk, err := parsePublicKey(pkts[0])
	if err != nil {
		return nil, nil, err
	}
	c := &Cert{primary: pk, primaryRaw: pkts[0].raw}
	var notes []string
	var curID *identity
	var curSub *subkeyState
	inAttribute, skipSub := false, false
	var lastSelfSigErr error
	for _, p := range pkts[1:] {
		switch p.tag {
		case tagUserID:
			parsed, err := packet.Read(bytes.NewReader(p.raw))
			uid, ok := parsed.(*packet.UserId)
			if err != nil || !ok {
				notes = append(notes, "skipped an unreadable user ID packet")
				curID, inAttribute = nil, true
				continue
			}
			curID = &identity{name: uid.Id, email: strings.ToLower(uid.Email), raw: p.raw}
			c.ids = append(c.ids, curID)
			curSub, inAttribute, skipSub = nil, false, false
		case tagUserAttribute:
			curID, curSub, inAttribute, skipSub = nil, nil, true, false
		case tagPublicSubkey:
			curID, inAttribute = nil, false
			spk, err := parsePublicKey(p)
			if err != nil {
				notes = append(notes, "skipped a subkey: "+err.Error())
				curSub, skipSub = nil, true
				continue
			}
			curSub, skipSub = &subkeyState{pk: spk, raw: p.raw}, false
			c.subs = append(c.subs, curSub)
		case tagSignature:
			sig, err := parseSignature(p)
			if err != nil {
				// Old keys carry v3 certifications by others: skip them,
				// but remember why a subkey binding was unusable.
				if curSub != nil {
					curSub.lastErr = err
				} else if curID == nil {
					lastSelfSigErr = err
				}
				continue
			}
			if !isSelfIssued(sig, pk) {
				continue // third-party certification: not kept
			}
			e := sigEntry{sig: sig, raw: p.raw}
			switch sig.SigType {
			case packet.SigTypeKeyRevocation:
				if err := pk.VerifyRevocationSignature(sig); err != nil {
					notes = append(notes, "dropped a key revocation that does not verify: "+err.Error())
					continue
				}
				c.revs = append(c.revs, e)
			case packet.SigTypeDirectSignature:
				if err := pk.VerifyDirectKeySignature(sig); err != nil {
					lastSelfSigErr = err
					continue
				}
				c.direct = append(c.direct, e)
			case packet.SigTypeGenericCert, packet.SigTypePersonaCert, packet.SigTypeCasualCert, packet.SigTypePositiveCert:
				if curID == nil || inAttribute {
					continue
				}
				if err := pk.VerifyUserIdSignature(curID.name, pk, sig); err != nil {
					lastSelfSigErr = err
					continue
				}
				curID.selfSigs = append(curID.selfSigs, e)
			case packet.SigTypeCertificationRevocation:
				if curID == nil || inAttribute {
					continue
				}
				if err := pk.VerifyUserIdSignature(curID.name, pk, sig); err != nil {
					continue
				}
				curID.revs = append(curID.revs, e)
			case packet.SigTypeSubkeyBinding:
				if curSub == nil || skipSub {
					continue
				}
				if err := pk.VerifyKeySignature(curSub.pk, sig); err != nil {
					curSub.lastErr = err
					continue
				}
				curSub.bindings = append(curSub.bindings, e)
			case packet.SigTypeSubkeyRevocation:
				if curSub == nil || skipSub {
					continue
				}
				if err := pk.VerifySubkeyRevocationSignature(sig, curSub.pk); err != nil {
					continue
				}
				curSub.revs = append(curSub.revs, e)
			}
		case tagTrust:
			// gpg's local trust packets: never exported.
		default:
			notes = append(notes, fmt.Sprintf("ignored an unexpected packet (tag %d) inside the key", p.tag))
		}
	}
	c.prune(&notes)
	if len(c.direct) == 0 && !c.hasUserIDSelfSig() {
		if lastSelfSigErr != nil {
			return nil, notes, fmt.Errorf("key %X has no valid self-signature (%v)", pk.Fingerprint, lastSelfSigErr)
		}
		return nil, notes, fmt.Errorf("key %X has no valid self-signature (no user ID is signed by the key itself, or its self-signatures use an unsupported format)", pk.Fingerprint)
	}
	c.summarize()
	return c, notes, nil
}

func (c *Cert) hasUserIDSelfSig() bool {
	for _, id := range c.ids {
		if len(id.selfSigs) > 0 {
			return true
		}
	}
	return false
}

// prune drops user IDs and subkeys that no valid self-signature binds.
func (c *Cert) prune(notes *[]string) {
	ids := c.ids[:0]
	for _, id := range c.ids {
		if len(id.selfSigs) == 0 {
			*notes = append(*notes, fmt.Sprintf("dropped user ID %q: no valid self-signature", id.name))
			continue
		}
		ids = append(ids, id)
	}
	c.ids = ids
	subs := c.subs[:0]
	for _, s := range c.subs {
		if len(s.bindings) == 0 {
			why := ""
			if s.lastErr != nil {
				why = " (" + s.lastErr.Error() + ")"
			}
			*notes = append(*notes, fmt.Sprintf("dropped subkey %X: no valid binding signature%s", s.pk.Fingerprint, why))
			continue
		}
		subs = append(subs, s)
	}
	c.subs = subs
}

// selfSigs returns every self-signature that speaks about the primary key.
func (c *Cert) selfSigs() []sigEntry {
	all := append([]sigEntry(nil), c.direct...)
	for _, id := range c.ids {
		if len(id.revs) > 0 {
			continue // a revoked user ID no longer speaks for the key
		}
		all = append(all, id.selfSigs...)
	}
	return all
}

// newest returns the newest signature, or nil.
func newest(sigs []sigEntry) *packet.Signature {
	var best *packet.Signature
	for _, e := range sigs {
		if best == nil || e.sig.CreationTime.After(best.CreationTime) {
			best = e.sig
		}
	}
	return best
}

// summarize recomputes the exported fields from the kept packets.
func (c *Cert) summarize() {
	pk := c.primary
	c.Fingerprint = fmt.Sprintf("%X", pk.Fingerprint)
	c.KeyID = fmt.Sprintf("%016X", pk.KeyId)
	c.Algorithm, c.Bits, c.Curve = describeKey(pk)
	c.Created = pk.CreationTime.UTC()
	c.Expires, c.SelfSigTime = nil, time.Time{}
	if s := newest(c.selfSigs()); s != nil {
		c.SelfSigTime = s.CreationTime.UTC()
		c.Expires = expiry(pk, s)
	}
	c.Revocation = strongestRevocation(c.revs)
	c.UserIDs, c.Emails = nil, nil
	seen := map[string]bool{}
	for _, id := range c.ids {
		if len(id.revs) > 0 {
			continue
		}
		c.UserIDs = append(c.UserIDs, id.name)
		if id.email != "" && !seen[id.email] {
			seen[id.email] = true
			c.Emails = append(c.Emails, id.email)
		}
	}
	c.Subkeys = nil
	for _, s := range c.subs {
		b := newest(s.bindings)
		alg, bits, curve := describeKey(s.pk)
		c.Subkeys = append(c.Subkeys, Subkey{
			Fingerprint: fmt.Sprintf("%X", s.pk.Fingerprint),
			KeyID:       fmt.Sprintf("%016X", s.pk.KeyId),
			Algorithm:   alg,
			Bits:        bits,
			Curve:       curve,
			Created:     s.pk.CreationTime.UTC(),
			Expires:     expiry(s.pk, b),
			Revoked:     strongestRevocation(s.revs),
			CanSign:     canSign(s.pk, b),
		})
	}
}

// canSign follows gpg: key flags decide; without flags, the algorithm does.
func canSign(pk *packet.PublicKey, binding *packet.Signature) bool {
	if binding != nil && binding.FlagsValid {
		return binding.FlagSign && pk.PubKeyAlgo.CanSign()
	}
	return pk.PubKeyAlgo.CanSign()
}

// expiry returns the expiry a self-signature sets for pk, nil for never.
func expiry(pk *packet.PublicKey, sig *packet.Signature) *time.Time {
	if sig == nil || sig.KeyLifetimeSecs == nil || *sig.KeyLifetimeSecs == 0 {
		return nil
	}
	t := pk.CreationTime.Add(time.Duration(*sig.KeyLifetimeSecs) * time.Second).UTC()
	return &t
}

// revocationOf describes one revocation signature.
func revocationOf(sig *packet.Signature) *Revocation {
	r := &Revocation{Time: sig.CreationTime.UTC(), ReasonCode: -1, ReasonText: sig.RevocationReasonText}
	if sig.RevocationReason != nil {
		r.ReasonCode = int(*sig.RevocationReason)
	}
	r.Compromised = r.ReasonCode != int(packet.KeySuperseded) && r.ReasonCode != int(packet.KeyRetired)
	return r
}

// strongestRevocation prefers a compromise (it invalidates everything),
// then the earliest soft revocation.
func strongestRevocation(revs []sigEntry) *Revocation {
	var best *Revocation
	for _, e := range revs {
		r := revocationOf(e.sig)
		switch {
		case best == nil:
			best = r
		case r.Compromised && !best.Compromised:
			best = r
		case r.Compromised == best.Compromised && r.Time.Before(best.Time):
			best = r
		}
	}
	return best
}

// describeKey names the algorithm, size and curve of a key.
func describeKey(pk *packet.PublicKey) (alg string, bits int, curve string) {
	switch pk.PubKeyAlgo {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly, packet.PubKeyAlgoRSAEncryptOnly:
		alg = "RSA"
	case packet.PubKeyAlgoDSA:
		alg = "DSA"
	case packet.PubKeyAlgoElGamal:
		alg = "ElGamal"
	case packet.PubKeyAlgoECDSA:
		alg = "ECDSA"
	case packet.PubKeyAlgoECDH:
		alg = "ECDH"
	case packet.PubKeyAlgoEdDSA:
		alg = "EdDSA"
	case packet.PubKeyAlgoEd25519:
		alg = "Ed25519"
	case packet.PubKeyAlgoEd448:
		alg = "Ed448"
	case packet.PubKeyAlgoX25519:
		alg = "X25519"
	case packet.PubKeyAlgoX448:
		alg = "X448"
	default:
		alg = fmt.Sprintf("algorithm-%d", pk.PubKeyAlgo)
	}
	if n, err := pk.BitLength(); err == nil {
		bits = int(n)
	}
	if cv, err := pk.Curve(); err == nil {
		curve = string(cv)
	}
	if pk.PubKeyAlgo == packet.PubKeyAlgoEdDSA && curve == string(packet.Curve25519) {
		curve = "Ed25519"
		bits = 256
	}
	return alg, bits, curve
}

// clone returns a deep enough copy that merging into it never changes c.
func (c *Cert) clone() *Cert {
	n := &Cert{primary: c.primary, primaryRaw: c.primaryRaw}
	n.direct = append([]sigEntry(nil), c.direct...)
	n.revs = append([]sigEntry(nil), c.revs...)
	for _, id := range c.ids {
		cp := *id
		cp.selfSigs = append([]sigEntry(nil), id.selfSigs...)
		cp.revs = append([]sigEntry(nil), id.revs...)
		n.ids = append(n.ids, &cp)
	}
	for _, s := range c.subs {
		cp := *s
		cp.bindings = append([]sigEntry(nil), s.bindings...)
		cp.revs = append([]sigEntry(nil), s.revs...)
		n.subs = append(n.subs, &cp)
	}
	n.summarize()
	return n
}

// addSigs appends the signatures of src missing from dst (same raw bytes).
func addSigs(dst *[]sigEntry, src []sigEntry) bool {
	changed := false
	for _, s := range src {
		dup := false
		for _, d := range *dst {
			if bytes.Equal(d.raw, s.raw) {
				dup = true
				break
			}
		}
		if !dup {
			*dst = append(*dst, s)
			changed = true
		}
	}
	return changed
}

// mergeFrom adds everything of src that c lacks. Nothing is ever removed, so
// revocations and newer self-signatures always survive.
func (c *Cert) mergeFrom(src *Cert) bool {
	changed := addSigs(&c.direct, src.direct)
	changed = addSigs(&c.revs, src.revs) || changed
	for _, sid := range src.ids {
		var dst *identity
		for _, id := range c.ids {
			if id.name == sid.name {
				dst = id
				break
			}
		}
		if dst == nil {
			cp := *sid
			cp.selfSigs = append([]sigEntry(nil), sid.selfSigs...)
			cp.revs = append([]sigEntry(nil), sid.revs...)
			c.ids = append(c.ids, &cp)
			changed = true
			continue
		}
		changed = addSigs(&dst.selfSigs, sid.selfSigs) || changed
		changed = addSigs(&dst.revs, sid.revs) || changed
	}
	for _, ss := range src.subs {
		var dst *subkeyState
		for _, s := range c.subs {
			if bytes.Equal(s.pk.Fingerprint, ss.pk.Fingerprint) {
				dst = s
				break
			}
		}
		if dst == nil {
			cp := *ss
			cp.bindings = append([]sigEntry(nil), ss.bindings...)
			cp.revs = append([]sigEntry(nil), ss.revs...)
			c.subs = append(c.subs, &cp)
			changed = true
			continue
		}
		changed = addSigs(&dst.bindings, ss.bindings) || changed
		changed = addSigs(&dst.revs, ss.revs) || changed
	}
	c.summarize()
	return changed
}

// Merge refreshes a stored certificate with a newly uploaded copy of the
// same key. It returns a new Cert (old is not modified) holding the union of
// both: new user IDs, subkeys, self-signatures and revocations are added;
// nothing is dropped, so a revocation can never be lost and an older
// self-signature never hides a newer one (the newest one always decides).
// changed reports whether incoming added anything.
func Merge(old, incoming *Cert) (merged *Cert, changed bool, err error) {
	if old == nil || incoming == nil || old.primary == nil || incoming.primary == nil {
		return nil, false, errors.New("merge: both certificates must come from LoadKeys")
	}
	if !bytes.Equal(old.primary.Fingerprint, incoming.primary.Fingerprint) {
		return nil, false, fmt.Errorf("merge: fingerprint mismatch: stored key %s, uploaded key %s", old.Fingerprint, incoming.Fingerprint)
	}
	merged = old.clone()
	changed = merged.mergeFrom(incoming)
	return merged, changed, nil
}

// serialize writes the kept packets in RFC 9580 transferable-key order.
func (c *Cert) serialize() []byte {
	var b bytes.Buffer
	b.Write(c.primaryRaw)
	writeSigs := func(sigs []sigEntry) {
		sorted := append([]sigEntry(nil), sigs...)
		sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].sig.CreationTime.Before(sorted[j].sig.CreationTime) })
		for _, s := range sorted {
			b.Write(s.raw)
		}
	}
	writeSigs(c.revs)
	writeSigs(c.direct)
	for _, id := range c.ids {
		b.Write(id.raw)
		writeSigs(id.revs)
		writeSigs(id.selfSigs)
	}
	for _, s := range c.subs {
		b.Write(s.raw)
		writeSigs(s.revs)
		writeSigs(s.bindings)
	}
	return b.Bytes()
}

// Armored returns a canonical armored export of the public certificate
// (with its CRC line): primary key, revocations, user IDs and subkeys with
// all their self-signatures. gpg --import and sqv accept it.
func (c *Cert) Armored() ([]byte, error) {
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, "PGP PUBLIC KEY BLOCK", map[string]string{"Comment": c.Fingerprint})
	if err != nil {
		return nil, fmt.Errorf("armor: %w", err)
	}
	if _, err := w.Write(c.serialize()); err != nil {
		return nil, fmt.Errorf("armor: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("armor: %w", err)
	}
	if !bytes.HasSuffix(buf.Bytes(), []byte("\n")) {
		buf.WriteByte('\n')
	}
	return buf.Bytes(), nil
}
