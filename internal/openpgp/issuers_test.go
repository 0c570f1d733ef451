package openpgp

import (
	"os"
	"testing"
)

func TestIssuersNameTheSigningSubkey(t *testing.T) {
	sig, err := os.ReadFile("testdata/atr/apache-test-0.2.tar.gz.asc")
	if err != nil {
		t.Fatal(err)
	}
	got := Issuers(sig)
	// The signature was made by the signing subkey A32F…0CBA, not by the
	// primary key 68FF…663A.
	if len(got) != 1 || got[0].KeyID != "81B1A0B8D9D20CBA" {
		t.Fatalf("%+v", got)
	}
	if Issuers([]byte("not a signature")) != nil {
		t.Fatal("garbage yielded issuers")
	}
}
