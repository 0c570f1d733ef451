package archive_test

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"trel/internal/archive"
)

// TestZipMemberCountBoundsMemory: a zip whose central directory holds more
// members than the limit is refused before its directory is loaded, also
// when its end record declares a count that agrees with the real one only
// modulo 65536 (Go's reader reads headers until the first bad one).
func TestZipMemberCountBoundsMemory(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := range 200_000 {
		zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("f%d", i), Method: zip.Store})
	}
	zw.Close()
	data := buf.Bytes()
	// Declare 200,000 mod 65536 entries in the end record.
	eocd := bytes.LastIndex(data, []byte("PK\x05\x06"))
	binary.LittleEndian.PutUint16(data[eocd+8:], uint16(200_000%65536))
	binary.LittleEndian.PutUint16(data[eocd+10:], uint16(200_000%65536))
	for _, lim := range []int{100_000, 199_999} {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := archive.Open(bytes.NewReader(data), int64(len(data)), archive.Zip, archive.Limits{MaxMembers: lim})
		runtime.ReadMemStats(&after)
		if ae := errCode(t, err); ae.Code != archive.CodeTooManyMembers || !strings.Contains(ae.Msg, fmt.Sprintf("more than the limit of %d", lim)) {
			t.Fatalf("limit %d: %v", lim, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
			t.Fatalf("limit %d: %d MiB allocated before refusing a %d MiB zip", lim, alloc>>20, len(data)>>20)
		}
	}
	if _, err := archive.Open(bytes.NewReader(data), int64(len(data)), archive.Zip, archive.Limits{MaxMembers: 200_000}); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
}

// TestCrowdedNestedZipIsRefused: a small nested zip listing a huge number
// of members is refused instead of having its directory loaded.
func TestCrowdedNestedZipIsRefused(t *testing.T) {
	var inner bytes.Buffer
	zw := zip.NewWriter(&inner)
	for i := range 70_000 {
		zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprint(i), Method: zip.Store})
	}
	zw.Close()
	outer := zipOf(t, map[string][]byte{"foo/lib/crowded.jar": inner.Bytes(), "foo/README": []byte("hi\n")}, zip.Deflate)
	r := walk(bytes.NewReader(outer), int64(len(outer)), archive.Zip, archive.Limits{})
	if ae := errCode(t, r.err); ae.Code != archive.CodeNestedBomb || ae.Member != "foo/lib/crowded.jar" || !strings.Contains(ae.Msg, "more than 65536 members") {
		t.Fatalf("%v", r.err)
	}
}
