package emu

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/nfc"
)

// type2Types are the Type 2 ICs the emulator models.
var type2Types = []nfc.TagType{
	nfc.TypeNTAG213, nfc.TypeNTAG215, nfc.TypeNTAG216, nfc.TypeUltralight, nfc.TypeUltralightEV1,
}

var testUID = mustHex("04515CFA6F7381")

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// blankImage is a factory-fresh tag with testUID: an empty NDEF TLV (03 00 FE) on
// page 4, configuration defaults (AUTH0 FF, ACCESS 00, PWD FFFFFFFF, PACK 0000).
func blankImage(t *testing.T, typ nfc.TagType) *nfc.Image {
	t.Helper()
	img, err := nfc.NewImage(typ, testUID, nil)
	if err != nil {
		t.Fatalf("NewImage(%s): %v", typ, err)
	}
	return img
}

// layoutOf is the data sheet memory map of typ.
func layoutOf(t *testing.T, typ nfc.TagType) nfc.Layout {
	t.Helper()
	l, ok := nfc.LayoutOf(typ)
	if !ok {
		t.Fatalf("no layout for %s", typ)
	}
	return l
}

// newTestTag builds a tag from img or fails the test.
func newTestTag(t *testing.T, img *nfc.Image) *Tag {
	t.Helper()
	tag, err := NewTag(img)
	if err != nil {
		t.Fatalf("NewTag(%s): %v", img.Type, err)
	}
	return tag
}

// readerWith returns a reader of personality p holding a tag built from img.
func readerWith(t *testing.T, p Personality, img *nfc.Image) (*Reader, *Tag) {
	t.Helper()
	tag := newTestTag(t, img)
	r := NewReader("Test Reader 00", p)
	r.Insert(tag, Faults{})
	return r, tag
}

// xmit sends an APDU given in hex and returns the answer in upper-case hex.
func xmit(t *testing.T, r *Reader, apdu string) string {
	t.Helper()
	resp, err := r.Transmit(mustHex(apdu))
	if err != nil {
		t.Fatalf("Transmit(%s): %v", apdu, err)
	}
	return strings.ToUpper(hex.EncodeToString(resp))
}

// direct sends a native frame through an ACR122's PN532 and returns the reply.
func direct(t *testing.T, r *Reader, frame string) string {
	t.Helper()
	f := mustHex(frame)
	apdu := append([]byte{0xFF, 0x00, 0x00, 0x00, byte(len(f) + 2), 0xD4, 0x42}, f...)
	return xmit(t, r, hex.EncodeToString(apdu))
}

func TestNewTagRejectsBadImages(t *testing.T) {
	tooMany := blankImage(t, nfc.TypeNTAG213)
	tooMany.Pages = append(tooMany.Pages, make(nfc.HexBytes, 4))
	shortPage := blankImage(t, nfc.TypeNTAG213)
	shortPage.Pages[7] = nfc.HexBytes{1, 2}
	wrongBCC := blankImage(t, nfc.TypeNTAG213)
	wrongBCC.Pages[0][3] ^= 0xFF
	badVersion := blankImage(t, nfc.TypeNTAG215)
	badVersion.Version = mustHex("0004")
	ulVersion := blankImage(t, nfc.TypeUltralight)
	ulVersion.Version = mustHex("0004040201000F03")
	badSig := blankImage(t, nfc.TypeNTAG216)
	badSig.Signature = mustHex("0102")
	bigCounter := blankImage(t, nfc.TypeNTAG213)
	bigCounter.Counter = 1 << 24
	shortUID := blankImage(t, nfc.TypeNTAG213)
	shortUID.UID = mustHex("04A1B2C3")

	cases := map[string]*nfc.Image{
		"no image":            nil,
		"unknown type":        {Type: nfc.TypeMifareClassic, UID: testUID},
		"more pages than IC":  tooMany,
		"page of 2 bytes":     shortPage,
		"BCC0 wrong":          wrongBCC,
		"version of 2 bytes":  badVersion,
		"version on MF0ICU1":  ulVersion,
		"signature 2 bytes":   badSig,
		"counter over 24 bit": bigCounter,
		"4-byte UID":          shortUID,
		"424 with 4-byte UID": {Type: nfc.TypeNTAG424DNA, UID: mustHex("04A1B2C3")},
		"424 NDEF too big":    {Type: nfc.TypeNTAG424DNA, UID: testUID, NDEF: make([]byte, 255)},
		"424 SUN short key": {Type: nfc.TypeNTAG424DNA, UID: testUID, SUN: &nfc.SUNConfig{
			BaseURL: "https://pay.example/t/x", MetaKey: make([]byte, 16), FileKey: make([]byte, 5)}},
		"424 SUN URL too long": {Type: nfc.TypeNTAG424DNA, UID: testUID, SUN: &nfc.SUNConfig{
			BaseURL: "https://pay.example/" + strings.Repeat("a", 240), MetaKey: make([]byte, 16), FileKey: make([]byte, 16)}},
	}
	for name, img := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := NewTag(img); err == nil {
				t.Fatal("NewTag accepted the image")
			}
		})
	}
}

func TestImageRoundTrip(t *testing.T) {
	for _, typ := range type2Types {
		t.Run(string(typ), func(t *testing.T) {
			img := blankImage(t, typ)
			img.Pages[5] = mustHex("DEADBEEF")
			got := newTestTag(t, img).Image()
			if got.Type != typ || !bytes.Equal(got.UID, img.UID) || len(got.Pages) != len(img.Pages) {
				t.Fatalf("Image() = %s %X with %d pages", got.Type, got.UID, len(got.Pages))
			}
			for i := range img.Pages {
				if !bytes.Equal(got.Pages[i], img.Pages[i]) {
					t.Errorf("page %d = %X, want %X", i, got.Pages[i], img.Pages[i])
				}
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Image() is not a valid image: %v", err)
			}
			// The copy is the caller's: changing it leaves the tag alone.
			got.Pages[5][0] = 0
			if again := newTestTag(t, img).Image(); again.Pages[5][0] != 0xDE {
				t.Error("Image() shares memory with the tag")
			}
		})
	}
}

func TestImageRoundTrip424(t *testing.T) {
	img := image424(t, "https://a.example/x", &nfc.SUNConfig{
		BaseURL: "https://pay.example/t/abc", MetaKey: make([]byte, 16), FileKey: make([]byte, 16)})
	img.Counter = 7
	img.Signature = bytes.Repeat([]byte{1}, 56)
	got := newTestTag(t, img).Image()
	if err := got.Validate(); err != nil {
		t.Errorf("Image() is not a valid image: %v", err)
	}
	if !bytes.Equal(got.NDEF, img.NDEF) || got.Counter != 7 || !bytes.Equal(got.Signature, img.Signature) ||
		got.SUN == nil || got.SUN.BaseURL != img.SUN.BaseURL {
		t.Errorf("Image() = %+v, want %+v", got, img)
	}
}

func TestImageWithoutSerialPagesGetsThem(t *testing.T) {
	tag := newTestTag(t, &nfc.Image{Type: nfc.TypeNTAG215, UID: testUID})
	img := tag.Image()
	want := "04515C81FA6F7381"
	if got := strings.ToUpper(hex.EncodeToString(append(img.Pages[0], img.Pages[1]...))); got != want {
		t.Errorf("pages 0-1 = %s, want %s", got, want)
	}
}
