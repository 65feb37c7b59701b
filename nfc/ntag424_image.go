package nfc

import (
	"bytes"
	"fmt"
)

// DNAState is what an NTAG 424 DNA keeps besides its NDEF message: its five AES keys
// and the settings and contents of its files. It lives in emulator images so that
// changed keys and file settings survive a save; a dump of a real tag never has it.
type DNAState struct {
	Keys  []DNAKey  `json:"keys"`  // keys 0–4
	Files []DNAFile `json:"files"` // files 1 (CC), 2 (NDEF), 3 (proprietary)
}

// DNAKey is one application key and its version.
type DNAKey struct {
	Key     HexBytes `json:"key"`
	Version byte     `json:"version"`
}

// DNAFile is one file: its settings as GetFileSettings gives them, and its content
// for files 1 and 3. File 2's content is NLEN and the image's NDEF message, zero
// padded; only when other bytes lie past the message (a torn write) is it stored in
// full here as well.
type DNAFile struct {
	No       byte     `json:"no"`
	Settings HexBytes `json:"settings"`
	Data     HexBytes `json:"data,omitempty"`
}

// NTAG 424 DNA file numbers and sizes (NT4H2421Gx).
const (
	File424CC   = 1
	File424NDEF = 2
	File424Prop = 3
)

var file424Size = map[byte]int{File424CC: 32, File424NDEF: 256, File424Prop: 128}

// factoryCC424 is the capability container as NXP ships it: mapping version 2.0, MLe
// 256, MLc 255, NDEF file E104 of 256 bytes with free access, proprietary file E105 of
// 128 bytes readable with key 2 and writable with key 3.
var factoryCC424 = []byte{
	0x00, 0x17, 0x20, 0x01, 0x00, 0x00, 0xFF,
	0x04, 0x06, 0xE1, 0x04, 0x01, 0x00, 0x00, 0x00,
	0x05, 0x06, 0xE1, 0x05, 0x00, 0x80, 0x82, 0x83,
}

// FactoryFileSettings424 are a new tag's file settings: the CC readable by all and
// writable with key 0, the NDEF file free to read and write, the proprietary file
// encrypted, read with key 2, written with key 3; key 0 changes every setting.
func FactoryFileSettings424(fileNo byte) (FileSettings, bool) {
	switch fileNo {
	case File424CC:
		return FileSettings{CommMode: CommPlain, Access: AccessRights{Read: AccessFree, Write: 0, ReadWrite: 0, Change: 0}, Size: 32}, true
	case File424NDEF:
		return FileSettings{CommMode: CommPlain, Access: AccessRights{Read: AccessFree, Write: AccessFree, ReadWrite: AccessFree, Change: 0}, Size: 256}, true
	case File424Prop:
		return FileSettings{CommMode: CommFull, Access: AccessRights{Read: 2, Write: 3, ReadWrite: 3, Change: 0}, Size: 128}, true
	}
	return FileSettings{}, false
}

// FactoryDNAState is the state of an NTAG 424 DNA fresh from the factory: all five
// keys zero at version 00, SDM off, the CC as shipped, the proprietary file zero.
func FactoryDNAState() *DNAState {
	s := &DNAState{}
	for i := 0; i < 5; i++ {
		s.Keys = append(s.Keys, DNAKey{Key: make([]byte, 16)})
	}
	for _, no := range []byte{File424CC, File424NDEF, File424Prop} {
		fs, _ := FactoryFileSettings424(no)
		f := DNAFile{No: no, Settings: fs.Bytes()}
		switch no {
		case File424CC:
			f.Data = make([]byte, 32)
			copy(f.Data, factoryCC424)
		case File424Prop:
			f.Data = make([]byte, 128)
		}
		s.Files = append(s.Files, f)
	}
	return s
}

// Clone is a deep copy.
func (s *DNAState) Clone() *DNAState {
	if s == nil {
		return nil
	}
	out := &DNAState{}
	for _, k := range s.Keys {
		out.Keys = append(out.Keys, DNAKey{Key: bytes.Clone(k.Key), Version: k.Version})
	}
	for _, f := range s.Files {
		out.Files = append(out.Files, DNAFile{No: f.No, Settings: bytes.Clone(f.Settings), Data: bytes.Clone(f.Data)})
	}
	return out
}

// File returns file no, if the state has it.
func (s *DNAState) File(no byte) (DNAFile, bool) {
	for _, f := range s.Files {
		if f.No == no {
			return f, true
		}
	}
	return DNAFile{}, false
}

// NDEFFile424 is the content of an NDEF file holding msg as stored without
// anything past it: NLEN, the message, zeros.
func NDEFFile424(msg []byte) []byte {
	f := make([]byte, file424Size[File424NDEF])
	f[0], f[1] = byte(len(msg)>>8), byte(len(msg))
	copy(f[2:], msg)
	return f
}

// MessageOf424 is the NDEF message an NDEF file holds, NLEN clamped to the file.
func MessageOf424(file []byte) []byte {
	if len(file) < 2 {
		return nil
	}
	n := min(int(file[0])<<8|int(file[1]), len(file)-2)
	return bytes.Clone(file[2 : 2+n])
}

func (s *DNAState) validate(ndefMsg []byte) error {
	if len(s.Keys) != 5 {
		return fmt.Errorf("tag image: dna.keys has %d keys, an NTAG 424 DNA has 5", len(s.Keys))
	}
	for i, k := range s.Keys {
		if len(k.Key) != 16 {
			return fmt.Errorf("tag image: dna key %d is %d bytes, want 16 (AES-128)", i, len(k.Key))
		}
	}
	if len(s.Files) != 3 {
		return fmt.Errorf("tag image: dna.files has %d files, want files 1, 2 and 3", len(s.Files))
	}
	for i, f := range s.Files {
		if int(f.No) != i+1 {
			return fmt.Errorf("tag image: dna file %d is numbered %d, want files 1, 2 and 3 in order", i+1, f.No)
		}
		fs, err := ParseFileSettings(f.Settings)
		if err != nil {
			return fmt.Errorf("tag image: dna file %d settings: %w", f.No, err)
		}
		if !bytes.Equal(fs.Bytes(), f.Settings) {
			return fmt.Errorf("tag image: dna file %d settings % X are not as a tag reports them (RFU bits, ASCII option)", f.No, []byte(f.Settings))
		}
		if err := fs.Check(); err != nil {
			return fmt.Errorf("tag image: dna file %d settings: %w", f.No, err)
		}
		if fs.Size != file424Size[f.No] {
			return fmt.Errorf("tag image: dna file %d is %d bytes, an NTAG 424 DNA's is %d", f.No, fs.Size, file424Size[f.No])
		}
		if fs.SDM != nil && f.No != File424NDEF {
			return fmt.Errorf("tag image: dna file %d has SDM on; only the NDEF file (2) mirrors", f.No)
		}
		switch {
		case f.No == File424NDEF && f.Data == nil:
		case f.No == File424NDEF && len(f.Data) != fs.Size:
			return fmt.Errorf("tag image: dna file 2 data is %d bytes, want %d", len(f.Data), fs.Size)
		case f.No == File424NDEF && !bytes.Equal(MessageOf424(f.Data), ndefMsg):
			return fmt.Errorf("tag image: dna file 2 data does not hold the image's ndef message")
		case f.No != File424NDEF && len(f.Data) != fs.Size:
			return fmt.Errorf("tag image: dna file %d data is %d bytes, want %d", f.No, len(f.Data), fs.Size)
		}
	}
	return nil
}
