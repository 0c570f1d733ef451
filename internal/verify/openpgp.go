package verify

import (
	"fmt"
	"io"
	"os"
	"strings"

	"trel/internal/openpgp"
)

// maxSignatureSize bounds a detached signature file. One signature is a few
// hundred bytes; files with several stay far below this.
const maxSignatureSize = 1 << 20

// CodeNoKey is the Verification.Code of an OpenPGP signature that could not
// be checked because no usable public key was given.
const CodeNoKey = "no-key"

// keySet is the OpenPGP keys a signature is checked against.
type keySet struct {
	file  string
	flag  string // "--keys" or "--key", for messages
	certs []*openpgp.Cert
	// rejected says, per block of the file that gave no key, why.
	rejected []string
	blocks   int
}

// summary is one line about the key file when some of its blocks were
// not used, "" otherwise.
func (ks *keySet) summary() string {
	if len(ks.rejected) == 0 {
		return ""
	}
	return fmt.Sprintf("%s: %d usable keys; %d of %d key blocks not used (obsolete, unsupported or broken keys; --json lists why)",
		base(ks.file), len(ks.certs), len(ks.rejected), ks.blocks)
}

// loadOpenPGPKeys reads --keys or --key (when it is an OpenPGP key). It
// returns nil when no key was given. Private key material is refused with
// the openpgp package's error.
func loadOpenPGPKeys(opts Options) (*keySet, error) {
	ks := &keySet{file: opts.Keys, flag: "--keys"}
	switch {
	case opts.Keys != "":
	case opts.Key != "" && !opts.sigstoreKeyMode():
		ks.file, ks.flag = opts.Key, "--key"
	default:
		return nil, nil
	}
	f, err := os.Open(ks.file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ks.flag, err)
	}
	defer f.Close()
	res, err := openpgp.LoadKeys(f)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", ks.flag, ks.file, err)
	}
	ks.certs = res.Certs
	ks.blocks = len(res.Blocks)
	for _, b := range res.Blocks {
		if b.Status != openpgp.StatusAccepted {
			ks.rejected = append(ks.rejected, fmt.Sprintf("block %d: %s", b.Index, b.Reason))
		}
	}
	return ks, nil
}

// checkOpenPGP verifies the detached signature sigFile over the artifact,
// from the hash states of the single pass.
func checkOpenPGP(opts Options, sigFile string, keys *keySet, d *digests) (Verification, error) {
	v := Verification{Kind: KindOpenPGP, File: sigFile}
	sig, err := readBounded(sigFile, maxSignatureSize)
	if err != nil {
		return v, fmt.Errorf("signature: %w", err)
	}
	if keys == nil {
		v.Code = CodeNoKey
		v.Message = fmt.Sprintf("cannot check %s: no public key given; pass --keys KEYS (the project's KEYS file) or --key FILE (the signer's public key)", base(sigFile))
		return v, nil
	}
	v.RejectedKeyBlocks = keys.rejected
	if sum := keys.summary(); sum != "" {
		v.Notes = append(v.Notes, sum)
	}
	if len(keys.certs) == 0 {
		v.Code = CodeNoKey
		v.Message = fmt.Sprintf("cannot check %s: %s holds no usable public key", base(sigFile), base(keys.file))
		return v, nil
	}

	src := openpgp.StateSource{
		SHA256: d.state256,
		SHA512: d.state512,
		// Only for signatures no saved state can finish (other hash
		// algorithms, text mode, v6): the artifact is read again.
		Fallback: openpgp.ReaderSource{Open: func() (io.ReadCloser, error) { return openFile(opts.Artifact) }},
	}
	res := openpgp.VerifyDetached(sig, keys.certs, src, openpgp.VerifyOptions{Now: opts.Now})

	var chosen *openpgp.SignatureResult
	for i := range res.Signatures {
		if res.Signatures[i].Valid {
			chosen = &res.Signatures[i]
			break
		}
	}
	if chosen == nil && len(res.Signatures) > 0 {
		chosen = &res.Signatures[0]
	}
	var cert *openpgp.Cert
	if chosen != nil {
		cert = findCert(keys.certs, chosen.SignerFingerprint)
		v.Details = &Details{
			SignerFingerprint: chosen.SignerFingerprint,
			SubkeyFingerprint: chosen.SubkeyFingerprint,
			IssuerKeyID:       chosen.IssuerKeyID,
			IssuerFingerprint: chosen.IssuerFingerprint,
			SignatureTime:     chosen.Created,
			HashAlgorithm:     chosen.HashAlgorithm,
		}
		if cert != nil {
			v.Details.UserIDs = cert.UserIDs
		}
		v.Notes = append(v.Notes, chosen.Notes...)
	}
	if len(res.Signatures) > 1 {
		v.Notes = append(v.Notes, fmt.Sprintf("%s holds %d signatures; %s", base(sigFile), len(res.Signatures), countValid(res.Signatures)))
	}

	if !res.Valid {
		v.Code = res.ReasonCode
		v.Message = res.Reason
		if res.ReasonCode == openpgp.CodeUnknownIssuer && chosen != nil {
			v.Message = unknownIssuerMessage(chosen, keys)
		}
		return v, nil
	}
	v.OK = true
	v.Message = goodMessage(chosen, cert)
	return v, nil
}

// goodMessage describes a valid signature: who, which key, when, how.
func goodMessage(s *openpgp.SignatureResult, cert *openpgp.Cert) string {
	var b strings.Builder
	b.WriteString("good signature")
	if cert != nil && len(cert.UserIDs) > 0 {
		fmt.Fprintf(&b, " by %s", cert.UserIDs[0])
	}
	fmt.Fprintf(&b, " (key %s", s.SignerFingerprint)
	if s.SubkeyFingerprint != "" && s.SubkeyFingerprint != s.SignerFingerprint {
		fmt.Fprintf(&b, ", signing subkey %s", s.SubkeyFingerprint)
	}
	fmt.Fprintf(&b, "), made %s with %s", s.Created.UTC().Format("2006-01-02 15:04:05 MST"), s.HashAlgorithm)
	return b.String()
}

// unknownIssuerMessage replaces the platform's advice (add the key to the
// committee) with a downloader's: get the right KEYS file.
func unknownIssuerMessage(s *openpgp.SignatureResult, keys *keySet) string {
	who := s.IssuerFingerprint
	if who == "" {
		who = s.IssuerKeyID
	}
	if s.IssuerFingerprint != "" && s.IssuerKeyID != "" {
		who = fmt.Sprintf("%s (key ID %s)", s.IssuerFingerprint, s.IssuerKeyID)
	}
	if who == "" {
		who = "a key that the signature does not name"
	}
	return fmt.Sprintf("unknown issuer: the signature was made by %s, which is not in %s (%d usable keys); get the project's current KEYS file from its download page and pass it with --keys", who, base(keys.file), len(keys.certs))
}

func findCert(certs []*openpgp.Cert, fingerprint string) *openpgp.Cert {
	for _, c := range certs {
		if c.Fingerprint == fingerprint {
			return c
		}
	}
	return nil
}

func countValid(sigs []openpgp.SignatureResult) string {
	n := 0
	for _, s := range sigs {
		if s.Valid {
			n++
		}
	}
	return fmt.Sprintf("%d valid", n)
}
