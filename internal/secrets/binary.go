package secrets

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
)

// binaryKind judges the start of a file by its structure. complete says
// that b is the whole file (it was shorter than the prefix kept).
func binaryKind(b []byte, complete bool) string {
	switch {
	case len(b) == 0:
		return ""
	case isOpenPGPSecretKey(b):
		return "an OpenPGP secret key (binary)"
	case bytes.HasPrefix(b, []byte("openssh-key-v1\x00")):
		return "an OpenSSH private key (binary)"
	case isPKCS12(b):
		return "a PKCS#12 key store (.p12/.pfx)"
	case isJKSWithPrivateKey(b):
		return "a Java key store holding a private key"
	case complete && isDERPrivateKey(b):
		return "a DER-encoded private key"
	}
	return ""
}

// OpenPGP public-key algorithms (RFC 9580), with how their public key
// material is laid out in a v4 key packet.
const (
	algMPIs  = iota // a number of MPIs
	algCurve        // a curve OID then one MPI (ECDSA, EdDSA legacy)
	algECDH         // a curve OID, one MPI and KDF parameters
	algFixed        // fixed-length native key (X25519, Ed25519, ...)
)

var pgpAlgorithms = map[byte]struct{ layout, n int }{
	1: {algMPIs, 2}, 2: {algMPIs, 2}, 3: {algMPIs, 2}, // RSA
	16: {algMPIs, 3}, 20: {algMPIs, 3}, // Elgamal
	17: {algMPIs, 4}, // DSA
	18: {algECDH, 1}, 19: {algCurve, 1}, 22: {algCurve, 1},
	25: {algFixed, 32}, 26: {algFixed, 56}, 27: {algFixed, 32}, 28: {algFixed, 57},
}

// isOpenPGPSecretKey reports whether b is a binary OpenPGP keyring (its
// first packet a key packet) holding a Secret-Key or Secret-Subkey packet
// (tags 5 and 7) among the packets that start in b: `gpg --export` and
// `gpg --export-secret-keys` written into one file put the secret key
// after the public one. Only key rings are walked, so a random binary file
// starting with a key packet's byte fails the later checks.
func isOpenPGPSecretKey(b []byte) bool {
	for i := 0; i < 256 && len(b) > 0; i++ {
		tag, body, next, ok := packetAt(b)
		if !ok || (i == 0 && tag != 5 && tag != 6 && tag != 7 && tag != 14) {
			return false
		}
		if (tag == 5 || tag == 7) && isSecretKeyBody(body) {
			return true
		}
		if next > len(b) {
			return false
		}
		b = b[next:]
	}
	return false
}

// isSecretKeyBody reports whether body (as far as it is present) is a
// secret key packet's: a header and a public part that parse.
func isSecretKeyBody(body []byte) bool {
	if len(body) < 6 {
		return false
	}
	ok := true
	version := body[0]
	rest := body[5:] // after version and creation time
	switch version {
	case 4:
	case 5, 6:
		if len(rest) < 5 {
			return false
		}
		alg := rest[0]
		n := int(binary.BigEndian.Uint32(rest[1:5]))
		rest = rest[5:]
		if _, known := pgpAlgorithms[alg]; !known || n <= 0 || n > len(rest) {
			return false
		}
		return true
	default:
		return false
	}
	alg := rest[0]
	spec, known := pgpAlgorithms[alg]
	if !known {
		return false
	}
	rest = rest[1:]
	switch spec.layout {
	case algMPIs:
		for range spec.n {
			if rest, ok = skipMPI(rest); !ok {
				return false
			}
		}
	case algCurve, algECDH:
		if len(rest) < 1 || rest[0] == 0 || rest[0] == 0xff || int(rest[0])+1 > len(rest) {
			return false
		}
		rest = rest[1+int(rest[0]):]
		if rest, ok = skipMPI(rest); !ok {
			return false
		}
		if spec.layout == algECDH {
			if len(rest) < 4 || rest[0] != 3 || rest[1] != 1 {
				return false
			}
			rest = rest[4:]
		}
	case algFixed:
		if len(rest) < spec.n {
			return false
		}
		rest = rest[spec.n:]
	}
	// The string-to-key usage octet: unprotected, or a known protection.
	if len(rest) < 1 {
		return false
	}
	switch rest[0] {
	case 0, 253, 254, 255:
		return true
	}
	return rest[0] >= 1 && rest[0] <= 13 // a legacy symmetric algorithm id
}

// packetAt parses the OpenPGP packet header at the start of b and returns
// the tag, the part of the body present in b, and where the next packet
// starts (possibly beyond b).
func packetAt(b []byte) (tag int, body []byte, next int, ok bool) {
	if len(b) < 2 || b[0]&0x80 == 0 {
		return 0, nil, 0, false
	}
	whole := len(b)
	var length int
	if b[0]&0x40 != 0 { // new format
		tag = int(b[0] & 0x3f)
		switch l := int(b[1]); {
		case l < 192:
			length, b = l, b[2:]
		case l < 224:
			if len(b) < 3 {
				return 0, nil, 0, false
			}
			length, b = (l-192)<<8+int(b[2])+192, b[3:]
		case l == 255:
			if len(b) < 6 {
				return 0, nil, 0, false
			}
			length, b = int(binary.BigEndian.Uint32(b[2:6])), b[6:]
		default:
			return 0, nil, 0, false // partial lengths never start a key packet
		}
	} else {
		tag = int(b[0]>>2) & 0x0f
		switch b[0] & 3 {
		case 0:
			length, b = int(b[1]), b[2:]
		case 1:
			if len(b) < 3 {
				return 0, nil, 0, false
			}
			length, b = int(binary.BigEndian.Uint16(b[1:3])), b[3:]
		case 2:
			if len(b) < 5 {
				return 0, nil, 0, false
			}
			length, b = int(binary.BigEndian.Uint32(b[1:5])), b[5:]
		default:
			return 0, nil, 0, false
		}
	}
	if length <= 0 || length > 1<<20 {
		return 0, nil, 0, false
	}
	header := whole - len(b)
	return tag, b[:min(length, len(b))], header + length, true
}

