package sigstore

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// classify turns a sigstore-go verification error into a reason code and a
// sentence. sigstore-go has few typed errors, so this matches on its
// messages (pinned to v1.3.0); the fixture and minted-bundle tests pin every
// mapping, and anything unrecognised stays ReasonVerificationFailed with the
// library's message.
func classify(err error, b *Bundle, tm root.TrustedMaterial) *Result {
	msg := err.Error()
	has := func(parts ...string) bool {
		for _, p := range parts {
			if strings.Contains(msg, p) {
				return true
			}
		}
		return false
	}

	switch {
	case errors.Is(err, verify.ErrDSSEInvalidSignatureCount):
		n := len(b.inner.GetDsseEnvelope().GetSignatures())
		return invalid(ReasonDSSESignatureCount, fmt.Sprintf("the DSSE envelope must carry exactly one signature, and it has %d", n), err)

	case has("not enough verified log entries"):
		if logKnown(b, tm) {
			return invalid(ReasonLogEntryInvalid, "the transparency-log entry's signed entry timestamp does not verify: the entry was altered or does not belong to this log", err)
		}
		return invalid(ReasonUnknownLog, "log entry from an unknown log: usually the wrong trusted root (production vs staging or a private instance)", err)
	case has("integrated time outside certificate validity"):
		return invalid(ReasonCertificateExpired, "the certificate was not valid when the entry was logged: it had expired (or was not yet valid) at signing time", err)
	case has("transparency log signature does not match", "transparency log certificate does not match",
		"does not match artifact", "does not match envelope payload hash", "digest algorithm mismatch",
		"is not a hashedrekord", "is not a dsse_v001 or intoto_v002"):
		return invalid(ReasonLogEntryInvalid, "the transparency-log entry does not match this bundle: it records a different signature, certificate or digest", err)
	case has("failed to verify log inclusion"):
		return invalid(ReasonLogEntryInvalid, "the transparency-log entry does not verify: its inclusion proof, checkpoint or promise is wrong", err)

	case has("threshold not met for verified signed timestamps"):
		return invalid(ReasonTimestampInvalid, "the RFC 3161 timestamp does not verify against the trusted root's timestamp authorities", err)
	case has("threshold not met for verified signed & log entry integrated timestamps",
		"threshold not met for verified log entry integrated timestamps", "no valid observer timestamps"):
		return invalid(ReasonNoTrustedTime, "no trusted time: the bundle has neither a signed entry timestamp from the log (inclusion promise) nor a verified RFC 3161 timestamp", err)
	case has("failed to verify timestamps"):
		return invalid(ReasonTimestampInvalid, "the bundle's timestamps do not verify", err)

	case has("failed to verify leaf certificate"):
		if chainsAtIssuance(b, tm) {
			return invalid(ReasonCertificateExpired, "the certificate was not valid at the trusted signing time: it had expired (or was not yet valid) when it was used", err)
		}
		return invalid(ReasonCertificateInvalid, "bad certificate: it was not issued by a certificate authority in the trusted root", err)
	case has("failed to verify signed certificate timestamp"):
		return invalid(ReasonSCTInvalid, "bad certificate: its certificate-transparency timestamp (SCT) does not verify against the trusted root's CT logs", err)
	case has("failed to summarize certificate"):
		return invalid(ReasonCertificateInvalid, "bad certificate: it names no identity (subject alternative name) or has malformed Fulcio extensions", err)

	case has("artifact does not match digest", "does not match any digest in statement",
		"artifact digests does not match digests in statement", "no matching artifact hash algorithm"):
		return invalid(ReasonArtifactMismatch, "the artifact does not match the signed digest: the file was modified or it is not the file that was signed", err)
	case has("ed25519 signatures can only be verified with artifacts"):
		return invalid(ReasonUnsupported, "Ed25519 message signatures need the whole file, and trel verifies from digests", err)
	case has("could not verify message", "could not verify envelope", "failed to verify signature"):
		return invalid(ReasonSignatureInvalid, "the signature does not verify with the signing certificate or key", err)

	default:
		return invalid(ReasonVerificationFailed, "verification failed: "+msg, err)
	}
}

// logKnown reports whether any of the bundle's log entries names a log in
// the trusted root. sigstore-go silently skips entries from unknown logs
// and entries whose promise fails, and says the same thing for both.
func logKnown(b *Bundle, tm root.TrustedMaterial) bool {
	logs := tm.RekorLogs()
	for _, e := range b.inner.GetVerificationMaterial().GetTlogEntries() {
		if _, ok := logs[hex.EncodeToString(e.GetLogId().GetKeyId())]; ok {
			return true
		}
	}
	return false
}

// chainsAtIssuance reports whether the leaf certificate chains to the root
// at the moment it was issued. If so, a chain failure at the signing time
// means the signing time was outside the certificate's validity.
func chainsAtIssuance(b *Bundle, tm root.TrustedMaterial) bool {
	vc, err := b.inner.VerificationContent()
	if err != nil || vc.Certificate() == nil {
		return false
	}
	leaf := vc.Certificate()
	_, err = verify.VerifyLeafCertificate(leaf.NotBefore.Add(time.Second), leaf, tm)
	return err == nil
}
