package secrets

import (
	"bytes"
	"strings"
	"testing"
)

// TestSavedStateEqualsWhole feeds every fixture in pieces, saving the
// scanner's state after each piece and going on with a new scanner
// restored from it (a resumable upload whose chunks reach different
// requests or replicas), and expects the verdict of the whole file.
func TestSavedStateEqualsWhole(t *testing.T) {
	for _, s := range fixtures(t) {
		whole := Scan(s.data)
		for _, size := range []int{3, 100, 5000, 20 << 10} {
			sc := NewScanner()
			for i := 0; i < len(s.data); i += size {
				if _, err := sc.Write(s.data[i:min(i+size, len(s.data))]); err != nil {
					break
				}
				state, err := sc.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				sc = new(Scanner)
				if err := sc.UnmarshalBinary(state); err != nil {
					t.Fatal(err)
				}
			}
			sc.Close()
			if (sc.Found() == nil) != (whole == nil) {
				t.Errorf("%s in restored pieces of %d: %v, at once: %v", s.name, size, sc.Found(), whole)
			}
		}
	}
}

// TestSecretSplitAcrossSavedState: a token whose first half ends one
// chunk and second half starts the next, after 20 KiB of text, is found.
func TestSecretSplitAcrossSavedState(t *testing.T) {
	token := "ghp_" + strings.Repeat("A1b2C3d4E5", 4)[:36]
	text := strings.Repeat("ordinary release notes line\n", 800) + "token = " + token + "\nmore\n"
	cut := strings.Index(text, token) + 10
	first := NewScanner()
	if _, err := first.Write([]byte(text[:cut])); err != nil {
		t.Fatalf("the first half alone was judged a secret: %v", err)
	}
	state, err := first.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(state, []byte(token)) {
		t.Fatal("the state holds the whole token, though only its start was seen")
	}
	second := new(Scanner)
	if err := second.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	second.Write([]byte(text[cut:]))
	if err := second.Close(); err == nil || !strings.Contains(err.Error(), "GitHub token") {
		t.Fatalf("a token split across chunks: %v", err)
	}
}

func TestStateRefusesForeignOrOversizeState(t *testing.T) {
	for _, bad := range []string{"", "{", `{"v":1}`, `{"v":3,"enc":9}`, `{"v":3,"carry":"` + strings.Repeat("QUFB", 2000) + `"}`} {
		if err := new(Scanner).UnmarshalBinary([]byte(bad)); err == nil {
			t.Errorf("state %.40q was accepted", bad)
		}
	}
}

// FuzzScannerState: a state restored from any bytes never panics the
// scanner, and cutting an input at any point, saving the state there and
// going on with a restored scanner gives the verdict of the whole input
// (for inputs whose lines fit the kept line length, as FuzzScanner).
func FuzzScannerState(f *testing.F) {
	f.Add([]byte("machine example.org\n  password s3cr3t\n"), uint16(20), []byte(`{"v":3}`))
	f.Add([]byte("token = ghp_Vb2CqTx9Lm4Rz7Wn1Kp5Hs8Dg3Fj6Ya0Qe2X\n"), uint16(15), []byte(`{"v":3,"decided":true,"text":true,"carry":"Z2hw"}`))
	f.Add([]byte("\xff\xfe-\x00-\x00-\x00"), uint16(3), []byte(`{"v":3,"enc":2,"pend":"AA=="}`))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16, state []byte) {
		var sc Scanner
		if sc.UnmarshalBinary(state) == nil {
			sc.Write(data)
			sc.Close()
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			if len(line) >= maxLine {
				return // a line longer than the scanner keeps: judged by its start either way
			}
		}
		at := int(cut) % (len(data) + 1)
		whole := Scan(data)
		first := NewScanner()
		first.Write(data[:at])
		saved, err := first.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		second := new(Scanner)
		if err := second.UnmarshalBinary(saved); err != nil {
			t.Fatalf("a saved state does not restore: %v", err)
		}
		second.Write(data[at:])
		second.Close()
		if (second.Found() == nil) != (whole == nil) {
			t.Fatalf("cut at %d: %v, whole: %v", at, second.Found(), whole)
		}
	})
}
