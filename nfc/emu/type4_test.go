package emu

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/ndef"
)

const (
	selectNDEFApp = "00A4040007D276000085010100"
	selectCC      = "00A4000C02E103"
	selectNDEF    = "00A4000C02E104"
)

func image424(t *testing.T, uri string, sun *nfc.SUNConfig) *nfc.Image {
	t.Helper()
	msg, err := ndef.Encode(ndef.Message{ndef.NewURI(uri)})
	if err != nil {
		t.Fatal(err)
	}
	return &nfc.Image{Type: nfc.TypeNTAG424DNA, UID: mustHex("04DE5F1EACC040"), NDEF: msg, SUN: sun}
}

// readNDEF does what a Type 4 reader does: select the application, read the CC, select
// the NDEF file, read NLEN, then the message.
func readNDEF(t *testing.T, r *Reader) []byte {
	t.Helper()
	for _, apdu := range []string{selectNDEFApp, selectCC} {
		if got := xmit(t, r, apdu); got != ok {
			t.Fatalf("%s = %s", apdu, got)
		}
	}
	cc := xmit(t, r, "00B000000F")
	if !strings.HasSuffix(cc, ok) || len(cc) != 2*(15+2) || cc[18:22] != "E104" {
		t.Fatalf("CC = %s", cc)
	}
	if got := xmit(t, r, selectNDEF); got != ok {
		t.Fatalf("select NDEF file = %s", got)
	}
	nlen := xmit(t, r, "00B0000002")
	var n int
	if _, err := fmt.Sscanf(nlen, "%04X9000", &n); err != nil {
		t.Fatalf("NLEN = %s", nlen)
	}
	resp, err := r.Transmit([]byte{0x00, 0xB0, 0x00, 0x02, byte(n)})
	if err != nil || !bytes.HasSuffix(resp, []byte{0x90, 0x00}) {
		t.Fatalf("read message = %X, %v", resp, err)
	}
	return resp[:len(resp)-2]
}

func uriOf(t *testing.T, msg []byte) string {
	t.Helper()
	m, err := ndef.Decode(msg)
	if err != nil {
		t.Fatalf("decode %X: %v", msg, err)
	}
	u, ok := ndef.FirstURI(m)
	if !ok {
		t.Fatalf("no URI record in %X", msg)
	}
	return u
}

func TestType4ReadsNDEF(t *testing.T) {
	for _, p := range []Personality{ACR122, Part3} {
		t.Run(string(p), func(t *testing.T) {
			r, _ := readerWith(t, p, image424(t, "https://pay.example/t/abc?s=1", nil))
			if got := uriOf(t, readNDEF(t, r)); got != "https://pay.example/t/abc?s=1" {
				t.Errorf("URI = %q", got)
			}
		})
	}
}

func TestType4UpdateBinaryChangesTheImage(t *testing.T) {
	r, tag := readerWith(t, ACR122, image424(t, "https://a.example", nil))
	msg, _ := ndef.Encode(ndef.Message{ndef.NewURI("https://b.example/x")})
	xmit(t, r, selectNDEFApp)
	xmit(t, r, selectNDEF)
	apdu := append([]byte{0x00, 0xD6, 0x00, 0x02, byte(len(msg))}, msg...)
	if resp, _ := r.Transmit(apdu); !bytes.Equal(resp, []byte{0x90, 0x00}) {
		t.Fatalf("write message = %X", resp)
	}
	if got := xmit(t, r, fmt.Sprintf("00D600000200%02X", len(msg))); got != ok {
		t.Fatalf("write NLEN = %s", got)
	}
	if got := uriOf(t, tag.Image().NDEF); got != "https://b.example/x" {
		t.Errorf("image URI = %q", got)
	}
	if got := uriOf(t, readNDEF(t, r)); got != "https://b.example/x" {
		t.Errorf("read back URI = %q", got)
	}
}

func TestType4Errors(t *testing.T) {
	cases := []struct {
		name  string
		setup []string
		apdu  string
		want  string
	}{
		{"select file before the application", nil, selectCC, "6A82"},
		{"select another application", nil, "00A4040007D2760000850102", "6A82"},
		{"select an unknown file", []string{selectNDEFApp}, "00A4000C02E1FF", "6A82"},
		{"read without a selected file", []string{selectNDEFApp}, "00B0000002", "6986"},
		{"read at the end of the file", []string{selectNDEFApp, selectCC}, "00B0002001", "6B00"},
		{"read past the end", []string{selectNDEFApp, selectCC}, "00B0001504", "828300009000"},
		{"read past the end of the 32-byte file", []string{selectNDEFApp, selectCC}, "00B0001E04", "0000" + "6282"},
		{"write the CC file", []string{selectNDEFApp, selectCC}, "00D6000001FF", "6982"},
		{"write past the NDEF file", []string{selectNDEFApp, selectNDEF}, "00D600FF02FFFF", "6B00"},
		{"short file identifier", []string{selectNDEFApp, selectNDEF}, "00B0810002", "6A81"},
		{"unknown instruction", nil, "00CA000000", "6D00"},
		{"unknown class", nil, "80A4040000", "6E00"},
		{"Lc that does not match", nil, "00A4040007D276", "6700"},
		{"READ BINARY pseudo-APDU", nil, "FFB0000410", "6A81"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, _ := readerWith(t, Part3, image424(t, "https://a.example", nil))
			for _, s := range c.setup {
				if got := xmit(t, r, s); got != ok {
					t.Fatalf("setup %s = %s", s, got)
				}
			}
			if got := xmit(t, r, c.apdu); got != c.want {
				t.Errorf("%s = %s, want %s", c.apdu, got, c.want)
			}
		})
	}
}

