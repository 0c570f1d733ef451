package openpgp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Default bounds for LoadKeys. The largest real KEYS file we know of is far
// below them.
const (
	maxBytesDefault  = 4 << 20
	maxBlocksDefault = 1000
)

// Block statuses.
const (
	StatusAccepted = "accepted"
	StatusRejected = "rejected"
)

// ErrInputTooLarge is returned when the input exceeds LoadOptions.MaxBytes
// or LoadOptions.MaxBlocks.
var ErrInputTooLarge = errors.New("key file too large")

// LoadOptions bounds what LoadKeysWithOptions reads. Zero values take the
// defaults (4 MiB, 1000 blocks).
type LoadOptions struct {
	MaxBytes  int64
	MaxBlocks int
}

// BlockResult accounts for one armored block (or the whole input when it is
// a binary keyring).
type BlockResult struct {
	Index        int      // 1-based position in the file
	Type         string   // armor type, e.g. "PGP PUBLIC KEY BLOCK"; "binary" for a binary keyring
	Fingerprints []string // keys found in the block (accepted or not, when known)
	Status       string   // StatusAccepted when at least one key (or revocation) from it was used
	Reason       string   // why keys were rejected; empty when all were accepted
	Notes        []string // parts of keys that were dropped (bad self-signatures, unbound subkeys, ...)
}

// LoadResult is what LoadKeys found: every block accounted for, and the
// accepted certificates merged by fingerprint in order of first appearance.
type LoadResult struct {
	Blocks []BlockResult
	Certs  []*Cert
}

// Accepted counts the accepted blocks.
func (r *LoadResult) Accepted() int {
	n := 0
	for _, b := range r.Blocks {
		if b.Status == StatusAccepted {
			n++
		}
	}
	return n
}

// LoadKeys reads every key of a KEYS file, a single exported key or a binary
// keyring, with the default bounds. See LoadKeysWithOptions.
func LoadKeys(r io.Reader) (*LoadResult, error) {
	return LoadKeysWithOptions(r, LoadOptions{})
}

// LoadKeysWithOptions reads all armored blocks of the input (also when they
// follow each other without blank lines) or a binary keyring. Every block
// gets a BlockResult; copies of one certificate are merged; revocation
// certificates in their own block are attached to their key. Input holding
// private key material is refused as a whole with a *PrivateKeyError. An
// error is returned only for that, for read failures and for inputs over the
// bounds; bad keys are reported per block.
func LoadKeysWithOptions(r io.Reader, opts LoadOptions) (*LoadResult, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = maxBytesDefault
	}
	if opts.MaxBlocks <= 0 {
		opts.MaxBlocks = maxBlocksDefault
	}
	data, err := io.ReadAll(io.LimitReader(r, opts.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	if int64(len(data)) > opts.MaxBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrInputTooLarge, opts.MaxBytes)
	}
	if err := DetectPrivateKey(data); err != nil {
		return nil, err
	}
	blocks, err := splitBlocks(data, opts.MaxBlocks)
	if err != nil {
		return nil, err
	}
	res := &LoadResult{}
	byFpr := map[string]*Cert{}
	type pendingRev struct {
		block int // index into res.Blocks
		sig   sigEntry
	}
	var pending []pendingRev
	for _, b := range blocks {
		br := BlockResult{Index: b.index, Type: b.typ, Status: StatusRejected}
		if b.err != nil {
			br.Reason = b.err.Error()
			res.Blocks = append(res.Blocks, br)
			continue
		}
		pkts, splitErr := splitPackets(b.body)
		if splitErr != nil {
			br.Notes = append(br.Notes, "data ends with a broken packet: "+splitErr.Error())
		}
		var reasons []string
		accepted := 0
		groups, loose := groupCerts(pkts)
		for _, p := range loose {
			if p.tag != tagSignature {
				reasons = append(reasons, fmt.Sprintf("unexpected packet (tag %d) outside a key", p.tag))
				continue
			}
			sig, err := parseSignature(p)
			if err != nil {
				reasons = append(reasons, err.Error())
				continue
			}
			if sig.SigType != packet.SigTypeKeyRevocation {
				reasons = append(reasons, fmt.Sprintf("a signature (type 0x%02X) is not a key; only revocation certificates may stand alone", uint8(sig.SigType)))
				continue
			}
			pending = append(pending, pendingRev{block: len(res.Blocks), sig: sigEntry{sig: sig, raw: p.raw}})
		}
		for _, g := range groups {
			c, notes, err := parseCert(g)
			br.Notes = append(br.Notes, notes...)
			if err != nil {
				if fpr := fingerprintHint(g[0]); fpr != "" {
					br.Fingerprints = append(br.Fingerprints, fpr)
				}
				reasons = append(reasons, err.Error())
				continue
			}
			accepted++
			br.Fingerprints = append(br.Fingerprints, c.Fingerprint)
			if old, ok := byFpr[c.Fingerprint]; ok {
				old.mergeFrom(c)
				br.Notes = append(br.Notes, fmt.Sprintf("key %s appeared before; the copies were merged", c.Fingerprint))
				continue
			}
			byFpr[c.Fingerprint] = c
			res.Certs = append(res.Certs, c)
		}
		if len(groups) == 0 && len(loose) == 0 {
			if splitErr != nil {
				reasons = append(reasons, "malformed OpenPGP data: "+splitErr.Error())
			} else {
				reasons = append(reasons, "no OpenPGP packets in the block")
			}
		}
		if accepted > 0 {
			br.Status = StatusAccepted
		}
		br.Reason = strings.Join(reasons, "; ")
		res.Blocks = append(res.Blocks, br)
	}
	// Revocation certificates apply to keys anywhere in the file.
	for _, p := range pending {
		br := &res.Blocks[p.block]
		c := findIssuer(res.Certs, p.sig.sig)
		if c == nil {
			br.Reason = joinReason(br.Reason, "revocation certificate for a key that is not in this file ("+issuerName(p.sig.sig)+")")
			continue
		}
		if err := c.primary.VerifyRevocationSignature(p.sig.sig); err != nil {
			br.Reason = joinReason(br.Reason, fmt.Sprintf("revocation certificate for %s does not verify: %v", c.Fingerprint, err))
			continue
		}
		if addSigs(&c.revs, []sigEntry{p.sig}) {
			c.summarize()
		}
		br.Status = StatusAccepted
		br.Fingerprints = append(br.Fingerprints, c.Fingerprint)
		br.Notes = append(br.Notes, "revocation certificate attached to key "+c.Fingerprint)
	}
	return res, nil
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// findIssuer finds the certificate whose primary key issued sig.
func findIssuer(certs []*Cert, sig *packet.Signature) *Cert {
	for _, c := range certs {
		if len(sig.IssuerFingerprint) > 0 {
			if bytes.Equal(sig.IssuerFingerprint, c.primary.Fingerprint) {
				return c
			}
			continue
		}
		if sig.IssuerKeyId != nil && *sig.IssuerKeyId == c.primary.KeyId {
			return c
		}
	}
	return nil
}

