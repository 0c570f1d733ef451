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
