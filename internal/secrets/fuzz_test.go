package secrets

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzScanner: the scanner never panics, a finding's message never holds
// the input's text, and feeding the input in pieces gives the verdict of
// feeding it at once (for inputs whose lines fit the kept line length).
func FuzzScanner(f *testing.F) {
	seeds := []string{
		"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAuR4nD0mT0k3nV4lu3Xyz0123456789abcdEFGHIJKLMNOPQRSTUVWXYZab\n-----END RSA PRIVATE KEY-----\n",
		"-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: x\n\nlQdGBF4nD0mT0k3nV4lu3Xyz0123456789abcdEFGHIJKLMNOPQRSTUVWXYZabcdefgh\n",
		"---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nComment: \"rm\"\nP2/56wAAAi4nD0mT0k3nV4lu3Xyz0123456789abcdEFGHIJKLMNOPQRSTUVWXYZabcdef\n",
		"PuTTY-User-Key-File-3: ssh-ed25519\n",
		"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n",
		"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIC4nD0mT0k3nV4lu3Xyz0123456789abcdEFGHIJKLMNOPQRS\n-----END PRIVATE KEY-----\n",
		"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIC4nD0mT0k3nV4lu3Xyz0123456789abcdEFGHIJKLMNOPQRSTUVWXYZabcde\n-----END EC PRIVATE KEY-----\n",
		"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHzBJBgkqhkiG9w0BBQ0wPDAbBgkqhkiG9w0BBQwwDgQI4nD0mT0k3nV4lu3Xyz012\n-----END ENCRYPTED PRIVATE KEY-----\n",
		"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nMIIEowIBAAKCAQEAuR4nD0mT0k3nV4lu3Xyz0123456789abcdEFGHIJKLMNOPQRSTUV\n",
		"Key: (protected-private-key (rsa (n #00#)))\n",
		"_auth = dXNlcjpwYXNzd29yZA==\n",
		"export AWS_SECRET_ACCESS_KEY=\"9drTJvcXLB89EXsdUfbFqtYsLknz8ZPU5ulH8vRr\"\n",
		"machine api.github.com\n  login rm\n  password s3cr3t\n",
		"\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20" + strings.Repeat("\x07", 32),
		"(protected-private-key (ecc (curve Ed25519)))",
		"//registry.npmjs.org/:_authToken=npm_R4nd0mT0k3nV4lu3Xyz0123456789abcdEFG\n",
		"[pypi]\nusername = __token__\npassword = pypi-AgEIcHlwaS5vcmcCJDU1ZDM2YzA2LWQ1NzUtNGE1Mi05OGRkLTFhOTVkY2RmYzFmNwACKlsz\n",
		"[default]\naws_secret_access_key = 9drTJvcXLB89EXsdUfbFqtYsLknz8ZPU5ulH8vRr\n",
		"machine example.org login rm password s3cr3t\n",
		"{\"auths\": {\"x\": {\"auth\": \"cm06czNjcjN0cGFzcw==\"}}}\n",
		"curl -H 'token ghp_Vb2CqTx9Lm4Rz7Wn1Kp5Hs8Dg3Fj6Ya0Qe2X'\n",
		"GITLAB=glpat-Ab3dE6gH9jK2mN5pQ8sT\nSLACK=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx\n",
		"TREL_TOKEN=trel_4Hq9x_Rk2Lm7Vn0Zp3Tc8Wf5Ys1Bd6Ge9Jk2Mn4Pq7S\n",
		"{\"private_key\": \"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKjMzEfYyjiWA4R4\"}",
		"\x95\x01\x0d\x04\x5e\x00\x00\x00\x16\x09\x2b\x06\x01\x04\x01\xda\x47\x0f\x01\x01\x07\x40",
		"openssh-key-v1\x00",
		"\xfe\xed\xfe\xed\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00\x01",
		"\x30\x82\x01\x00\x02\x01\x03\x30\x0b\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01",
		"To configure TLS:\n-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n",
		"export GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
		"",
		// Other encodings and formats.
		"\xff\xfe-\x00-\x00-\x00-\x00-\x00B\x00E\x00G\x00I\x00N\x00 \x00P\x00R\x00I\x00V\x00A\x00T\x00E\x00 \x00K\x00E\x00Y\x00-\x00-\x00-\x00-\x00-\x00\n\x00",
		"\xfe\xff\x00-\x00-\x00-\xd8\x3d\xde\x00\x00\n",
		"\xef\xbb\xbf-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIC4nD0mT0k3nV4lu3Xyz0123456789abcdEFGHIJKLMNOPQRS\n",
		"-----BEGIN PRIVATE KEY-----\rMC4CAQAwBQYDK2VwBCIEIC4nD0mT0k3nV4lu3Xyz0123456789abcdEFGHIJKLMNOPQRS\r",
		"client-key-data: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1DNENBUUF3QlFZREsyVndCQ0lFSUM0bkQwbVQwazNuVjRsdTNYeXowMTIzNDU2Nzg5YWJjZEVGR0hJSktMTU5PUFFSUwo=\n",
		"AGE-SECRET-KEY-1QQPJVFQ6J3CZXQ2NDNL8HRRSQYC7S6T6MMRNPZ4K7YQZ8QFVGLNSEUXLVP9\n",
		"untrusted comment: minisign encrypted secret key\nRWRTY0IyhlQJ9sYgDE5JcDRMuT3b0lq9A6R+1vm2X1eHrzgDOc4AAAACAAAAAAAAAEAAAAAA0ieLiH3mBs9\n",
		"\x99\x00\x0d\x04\x5e\x00\x00\x00\x16\x09\x2b\x06\x01\x04\x01\xda\x47\x0f\x01\x95\x01\x0d\x04\x5e\x00\x00\x00\x16",
	}
	for _, s := range seeds {
		f.Add([]byte(s), uint8(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, piece uint8) {
		whole := Scan(data)
		if whole != nil {
			msg := whole.Error()
			for _, line := range bytes.Split(data, []byte("\n")) {
				if l := strings.TrimSpace(string(line)); len(l) >= 24 && strings.Contains(msg, l) {
					t.Fatalf("the message holds a line of the input: %q", l)
				}
			}
		}
		longLine := false
		for _, line := range bytes.Split(data, []byte("\n")) {
			longLine = longLine || len(line) >= maxLine
		}
		if longLine {
			return
		}
		n := int(piece%64) + 1
		s := NewScanner()
		for i := 0; i < len(data); i += n {
			if _, err := s.Write(data[i:min(i+n, len(data))]); err != nil {
				break
			}
		}
		s.Close()
		if (s.Found() == nil) != (whole == nil) {
			t.Fatalf("in pieces of %d: %v; at once: %v", n, s.Found(), whole)
		}
	})
}
