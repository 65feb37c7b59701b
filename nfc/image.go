package nfc

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// TagType names an IC family as identified by ATR and GET_VERSION.
type TagType string

const (
	TypeNTAG213       TagType = "ntag213"
	TypeNTAG215       TagType = "ntag215"
	TypeNTAG216       TagType = "ntag216"
	TypeUltralight    TagType = "ultralight"
	TypeUltralightEV1 TagType = "ultralight_ev1"
	TypeUltralightC   TagType = "ultralight_c"
	TypeNTAG203       TagType = "ntag203"
	TypeNTAG210       TagType = "ntag210"
	TypeNTAG212       TagType = "ntag212"
	TypeNTAGI2C1K     TagType = "ntag_i2c_1k"
	TypeNTAGI2C2K     TagType = "ntag_i2c_2k"
	TypeNTAGI2CPlus1K TagType = "ntag_i2c_plus_1k"
	TypeNTAGI2CPlus2K TagType = "ntag_i2c_plus_2k"
	TypeNTAG424DNA    TagType = "ntag424dna"
	TypeMifareClassic TagType = "mifare_classic"
	TypeUnknown       TagType = "unknown"
)

// HexBytes is a byte string written as upper-case hex in JSON.
type HexBytes []byte

func (h HexBytes) MarshalJSON() ([]byte, error) {
	return json.Marshal(strings.ToUpper(hex.EncodeToString(h)))
}

func (h *HexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("hex string expected: %w", err)
	}
	s = strings.ReplaceAll(strings.ReplaceAll(s, " ", ""), ":", "")
	v, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("bad hex %q: %w", s, err)
	}
	*h = v
	return nil
}

// Image is a whole tag: what `tag dump` writes, `tag write --image` and `tag emulate`
// read. Type 2 tags are described by their pages; Type 4 (NTAG 424 DNA) by its NDEF
// file and SUN settings.
type Image struct {
	Type      TagType    `json:"type"`
	UID       HexBytes   `json:"uid"`
	Version   HexBytes   `json:"version,omitempty"`   // GET_VERSION reply, 8 bytes
	Signature HexBytes   `json:"signature,omitempty"` // READ_SIG: 32 bytes (NTAG21x), 56 (424 DNA)
	Counter   uint32     `json:"counter,omitempty"`   // NFC read counter (READ_CNT) or SUN counter
	Pages     []HexBytes `json:"pages,omitempty"`     // Type 2: every page from 0, 4 bytes each
	// Unreadable lists Type 2 pages a dump could not read (a password guards reads
	// from them); they hold zeros in Pages.
	Unreadable []int `json:"unreadable,omitempty"`
	// AuthFailures counts failed PWD_AUTH attempts since the last success, which the
	// IC keeps in its memory and compares with AUTHLIM.
	AuthFailures int        `json:"auth_failures,omitempty"`
	NDEF         HexBytes   `json:"ndef,omitempty"` // Type 4: the NDEF message, without NLEN
	SUN          *SUNConfig `json:"sun,omitempty"`  // Type 4: SUN template (older images), for the emulator
	DNA          *DNAState  `json:"dna,omitempty"`  // NTAG 424 DNA: keys and file settings, for the emulator
}

// SUNConfig tells an emulated NTAG 424 DNA how to build its URL on each read:
// BaseURL followed by "?e=<PICCData>&c=<MAC>" (or "?uid=..&ctr=..&c=.." when Plain).
// The keys are the tag's own; they appear in emulator images, never in dumps. It is
// the older form: the emulator turns it into file settings (SDM on file 2, the meta
// key as key 1, the file key as key 2) and saves those in DNA once they change.
type SUNConfig struct {
	BaseURL string   `json:"base_url"`
	MetaKey HexBytes `json:"meta_key"`
	FileKey HexBytes `json:"file_key"`
	Plain   bool     `json:"plain,omitempty"`
}
