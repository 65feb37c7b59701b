package nfc

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/nfc/ndef"
)

func uriMessage(t testing.TB, uri string) []byte {
	t.Helper()
	b, err := ndef.Encode(ndef.Message{ndef.NewURI(uri)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewImageNTAG215(t *testing.T) {
	msg := uriMessage(t, "https://pay.example/t/AB12?s=00112233")
	img, err := NewImage(TypeNTAG215, unhex(t, "04515CFA6F7381"), msg)
	if err != nil {
		t.Fatal(err)
	}
	wantPages := map[int]string{
		0: "04515C81", 1: "FA6F7381", 2: "6748" + "0000", 3: "E1103E00",
		130: "000000BD", 131: "040000FF", 132: "00050000", 133: "FFFFFFFF", 134: "00000000",
		129: "00000000",
	}
	for p, want := range wantPages {
		if !bytes.Equal(img.Pages[p], unhex(t, want)) {
			t.Errorf("page %d = %X, want %s", p, img.Pages[p], want)
		}
	}
	if len(img.Pages) != 135 || !bytes.Equal(img.Version, unhex(t, "0004040201001103")) || img.Signature != nil {
		t.Fatalf("pages %d, version %X, signature %X", len(img.Pages), img.Version, img.Signature)
	}
	var user []byte
	for _, p := range img.Pages[4:130] {
		user = append(user, p...)
	}
	got, err := ParseNDEFTLV(user)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("NDEF in user memory = %X, %v; want %X", got, err, msg)
	}
}

func TestNewImageFactoryConfig(t *testing.T) {
	tests := []struct {
		name  string
		lay   func() (Layout, bool)
		pages map[int]string
	}{
		{"NTAG213", func() (Layout, bool) { return LayoutOf(TypeNTAG213) }, map[int]string{40: "000000BD", 41: "040000FF", 42: "00050000", 43: "FFFFFFFF", 44: "00000000"}},
		{"MF0UL11", func() (Layout, bool) { return LayoutOf(TypeUltralightEV1) }, map[int]string{16: "000000FF", 17: "00050000", 18: "FFFFFFFF", 19: "00000000"}},
		{"MF0UL21", func() (Layout, bool) { return LayoutByPages(TypeUltralightEV1, 41) }, map[int]string{36: "00000000", 37: "000000FF", 38: "00050000", 39: "FFFFFFFF", 40: "00000000"}},
		{"Ultralight C", func() (Layout, bool) { return LayoutOf(TypeUltralightC) }, map[int]string{40: "00000000", 42: "30000000", 47: "00000000"}},
		{"Ultralight", func() (Layout, bool) { return LayoutOf(TypeUltralight) }, map[int]string{3: "E1100600", 4: "0300FE00", 15: "00000000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := tt.lay()
			img, err := l.NewImage(unhex(t, "04E10CDA993C80"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(img.Pages) != l.Pages {
				t.Fatalf("%d pages, want %d", len(img.Pages), l.Pages)
			}
			for p, want := range tt.pages {
				if !bytes.Equal(img.Pages[p], unhex(t, want)) {
					t.Errorf("page %d = %X, want %s", p, img.Pages[p], want)
				}
			}
		})
	}
}

func TestNewImageRandomUID(t *testing.T) {
	a, err := NewImage(TypeNTAG213, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewImage(TypeNTAG213, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.UID[0] != 0x04 || len(a.UID) != 7 {
		t.Fatalf("random UID %X: want 7 bytes starting 04 (NXP)", a.UID)
	}
	if bytes.Equal(a.UID, b.UID) {
		t.Fatalf("two random UIDs are both %X", a.UID)
	}
	if err := a.Validate(); err != nil {
		t.Fatalf("image with a random UID does not validate: %v", err)
	}
}

func TestNewImage424(t *testing.T) {
	msg := uriMessage(t, "https://pay.example/s")
	img, err := NewImage(TypeNTAG424DNA, unhex(t, "04DE5F1EACC040"), msg)
	if err != nil {
		t.Fatal(err)
	}
	if img.Pages != nil || !bytes.Equal(img.NDEF, msg) || !bytes.Equal(img.UID, unhex(t, "04DE5F1EACC040")) {
		t.Fatalf("424 DNA image = %+v", img)
	}
}

func TestNewImageErrors(t *testing.T) {
	long := uriMessage(t, "https://pay.example/"+strings.Repeat("x", 200))
	tests := []struct {
		name    string
		typ     TagType
		uid     []byte
		msg     []byte
		wantErr string
	}{
		{"message too long", TypeNTAG213, nil, long, "NDEF message of 217 bytes needs 220 bytes of user memory, an NTAG213 has 144"},
		{"message too long for 424", TypeNTAG424DNA, nil, uriMessage(t, "https://"+strings.Repeat("x", 300)), "NTAG 424 DNA holds 254"},
		{"not NDEF", TypeNTAG213, nil, []byte{0x01, 0x02}, "new tag image: ndef: record 0"},
		{"short UID", TypeNTAG215, []byte{4, 1, 2, 3}, nil, "UID is 4 bytes, want 7"},
		{"classic", TypeMifareClassic, nil, nil, "cannot make a \"mifare_classic\" image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := NewImage(tt.typ, tt.uid, tt.msg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewImage = %v, %v; want error containing %q", img, err, tt.wantErr)
			}
		})
	}
	// The largest message that fits an NTAG213: 144 bytes of user memory, TLV of 3 + n.
	fits := make([]byte, 141)
	if _, err := ndef.Decode(fits); err == nil {
		t.Fatal("test assumption: zeros are not an NDEF message")
	}
	rec, err := ndef.Encode(ndef.Message{ndef.NewUnknown(make([]byte, 138))})
	if err != nil || len(rec) != 141 {
		t.Fatalf("test message is %d bytes, %v", len(rec), err)
	}
	if _, err := NewImage(TypeNTAG213, nil, rec); err != nil {
		t.Fatalf("a 141-byte message must fit an NTAG213: %v", err)
	}
	rec2, _ := ndef.Encode(ndef.Message{ndef.NewUnknown(make([]byte, 139))})
	if _, err := NewImage(TypeNTAG213, nil, rec2); err == nil {
		t.Fatal("a 142-byte message must not fit an NTAG213")
	}
}
