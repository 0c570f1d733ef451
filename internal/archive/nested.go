package archive

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
)

// nestedState tracks the inflation spent on nested archives.
type nestedState struct {
	spent    int64
	declared uint64 // by every nested archive so far
	crowded  bool   // a nested archive lists more than maxNestedMembers
}

// maxNestedMembers bounds the members of a nested archive whose directory
// is read (archive/zip holds about 250 bytes a member in memory).
const maxNestedMembers = 65536

// inspectNested reads a small zip-based member (a .jar inside a source
// release, a layer of a 42.zip-style bomb) ahead into memory and adds up
// the sizes its central directory declares, recursively (depth 3), without
// inflating the files themselves. An archive whose nested archives declare
// more than the unpacked limit is a nested zip bomb. The member is then
// served from memory, so it is still read only once.
func (g *guard) inspectNested(m *Member) error {
	g.buffered = nil
	if m.Kind != KindFile || m.Size > maxNested {
		return nil
	}
	if f, _, ok := FormatOf(m.Name); !ok || f != Zip {
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(readerFunc(g.src.read), maxNested+1))
	if err != nil {
		return err
	}
	g.buffered = bytes.NewReader(data)
	if g.nested == nil {
		g.nested = &nestedState{}
	}
	declared := g.nested.sum(data, 1)
	if g.nested.crowded {
		return &Error{Code: CodeNestedBomb, Member: m.Name, Offset: m.Offset, Msg: fmt.Sprintf(
			"this nested archive, or one inside it, lists more than %d members in at most %s: a crafted archive, not a release", maxNestedMembers, human(maxNested))}
	}
	g.nested.declared = satAdd(g.nested.declared, declared)
	if limit := uint64(g.lim.MaxUnpacked); g.nested.declared > limit {
		return &Error{Code: CodeNestedBomb, Member: m.Name, Offset: m.Offset, Msg: fmt.Sprintf(
			"the nested archives up to this one declare %s unpacked inside them (the limit is %s): a nested zip bomb (like 42.zip)",
			human(int64(min(g.nested.declared, 1<<62))), human(g.lim.MaxUnpacked))}
	}
	return nil
}

// declared returns the total size declared inside a zip archive, nested
// archives included; unreadable archives declare nothing (the member is a
// file like any other).
func (s *nestedState) sum(data []byte, depth int) uint64 {
	if countZipEntries(bytes.NewReader(data), int64(len(data)), maxNestedMembers+1) > maxNestedMembers {
		s.crowded = true
		return 0
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return 0
	}
	var total uint64
	for _, f := range zr.File {
		total = satAdd(total, f.UncompressedSize64)
		if _, _, ok := FormatOf(f.Name); !ok || depth >= 3 || f.UncompressedSize64 > maxNested || s.spent > nestedBudget {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			continue
		}
		inner, _ := io.ReadAll(io.LimitReader(rc, maxNested))
		rc.Close()
		s.spent += int64(len(inner))
		total = satAdd(total, s.sum(inner, depth+1))
	}
	return total
}

func satAdd(a, b uint64) uint64 {
	if a+b < a {
		return ^uint64(0)
	}
	return a + b
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
