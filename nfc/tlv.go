package nfc

import (
	"errors"
	"fmt"
)

// TLV blocks of the Type 2 data area (NFC Forum Type 2 Tag, 2.3).
const (
	tlvNull        = 0x00
	tlvLockControl = 0x01
	tlvMemControl  = 0x02
	tlvNDEF        = 0x03
	tlvProprietary = 0xFD
	tlvTerminator  = 0xFE
)

// ErrNoNDEF reports a Type 2 data area without an NDEF message TLV: a tag that was
// never formatted for NDEF, or one whose user memory was overwritten.
var ErrNoNDEF = errors.New("no NDEF message TLV in the tag's user memory")

// NDEFTLV wraps an NDEF message in its TLV and a terminator: 03 len msg FE, with a
// 3-byte length (FF hi lo) from 255 bytes on. An empty msg gives 03 00 FE, the
// "formatted, no message" state.
func NDEFTLV(msg []byte) []byte {
	out := make([]byte, 0, len(msg)+5)
	out = append(out, tlvNDEF)
	if len(msg) < 0xFF {
		out = append(out, byte(len(msg)))
	} else {
		out = append(out, 0xFF, byte(len(msg)>>8), byte(len(msg)))
	}
	out = append(out, msg...)
	return append(out, tlvTerminator)
}

// ParseNDEFTLV finds the first NDEF message TLV in a Type 2 data area (user memory
// from page 4) and returns its value, a copy; empty (not nil) for an NDEF TLV of
// length 0. NULL, lock control, memory control and proprietary TLVs are skipped; a
// terminator or the end of memory before an NDEF TLV gives ErrNoNDEF.
func ParseNDEFTLV(userMemory []byte) ([]byte, error) {
	for i := 0; i < len(userMemory); {
		t := userMemory[i]
		switch t {
		case tlvNull:
			i++
			continue
		case tlvTerminator:
			return nil, fmt.Errorf("%w (terminator TLV at byte %d)", ErrNoNDEF, i)
		case tlvLockControl, tlvMemControl, tlvNDEF, tlvProprietary:
		default:
			return nil, fmt.Errorf("%w: byte %d is 0x%02X, not a TLV type (unformatted or corrupt user memory)", ErrNoNDEF, i, t)
		}
		start, length, err := tlvLength(userMemory, i)
		if err != nil {
			return nil, err
		}
		if t == tlvNDEF {
			return append([]byte{}, userMemory[start:start+length]...), nil
		}
		i = start + length
	}
	return nil, fmt.Errorf("%w (user memory ends first)", ErrNoNDEF)
}

// tlvLength reads the length of the TLV at i and returns where its value starts.
func tlvLength(mem []byte, i int) (start, length int, err error) {
	if i+1 >= len(mem) {
		return 0, 0, fmt.Errorf("TLV 0x%02X at byte %d: user memory ends before its length", mem[i], i)
	}
	start, length = i+2, int(mem[i+1])
	if mem[i+1] == 0xFF {
		if i+3 >= len(mem) {
			return 0, 0, fmt.Errorf("TLV 0x%02X at byte %d: user memory ends inside its 3-byte length", mem[i], i)
		}
		start, length = i+4, int(mem[i+2])<<8|int(mem[i+3])
	}
	if length > len(mem)-start {
		return 0, 0, fmt.Errorf("TLV 0x%02X at byte %d declares %d bytes, only %d remain in user memory", mem[i], i, length, len(mem)-start)
	}
	return start, length, nil
}
