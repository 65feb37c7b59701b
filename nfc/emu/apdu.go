package emu

// command is a parsed short C-APDU (ISO 7816-4, 5.1).
type command struct {
	cla, ins, p1, p2 byte
	data             []byte
	le               int // expected length, 256 for Le 00
	hasLe            bool
}

// parseAPDU splits a short APDU into its fields; false when the lengths do not add up
// (extended APDUs included: no emulated reader supports them).
func parseAPDU(b []byte) (command, bool) {
	if len(b) < 4 {
		return command{}, false
	}
	c := command{cla: b[0], ins: b[1], p1: b[2], p2: b[3]}
	body := b[4:]
	switch {
	case len(body) == 0:
	case len(body) == 1:
		c.le, c.hasLe = int(body[0]), true
	case body[0] == 0:
		return command{}, false
	case len(body) == 1+int(body[0]):
		c.data = body[1:]
	case len(body) == 2+int(body[0]):
		c.data = body[1 : len(body)-1]
		c.le, c.hasLe = int(body[len(body)-1]), true
	default:
		return command{}, false
	}
	if c.hasLe && c.le == 0 {
		c.le = 256
	}
	return c, true
}

func sw(sw1, sw2 byte) []byte { return []byte{sw1, sw2} }

// tlv is one BER-TLV data object of a PC/SC Part 3 FF C2 command.
type tlv struct {
	tag   int
	value []byte
}

// parseTLVs reads data objects with one- or two-byte tags and short or 81/82 lengths.
func parseTLVs(b []byte) ([]tlv, bool) {
	var out []tlv
	for len(b) > 0 {
		tag := int(b[0])
		b = b[1:]
		if tag&0x1F == 0x1F {
			if len(b) == 0 {
				return nil, false
			}
			tag = tag<<8 | int(b[0])
			b = b[1:]
		}
		if len(b) == 0 {
			return nil, false
		}
		n := int(b[0])
		b = b[1:]
		switch n {
		case 0x81:
			if len(b) < 1 {
				return nil, false
			}
			n, b = int(b[0]), b[1:]
		case 0x82:
			if len(b) < 2 {
				return nil, false
			}
			n, b = int(b[0])<<8|int(b[1]), b[2:]
		default:
			if n > 0x7F {
				return nil, false
			}
		}
		if len(b) < n {
			return nil, false
		}
		out = append(out, tlv{tag: tag, value: b[:n]})
		b = b[n:]
	}
	return out, true
}

// appendTLV appends a data object with a one-byte tag.
func appendTLV(out []byte, tag byte, value []byte) []byte {
	out = append(out, tag)
	switch n := len(value); {
	case n > 0xFF:
		out = append(out, 0x82, byte(n>>8), byte(n))
	case n > 0x7F:
		out = append(out, 0x81, byte(n))
	default:
		out = append(out, byte(n))
	}
	return append(out, value...)
}
