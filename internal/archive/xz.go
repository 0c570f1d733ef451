package archive

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// maxXZDict bounds the LZMA2 dictionary an xz block may ask for: the
// decoder allocates it whole, so a header declaring 1.5 GiB would be a
// memory bomb. 64 MiB is what `xz -9` uses.
const maxXZDict = 64 << 20

func xzBad(off int64, format string, args ...any) error {
	return &Error{Code: CodeCorrupt, Offset: off, Msg: "not a valid xz file: " + fmt.Sprintf(format, args...)}
}

// checkXZ reads the index of every stream of an xz file (from its end, by
// random access) and the header of every block it lists, and refuses
// dictionaries above maxXZDict before anything is decompressed. A file
// without a readable index (truncated, or with trailing garbage) has only
// its first block header checked: decoding then says where it goes wrong,
// and a dictionary is only touched as far as data is decoded into it.
func checkXZ(r io.ReaderAt, size int64) error {
	err := checkXZIndex(r, size)
	if ae, ok := err.(*Error); ok && ae.Code == CodeCorrupt {
		return checkXZBlockHeader(r, 12, xzBad)
	}
	return err
}

func checkXZIndex(r io.ReaderAt, size int64) error {
	bad := xzBad
	end := size
	for streams := 0; end > 0; streams++ {
		// Stream padding: multiples of four zero bytes.
		var word [4]byte
		for end >= 4 {
			if _, err := r.ReadAt(word[:], end-4); err != nil {
				return bad(end-4, "cannot read: %v", err)
			}
			if word != [4]byte{} {
				break
			}
			end -= 4
		}
		if end == 0 && streams > 0 {
			return nil
		}
		if end < 24 {
			return bad(0, "too short")
		}
		var footer [12]byte
		if _, err := r.ReadAt(footer[:], end-12); err != nil {
			return bad(end-12, "cannot read the stream footer: %v", err)
		}
		if footer[10] != 'Y' || footer[11] != 'Z' {
			return bad(end-12, "no stream footer at the end (truncated, or trailing garbage)")
		}
		indexSize := (int64(binary.LittleEndian.Uint32(footer[4:8])) + 1) * 4
		indexStart := end - 12 - indexSize
		if indexStart < 12 || indexSize > 64<<20 {
			return bad(end-12, "index size %d out of range", indexSize)
		}
		index := make([]byte, indexSize)
		if _, err := r.ReadAt(index, indexStart); err != nil {
			return bad(indexStart, "cannot read the index: %v", err)
		}
		br := bytes.NewReader(index)
		if b, _ := br.ReadByte(); b != 0 {
			return bad(indexStart, "bad index indicator")
		}
		count, err := binary.ReadUvarint(br)
		if err != nil || count > uint64(indexSize) {
			return bad(indexStart, "bad index record count")
		}
		var blocks []int64 // padded sizes
		var total int64
		for range count {
			unpadded, err1 := binary.ReadUvarint(br)
			_, err2 := binary.ReadUvarint(br)
			if err1 != nil || err2 != nil || unpadded > uint64(size) {
				return bad(indexStart, "bad index record")
			}
			padded := (int64(unpadded) + 3) &^ 3
			blocks = append(blocks, padded)
			total += padded
		}
		streamStart := indexStart - total - 12
		if streamStart < 0 {
			return bad(indexStart, "the index lists more data than the file holds")
		}
		off := streamStart + 12
		for _, padded := range blocks {
			if err := checkXZBlockHeader(r, off, bad); err != nil {
				return err
			}
			off += padded
		}
		end = streamStart
		if streams > 1000 {
			return bad(end, "more than 1,000 concatenated streams")
		}
	}
	return nil
}

func checkXZBlockHeader(r io.ReaderAt, off int64, bad func(int64, string, ...any) error) error {
	var hdr [1024]byte
	n, err := r.ReadAt(hdr[:], off)
	if n < 2 && err != nil {
		return bad(off, "cannot read a block header: %v", err)
	}
	hsize := (int(hdr[0]) + 1) * 4
	if hdr[0] == 0 || hsize > n {
		return bad(off, "bad block header")
	}
	br := bytes.NewReader(hdr[2:hsize])
	flags := hdr[1]
	if flags&0x40 != 0 {
		if _, err := binary.ReadUvarint(br); err != nil {
			return bad(off, "bad block header")
		}
	}
	if flags&0x80 != 0 {
		if _, err := binary.ReadUvarint(br); err != nil {
			return bad(off, "bad block header")
		}
	}
	for range int(flags&3) + 1 {
		id, err1 := binary.ReadUvarint(br)
		psize, err2 := binary.ReadUvarint(br)
		if err1 != nil || err2 != nil || psize > 64 {
			return bad(off, "bad filter flags")
		}
		props := make([]byte, psize)
		if _, err := io.ReadFull(br, props); err != nil {
			return bad(off, "bad filter flags")
		}
		if id == 0x21 && psize == 1 { // LZMA2
			b := props[0] & 0x3f
			dict := int64(0xffffffff)
			if b < 40 {
				dict = int64(2|(b&1)) << (b/2 + 11)
			}
			if dict > maxXZDict {
				return &Error{Code: CodeUnsupported, Offset: off, Msg: fmt.Sprintf(
					"an xz block asks for a %s dictionary, more than the %s trel allows (xz -9 uses 64 MiB): recompress with a standard preset",
					human(dict), human(maxXZDict))}
			}
		}
	}
	return nil
}
