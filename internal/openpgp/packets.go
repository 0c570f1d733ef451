package openpgp

import (
	"errors"
	"fmt"
)

// OpenPGP packet tags used here (RFC 9580 section 5).
const (
	tagSignature     = 2
	tagOnePassSig    = 4
	tagSecretKey     = 5
	tagPublicKey     = 6
	tagSecretSubkey  = 7
	tagCompressed    = 8
	tagLiteralData   = 11
	tagTrust         = 12
	tagUserID        = 13
	tagPublicSubkey  = 14
	tagUserAttribute = 17
)

// rawPacket is one packet as it appeared in the input. We keep the raw bytes
// so that exports reproduce exactly what the key owner signed.
type rawPacket struct {
	tag  int
	body []byte
	raw  []byte // header + body
}

var errPartialLength = errors.New("partial body length is not allowed in key material")

// splitPackets cuts data into packets without interpreting their bodies.
// It returns the packets read so far together with the first structural
// error, so callers can report exactly where the data went wrong.
func splitPackets(data []byte) ([]rawPacket, error) {
	var out []rawPacket
	for off := 0; off < len(data); {
		p, n, err := readPacket(data[off:])
		if err != nil {
			return out, fmt.Errorf("packet at offset %d: %w", off, err)
		}
		out = append(out, p)
		off += n
	}
	return out, nil
}

// readPacket reads one packet header and body from the start of data.
func readPacket(data []byte) (rawPacket, int, error) {
	if len(data) < 2 {
		return rawPacket{}, 0, errors.New("truncated packet header")
	}
	ctb := data[0]
	if ctb&0x80 == 0 {
		return rawPacket{}, 0, errors.New("not an OpenPGP packet (bit 7 of the tag byte is clear)")
	}
	var tag, hdr, length int
	if ctb&0x40 == 0 {
		// Old format: tag in bits 5-2, length type in bits 1-0.
		tag = int(ctb>>2) & 0x0f
		switch ctb & 3 {
		case 0:
			hdr, length = 2, int(data[1])
		case 1:
			if len(data) < 3 {
				return rawPacket{}, 0, errors.New("truncated packet header")
			}
			hdr, length = 3, int(data[1])<<8|int(data[2])
		case 2:
			if len(data) < 5 {
				return rawPacket{}, 0, errors.New("truncated packet header")
			}
			hdr = 5
			length = int(uint32(data[1])<<24 | uint32(data[2])<<16 | uint32(data[3])<<8 | uint32(data[4]))
		default:
			// Indeterminate length: the packet runs to the end of the data.
			hdr, length = 1, len(data)-1
		}
	} else {
		tag = int(ctb & 0x3f)
		b := data[1]
		switch {
		case b < 192:
			hdr, length = 2, int(b)
		case b < 224:
			if len(data) < 3 {
				return rawPacket{}, 0, errors.New("truncated packet header")
			}
			hdr, length = 3, (int(b)-192)<<8+int(data[2])+192
		case b == 255:
			if len(data) < 6 {
				return rawPacket{}, 0, errors.New("truncated packet header")
			}
			hdr = 6
			length = int(uint32(data[2])<<24 | uint32(data[3])<<16 | uint32(data[4])<<8 | uint32(data[5]))
		default:
			return rawPacket{}, 0, fmt.Errorf("tag %d: %w", tag, errPartialLength)
		}
	}
	if length < 0 || length > len(data)-hdr {
		return rawPacket{}, 0, fmt.Errorf("tag %d: packet length %d exceeds the remaining %d bytes", tag, length, len(data)-hdr)
	}
	n := hdr + length
	return rawPacket{tag: tag, body: data[hdr:n], raw: data[:n]}, n, nil
}

// scanTags reports every packet tag found by walking packet headers,
// tolerating partial lengths (used by data packets) so that secret key
// packets hidden after a message are still found.
func scanTags(data []byte, visit func(tag int)) {
	for off := 0; off < len(data); {
		d := data[off:]
		if len(d) < 2 || d[0]&0x80 == 0 {
			return
		}
		if d[0]&0x40 != 0 && d[1] >= 224 && d[1] < 255 {
			// Partial lengths: skip chunk by chunk.
			visit(int(d[0] & 0x3f))
			i := 1
			for {
				if i >= len(d) {
					return
				}
				b := d[i]
				var chunk, h int
				switch {
				case b < 192:
					h, chunk = 1, int(b)
				case b < 224:
					if i+1 >= len(d) {
						return
					}
					h, chunk = 2, (int(b)-192)<<8+int(d[i+1])+192
				case b == 255:
					if i+4 >= len(d) {
						return
					}
					h = 5
					chunk = int(uint32(d[i+1])<<24 | uint32(d[i+2])<<16 | uint32(d[i+3])<<8 | uint32(d[i+4]))
				default:
					h, chunk = 1, 1<<(b&0x1f)
					if chunk < 0 || chunk > len(d) {
						return
					}
					i += h + chunk
					continue
				}
				i += h + chunk
				break
			}
			if i <= 0 || i > len(d) {
				return
			}
			off += i
			continue
		}
		p, n, err := readPacket(d)
		if err != nil {
			return
		}
		visit(p.tag)
		off += n
	}
}