func TestType4SUNCountsTaps(t *testing.T) {
	for _, plain := range []bool{false, true} {
		t.Run(fmt.Sprintf("plain=%v", plain), func(t *testing.T) {
			meta, file := mustHex(strings.Repeat("11", 16)), mustHex(strings.Repeat("22", 16))
			img := image424(t, "https://static.example", &nfc.SUNConfig{
				BaseURL: "https://pay.example/t/abc", MetaKey: meta, FileKey: file, Plain: plain})
			img.Counter = 60
			r, tag := readerWith(t, ACR122, img)
			for tap := uint32(61); tap <= 63; tap++ {
				u := uriOf(t, readNDEF(t, r))
				if !strings.HasPrefix(u, "https://pay.example/t/abc?") {
					t.Fatalf("tap %d: URL %q", tap, u)
				}
				res, err := nfc.VerifySUN(u, meta, file)
				if err != nil || !res.Valid {
					t.Fatalf("tap %d: VerifySUN(%q) = %+v, %v", tap, u, res, err)
				}
				if res.Counter != tap || !bytes.Equal(res.UID, img.UID) {
					t.Errorf("tap %d: URL says UID %X counter %d", tap, res.UID, res.Counter)
				}
			}
			if got := tag.Image().Counter; got != 63 {
				t.Errorf("Image().Counter = %d, want 63", got)
			}
		})
	}
}

func TestType4SUNSnapshotHoldsWithinOneSelection(t *testing.T) {
	img := image424(t, "https://static.example", &nfc.SUNConfig{
		BaseURL: "https://pay.example/t/abc", MetaKey: make([]byte, 16), FileKey: make([]byte, 16)})
	r, tag := readerWith(t, Part3, img)
	xmit(t, r, selectNDEFApp)
	xmit(t, r, selectNDEF)
	first := xmit(t, r, "00B0000000")
	second := xmit(t, r, "00B0000000")
	if first != second {
		t.Errorf("two reads of one selection differ:\n%s\n%s", first, second)
	}
	if got := tag.Image().Counter; got != 1 {
		t.Errorf("counter after one selection = %d, want 1", got)
	}
	// The stored file is still the written one; only reads are mirrored.
	if got := uriOf(t, tag.Image().NDEF); got != "https://static.example" {
		t.Errorf("stored URI = %q", got)
	}
}

func TestType4SUNStopsAtTheEndOfTheCounter(t *testing.T) {
	img := image424(t, "https://static.example", &nfc.SUNConfig{
		BaseURL: "https://pay.example/t/abc", MetaKey: make([]byte, 16), FileKey: make([]byte, 16)})
	img.Counter = 0xFFFFFF
	r, _ := readerWith(t, ACR122, img)
	xmit(t, r, selectNDEFApp)
	xmit(t, r, selectNDEF)
	if got := xmit(t, r, "00B0000002"); got != "6982" {
		t.Errorf("read with the counter exhausted = %s, want 6982", got)
	}
}

func TestType4GetVersion(t *testing.T) {
	img := image424(t, "https://a.example", nil)
	uid := strings.ToUpper(hex.EncodeToString(img.UID))
	r, _ := readerWith(t, Part3, img)
	steps := []struct{ apdu, want string }{
		{"9060000000", "04040230001105" + "91AF"},
		{"90AF000000", "04040201021105" + "91AF"},
		{"90AF000000", uid + "CF3941B0012021" + "9100"},
		{"90AF000000", "911C"}, // no GET_VERSION under way
		{"903C0000010000", strings.Repeat("00", 56) + "9100"},
		{"9060000000", "04040230001105" + "91AF"},
		{selectNDEFApp, ok}, // any other command ends the chain
		{"90AF000000", "911C"},
		{"9099000000", "911C"},
		{"9060010000", "919E"},
	}
	for i, s := range steps {
		if got := xmit(t, r, s.apdu); got != s.want {
			t.Errorf("step %d %s = %s, want %s", i, s.apdu, got, s.want)
		}
	}
}

func TestType4NativeThroughReaders(t *testing.T) {
	img := image424(t, "https://a.example", nil)
	img.Signature = bytes.Repeat([]byte{0xA5}, 56)
	t.Run("part3", func(t *testing.T) {
		r, _ := readerWith(t, Part3, img)
		xmit(t, r, "FFC2000002810000")
		want := "C003009000960200009708AF040402300011059000"
		if got := xmit(t, r, "FFC200010395016000"); got != want {
			t.Errorf("GET_VERSION = %s, want %s", got, want)
		}
		// An ISO APDU in the same channel gets its R-APDU back as the tag's bytes.
		got := xmit(t, r, "FFC200010F950D"+selectNDEFApp+"00")
		if want := "C0030090009602000097029000" + ok; got != want {
			t.Errorf("SELECT through the session = %s, want %s", got, want)
		}
	})
	t.Run("acr122", func(t *testing.T) {
		r, _ := readerWith(t, ACR122, img)
		if got := direct(t, r, "3C00"); got != "D54300"+"00"+strings.Repeat("A5", 56)+ok {
			t.Errorf("READ_SIG = %s", got)
		}
	})
}
