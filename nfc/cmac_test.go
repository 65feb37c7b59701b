package nfc

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// RFC 4493 section 4, examples 1 to 4.
func TestCMACRFC4493(t *testing.T) {
	const key = "2b7e151628aed2a6abf7158809cf4f3c"
	const msg = "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51 30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710"
	m := unhex(t, msg)
	tests := []struct {
		name string
		len  int
		want string
	}{
		{"empty", 0, "bb1d6929e95937287fa37d129b756746"},
		{"one block", 16, "070a16b46b4d4144f79bdd9dd04a287c"},
		{"partial block", 40, "dfa66747de9ae63030ca32611497c827"},
		{"four blocks", 64, "51f0bebf7e3b9d92fc49741779363cfe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CMAC(unhex(t, key), m[:tt.len]); !bytes.Equal(got, unhex(t, tt.want)) {
				t.Fatalf("CMAC = %x, want %s", got, tt.want)
			}
		})
	}
}

func TestCMACBadKey(t *testing.T) {
	if got := CMAC(make([]byte, 15), nil); got != nil {
		t.Fatalf("CMAC with a 15-byte key = %x, want nil", got)
	}
}