func issuerName(sig *packet.Signature) string {
	if len(sig.IssuerFingerprint) > 0 {
		return fmt.Sprintf("issuer fingerprint %X", sig.IssuerFingerprint)
	}
	if sig.IssuerKeyId != nil {
		return fmt.Sprintf("issuer key ID %016X", *sig.IssuerKeyId)
	}
	return "no issuer recorded"
}

// fingerprintHint names a key we could not accept, when go-crypto can at
// least parse its packet.
func fingerprintHint(p rawPacket) string {
	parsed, err := packet.Read(bytes.NewReader(p.raw))
	if err != nil {
		return ""
	}
	if pk, ok := parsed.(*packet.PublicKey); ok {
		return fmt.Sprintf("%X", pk.Fingerprint)
	}
	return ""
}

// groupCerts cuts a packet list into certificates, each starting at a
// primary key packet. Packets before the first key are returned as loose.
func groupCerts(pkts []rawPacket) (groups [][]rawPacket, loose []rawPacket) {
	for _, p := range pkts {
		if p.tag == tagPublicKey {
			groups = append(groups, []rawPacket{p})
			continue
		}
		if len(groups) == 0 {
			loose = append(loose, p)
			continue
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], p)
	}
	return groups, loose
}

type inputBlock struct {
	index int
	typ   string
	body  []byte
	err   error
}

var armorMarker = []byte("-----BEGIN PGP ")

// splitBlocks returns the armored blocks of data, or the whole of data as one
// binary block. The input is wrapped once in a bufio.Reader so that blocks
// written back to back are not lost between armor.Decode calls.
func splitBlocks(data []byte, maxBlocks int) ([]inputBlock, error) {
	if !bytes.Contains(data, armorMarker) {
		if len(data) > 0 && data[0]&0x80 != 0 {
			return []inputBlock{{index: 1, typ: "binary", body: data}}, nil
		}
		return []inputBlock{{index: 1, typ: "unknown", err: errors.New("no OpenPGP data found: expected armored blocks (-----BEGIN PGP PUBLIC KEY BLOCK-----) or a binary keyring")}}, nil
	}
	br := bufio.NewReader(bytes.NewReader(separateArmor(data)))
	var out []inputBlock
	for {
		block, err := armor.Decode(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			// A header we cannot parse ends the armored part.
			out = append(out, inputBlock{index: len(out) + 1, typ: "unknown", err: fmt.Errorf("unreadable armor: %w", err)})
			break
		}
		if len(out) >= maxBlocks {
			return nil, fmt.Errorf("%w: more than %d armored blocks", ErrInputTooLarge, maxBlocks)
		}
		ib := inputBlock{index: len(out) + 1, typ: block.Type}
		body, err := io.ReadAll(block.Body)
		switch {
		case err != nil:
			ib.err = fmt.Errorf("corrupt armor (bad base64 or checksum): %w", err)
		case block.Type == "PGP MESSAGE" || block.Type == "PGP SIGNED MESSAGE":
			ib.err = fmt.Errorf("a %q block is not a key", block.Type)
		default:
			ib.body = body
		}
		out = append(out, ib)
	}
	if len(out) == 0 {
		return []inputBlock{{index: 1, typ: "unknown", err: errors.New("an armor header was found but no complete armored block")}}, nil
	}
	return out, nil
}

// separateArmor puts every armor header on a line of its own, so blocks
// glued together ("...END PGP PUBLIC KEY BLOCK----------BEGIN PGP ...") are
// all seen by armor.Decode.
func separateArmor(data []byte) []byte {
	if !bytes.Contains(data, []byte("-----"+string(armorMarker))) {
		return data
	}
	return bytes.ReplaceAll(data, armorMarker, append([]byte("\n"), armorMarker...))
}