// skipMPI skips one multiprecision integer: a bit count, then the bytes;
// the top byte must have exactly the announced highest bit.
func skipMPI(b []byte) ([]byte, bool) {
	if len(b) < 2 {
		return nil, false
	}
	bits := int(binary.BigEndian.Uint16(b))
	n := (bits + 7) / 8
	if bits == 0 || len(b) < 2+n {
		return nil, false
	}
	top := b[2]
	if top>>((bits-1)%8) != 1 {
		return nil, false
	}
	return b[2+n:], true
}

var (
	oidPKCS7Data       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidPKCS7SignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidPBES2           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPKCS12PBE       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1}
)

// isPKCS12 recognises a PFX: SEQUENCE { INTEGER 3, ContentInfo { data or
// signedData, ... }, ... }. The start is enough: PKCS#12 files hold keys.
func isPKCS12(b []byte) bool {
	outer, ok := derHeader(b, 0x30)
	if !ok {
		return false
	}
	if !bytes.HasPrefix(outer, []byte{0x02, 0x01, 0x03}) {
		return false
	}
	ci, ok := derHeader(outer[3:], 0x30)
	if !ok {
		return false
	}
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(ci, &oid); err != nil {
		return false
	}
	return oid.Equal(oidPKCS7Data) || oid.Equal(oidPKCS7SignedData)
}

// derHeader checks that b starts with a DER element of the given tag and
// returns its content as far as b holds it.
func derHeader(b []byte, tag byte) ([]byte, bool) {
	if len(b) < 2 || b[0] != tag {
		return nil, false
	}
	l, n := int(b[1]), 2
	if l&0x80 != 0 {
		k := l & 0x7f
		if k == 0 || k > 4 || len(b) < 2+k {
			return nil, false
		}
		l = 0
		for _, c := range b[2 : 2+k] {
			l = l<<8 | int(c)
		}
		n = 2 + k
	}
	return b[n:min(len(b), n+l)], true
}

// isDERPrivateKey recognises a whole file that is one DER private key:
// PKCS#8 (also encrypted), PKCS#1 RSA or SEC 1 EC.
func isDERPrivateKey(b []byte) bool {
	if len(b) == 0 || b[0] != 0x30 {
		return false
	}
	if _, err := x509.ParsePKCS8PrivateKey(b); err == nil {
		return true
	}
	if _, err := x509.ParsePKCS1PrivateKey(b); err == nil {
		return true
	}
	if _, err := x509.ParseECPrivateKey(b); err == nil {
		return true
	}
	// EncryptedPrivateKeyInfo: SEQUENCE { AlgorithmIdentifier, OCTET STRING }.
	var epki struct {
		Algo struct {
			OID    asn1.ObjectIdentifier
			Params asn1.RawValue `asn1:"optional"`
		}
		Data []byte
	}
	if rest, err := asn1.Unmarshal(b, &epki); err == nil && len(rest) == 0 && len(epki.Data) > 0 {
		oid := epki.Algo.OID
		return oid.Equal(oidPBES2) || (len(oid) == 8 && oid[:7].Equal(oidPKCS12PBE))
	}
	return false
}

// isJKSWithPrivateKey recognises a Java KeyStore (JKS, JCEKS) with a
// private or secret key entry; key stores holding only trusted
// certificates (trust stores) are public data.
func isJKSWithPrivateKey(b []byte) bool {
	if len(b) < 12 {
		return false
	}
	magic := binary.BigEndian.Uint32(b)
	if magic != 0xFEEDFEED && magic != 0xCECECECE {
		return false
	}
	version := binary.BigEndian.Uint32(b[4:8])
	count := int(binary.BigEndian.Uint32(b[8:12]))
	p := b[12:]
	readUTF := func() bool {
		if len(p) < 2 {
			return false
		}
		n := int(binary.BigEndian.Uint16(p))
		if len(p) < 2+n {
			return false
		}
		p = p[2+n:]
		return true
	}
	skip := func(n int) bool {
		if n < 0 || len(p) < n {
			return false
		}
		p = p[n:]
		return true
	}
	u32 := func() (int, bool) {
		if len(p) < 4 {
			return 0, false
		}
		v := int(binary.BigEndian.Uint32(p))
		p = p[4:]
		return v, true
	}
	for range min(count, 1000) {
		tag, ok := u32()
		if !ok {
			return false
		}
		if tag == 1 || tag == 3 { // private key, secret key (JCEKS)
			return true
		}
		if tag != 2 || !readUTF() || !skip(8) { // trusted certificate: alias, date
			return false
		}
		if version >= 2 && !readUTF() { // certificate type
			return false
		}
		n, ok := u32()
		if !ok || !skip(n) {
			return false
		}
	}
	return false
}
