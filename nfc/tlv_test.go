package nfc

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestNDEFTLV(t *testing.T) {
	tests := []struct {
		name   string
		msg    []byte
		prefix string
	}{
		{"empty", nil, "0300FE"},
		{"short", unhex(t, "D00000"), "0303D00000FE"},
		{"254 bytes keeps the 1-byte length", make([]byte, 254), "03FE"},
		{"255 bytes takes the 3-byte length", make([]byte, 255), "03FF00FF"},
		{"1000 bytes", make([]byte, 1000), "03FF03E8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NDEFTLV(tt.msg)
			if !bytes.HasPrefix(got, unhex(t, tt.prefix)) || got[len(got)-1] != 0xFE {
				t.Fatalf("NDEFTLV = %X…, want prefix %s and a terminator", got[:min(8, len(got))], tt.prefix)
			}
			back, err := ParseNDEFTLV(append(got, 0, 0, 0))
			if err != nil || !bytes.Equal(back, tt.msg) || back == nil {
				t.Fatalf("ParseNDEFTLV(NDEFTLV(msg)) = %X, %v; want msg back (non-nil)", back, err)
			}
		})
	}
}

func TestParseNDEFTLV(t *testing.T) {
	tests := []struct {
		name    string
		mem     string
		want    string
		wantErr string
		noNDEF  bool
	}{
		{"plain", "0303D00000FE000000", "D00000", "", false},
		{"NULL TLVs first", "00000303D00000FE", "D00000", "", false},
		{"lock and memory control skipped", "0103A0100401031001000303D00000FE", "D00000", "", false},
		{"proprietary skipped", "FD020102" + "0303D00000FE", "D00000", "", false},
		{"3-byte length", "03FF0003D00000FE", "D00000", "", false},
		{"empty NDEF", "0300FE", "", "", false},
		{"no terminator needed", "0303D00000", "D00000", "", false},
		{"terminator first", "FE0303D00000", "", "terminator TLV at byte 0", true},
		{"all zero", "00000000", "", "user memory ends first", true},
		{"unformatted", "FFFFFFFF", "", "byte 0 is 0xFF, not a TLV type", true},
		{"length past the end", "0310D000", "", "declares 16 bytes, only 2 remain", false},
		{"ends before the length", "0000 03", "", "ends before its length", false},
		{"ends inside the 3-byte length", "03FF00", "", "inside its 3-byte length", false},
		{"lock control runs past", "0105A0", "", "TLV 0x01 at byte 0 declares 5 bytes", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseNDEFTLV(unhex(t, tt.mem))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseNDEFTLV = %X, %v; want error containing %q", got, err, tt.wantErr)
				}
				if errors.Is(err, ErrNoNDEF) != tt.noNDEF {
					t.Fatalf("errors.Is(err, ErrNoNDEF) = %v, want %v", !tt.noNDEF, tt.noNDEF)
				}
				return
			}
			if err != nil || !bytes.Equal(got, unhex(t, tt.want)) {
				t.Fatalf("ParseNDEFTLV = %X, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestParseNDEFTLVCopies(t *testing.T) {
	mem := unhex(t, "0303D00000FE")
	got, err := ParseNDEFTLV(mem)
	if err != nil {
		t.Fatal(err)
	}
	got[0] = 0
	if mem[2] != 0xD0 {
		t.Fatal("ParseNDEFTLV returned a slice of the caller's memory")
	}
}

func FuzzParseNDEFTLV(f *testing.F) {
	for _, s := range []string{"0303D00000FE", "0103A01004" + "0300FE", "03FF0003D00000FE", "FE", "03FF", "01FF", ""} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, mem []byte) {
		msg, err := ParseNDEFTLV(mem)
		if err != nil {
			return
		}
		if len(msg) > len(mem) {
			t.Fatalf("message of %d bytes from %d bytes of memory", len(msg), len(mem))
		}
		back, err := ParseNDEFTLV(NDEFTLV(msg))
		if err != nil || !bytes.Equal(back, msg) {
			t.Fatalf("NDEFTLV round trip: %X, %v; want %X", back, err, msg)
		}
	})
}
