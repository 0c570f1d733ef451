package translog

import (
	"bytes"
	"testing"
)

// FuzzParseEntry checks that ParseEntry never panics and accepts only the
// canonical encoding: whatever it accepts re-encodes to the same bytes.
func FuzzParseEntry(f *testing.F) {
	for i := range 3 {
		b, err := testEntry(i, testKeys[i]).Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEntry(data)
		if err != nil {
			return
		}
		again, err := e.Marshal()
		if err != nil {
			t.Fatalf("accepted entry does not marshal: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("accepted non-canonical bytes %q (canonical %q)", data, again)
		}
	})
}
