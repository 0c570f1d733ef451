package secrets

import (
	"encoding/json"
	"fmt"
)

// scannerState is what a Scanner keeps between writes, saved so that a
// stream sent over several requests (a resumable upload, possibly to
// another replica) is scanned as one: a secret split across two chunks is
// found. It holds at most the first 16 KiB and the current line (4 KiB).
type scannerState struct {
	V          int    `json:"v"`
	Prefix     []byte `json:"prefix,omitempty"`
	Decided    bool   `json:"decided,omitempty"`
	Text       bool   `json:"text,omitempty"`
	Found      string `json:"found,omitempty"`
	Carry      []byte `json:"carry,omitempty"`
	CarryCut   bool   `json:"carry_cut,omitempty"`
	Enc        int    `json:"enc,omitempty"`
	Pend       []byte `json:"pend,omitempty"`
	PemKind    string `json:"pem_kind,omitempty"`
	PemBase64  int    `json:"pem_base64,omitempty"`
	PemHeaders int    `json:"pem_headers,omitempty"`
	Pypi       bool   `json:"pypi,omitempty"`
	Netrc      bool   `json:"netrc,omitempty"`
	DockerAuth bool   `json:"docker_auth,omitempty"`
}

// MarshalBinary saves the scanner's state (encoding.BinaryMarshaler).
func (s *Scanner) MarshalBinary() ([]byte, error) {
	st := scannerState{V: Version, Prefix: s.prefix, Decided: s.decided, Text: s.text, Carry: s.carry, CarryCut: s.carryCut,
		Enc: int(s.enc), Pend: s.pend, PemKind: s.pem.kind, PemBase64: s.pem.base64, PemHeaders: s.pem.headers,
		Pypi: s.pypi, Netrc: s.netrc, DockerAuth: s.dockerAuth}
	if s.found != nil {
		st.Found = s.found.Kind
	}
	return json.Marshal(st)
}

// UnmarshalBinary restores a state saved by MarshalBinary with the same
// rules (Version).
func (s *Scanner) UnmarshalBinary(b []byte) error {
	var st scannerState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("reading a secret scanner state: %w", err)
	}
	if st.V != Version {
		return fmt.Errorf("the secret scanner state is of rules version %d, this server has %d", st.V, Version)
	}
	if len(st.Prefix) > prefixSize || len(st.Carry) > maxLine || st.Enc < int(utf8Text) || st.Enc > int(utf16BE) {
		return fmt.Errorf("the secret scanner state is out of bounds")
	}
	*s = Scanner{prefix: append(make([]byte, 0, prefixSize), st.Prefix...), decided: st.Decided, text: st.Text,
		carry: st.Carry, carryCut: st.CarryCut, enc: textEncoding(st.Enc), pend: st.Pend,
		pem:  pemState{kind: st.PemKind, base64: st.PemBase64, headers: st.PemHeaders},
		pypi: st.Pypi, netrc: st.Netrc, dockerAuth: st.DockerAuth}
	if st.Found != "" {
		s.found = &Finding{Kind: st.Found}
	}
	return nil
}
