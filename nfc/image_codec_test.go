package nfc

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func newTestImage(t testing.TB, typ TagType) *Image {
	t.Helper()
	img, err := NewImage(typ, unhex(t, "04515CFA6F7381"), uriMessage(t, "https://pay.example/t/1"))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestImageJSONRoundTrip(t *testing.T) {
	for _, typ := range []TagType{TypeNTAG213, TypeNTAG215, TypeNTAG216, TypeUltralight, TypeUltralightEV1, TypeUltralightC, TypeNTAG424DNA} {
		t.Run(string(typ), func(t *testing.T) {
			img := newTestImage(t, typ)
			img.Counter = 7
			if typ == TypeNTAG424DNA {
				img.SUN = &SUNConfig{BaseURL: "https://pay.example/s", MetaKey: make([]byte, 16), FileKey: make([]byte, 16)}
			}
			b, err := FormatImageJSON(img)
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseImageJSON(b)
			if err != nil {
				t.Fatalf("ParseImageJSON: %v\n%s", err, b)
			}
			b2, err := FormatImageJSON(back)
			if err != nil || !bytes.Equal(b, b2) {
				t.Fatalf("JSON round trip changed the image:\n%s\n%s", b, b2)
			}
		})
	}
}

func TestImageMarshalJSONIsStable(t *testing.T) {
	img := &Image{Type: TypeNTAG424DNA, UID: unhex(t, "04de5f1eacc040"), NDEF: unhex(t, "d00000"), Counter: 61}
	want := `{"type":"ntag424dna","uid":"04DE5F1EACC040","counter":61,"ndef":"D00000"}`
	for i := 0; i < 2; i++ {
		b, err := json.Marshal(img)
		if err != nil || string(b) != want {
			t.Fatalf("json.Marshal = %s, %v; want %s", b, err, want)
		}
	}
	// A value marshals the same as a pointer.
	if b, _ := json.Marshal(*img); string(b) != want {
		t.Fatalf("json.Marshal(value) = %s, want %s", b, want)
	}
}

func TestParseImageJSONRejects(t *testing.T) {
	good := newTestImage(t, TypeNTAG213)
	goodJSON, err := json.Marshal(good)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		json    string
		wantErr string
	}{
		{"unknown field", `{"type":"ntag213","uid":"04515CFA6F7381","pagez":[]}`, `unknown field "pagez"`},
		{"bad hex", `{"type":"ntag213","uid":"04515CFA6F73ZZ"}`, "bad hex"},
		{"trailing data", string(goodJSON) + `{}`, "unexpected data after the JSON object"},
		{"not JSON", `tag`, "tag image"},
		{"unknown type", `{"type":"ntag218","uid":"04515CFA6F7381"}`, `unknown tag type "ntag218"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := ParseImageJSON([]byte(tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseImageJSON = %+v, %v; want error containing %q", img, err, tt.wantErr)
			}
		})
	}
}

func TestImageValidate(t *testing.T) {
	tests := []struct {
		name    string
		typ     TagType
		change  func(img *Image)
		wantErr string
	}{
		{"valid NTAG213", TypeNTAG213, func(*Image) {}, ""},
		{"partial dump", TypeNTAG213, func(img *Image) { img.Unreadable = []int{43, 44} }, ""},
		{"unreadable UID page", TypeNTAG213, func(img *Image) { img.Unreadable = []int{2} }, "unreadable page 2 is not a page a password can guard"},
		{"unreadable past the end", TypeNTAG213, func(img *Image) { img.Unreadable = []int{45} }, "unreadable page 45"},
		{"unreadable out of order", TypeNTAG213, func(img *Image) { img.Unreadable = []int{20, 10} }, "once each, in order"},
		{"password failures", TypeNTAG216, func(img *Image) { img.AuthFailures = 3 }, ""},
		{"too many failures", TypeNTAG216, func(img *Image) { img.AuthFailures = 8 }, "runs from 0 to 7"},
		{"failures without a password", TypeUltralight, func(img *Image) { img.AuthFailures = 1 }, "has no password"},
		{"one page short", TypeNTAG213, func(img *Image) { img.Pages = img.Pages[:44] }, "image has 44 pages, an NTAG213 has 45"},
		{"EV1 of no known size", TypeUltralightEV1, func(img *Image) { img.Pages = append(img.Pages, img.Pages[:10]...) },
			"image has 30 pages, an ultralight_ev1 has 20 (MIFARE Ultralight EV1 (MF0UL11)) or 41 (MIFARE Ultralight EV1 (MF0UL21))"},
		{"Ultralight", TypeUltralight, func(img *Image) { img.Pages = img.Pages[:15] }, "image has 15 pages, a MIFARE Ultralight has 16"},
		{"short page", TypeNTAG213, func(img *Image) { img.Pages[5] = img.Pages[5][:3] }, "page 5 has 3 bytes, want 4"},
		{"UID not in pages", TypeNTAG213, func(img *Image) { img.UID = unhex(t, "04515CFA6F7382") }, "do not hold the UID"},
		{"bad BCC0", TypeNTAG213, func(img *Image) { img.Pages[0][3] ^= 1 }, "BCC0 (page 0 byte 3) is 80, the UID gives 81"},
		{"bad BCC1", TypeNTAG213, func(img *Image) { img.Pages[2][0] ^= 1 }, "BCC1 (page 2 byte 0) is 66, the UID gives 67"},
		{"short UID", TypeNTAG213, func(img *Image) { img.UID = img.UID[:4] }, "UID is 4 bytes, want 7"},
		{"short version", TypeNTAG213, func(img *Image) { img.Version = img.Version[:7] }, "version is 7 bytes"},
		{"signature size", TypeNTAG213, func(img *Image) { img.Signature = make([]byte, 56) }, "signature is 56 bytes, an NTAG213 signs with 32"},
		{"ndef on Type 2", TypeNTAG213, func(img *Image) { img.NDEF = []byte{1} }, "ndef, sun and dna are for NTAG 424 DNA images"},
		{"unknown type", TypeNTAG213, func(img *Image) { img.Type = TypeUnknown }, `unknown tag type "unknown"`},
		{"valid 424", TypeNTAG424DNA, func(*Image) {}, ""},
		{"424 with pages", TypeNTAG424DNA, func(img *Image) { img.Pages = []HexBytes{{0, 0, 0, 0}} }, "an NTAG 424 DNA has no pages"},
		{"424 signature", TypeNTAG424DNA, func(img *Image) { img.Signature = make([]byte, 32) }, "signature is 32 bytes, an NTAG 424 DNA signs with 56"},
		{"424 SUN without base", TypeNTAG424DNA, func(img *Image) { img.SUN = &SUNConfig{FileKey: make([]byte, 16), MetaKey: make([]byte, 16)} }, "sun.base_url is empty"},
		{"424 SUN short key", TypeNTAG424DNA, func(img *Image) {
			img.SUN = &SUNConfig{BaseURL: "https://x", FileKey: make([]byte, 8), MetaKey: make([]byte, 16)}
		}, "sun.file_key is 8 bytes"},
		{"424 plain SUN needs no meta key", TypeNTAG424DNA, func(img *Image) {
			img.SUN = &SUNConfig{BaseURL: "https://x", FileKey: make([]byte, 16), Plain: true}
		}, ""},
		{"424 SUN counter overflow", TypeNTAG424DNA, func(img *Image) {
			img.SUN = &SUNConfig{BaseURL: "https://x", FileKey: make([]byte, 16), MetaKey: make([]byte, 16)}
			img.Counter = 1 << 24
		}, "does not fit in 3 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := newTestImage(t, tt.typ)
			tt.change(img)
			err := img.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
	var nilImage *Image
	if err := nilImage.Validate(); err == nil {
		t.Fatal("a nil image validates")
	}
}

func FuzzParseImageJSON(f *testing.F) {
	for _, typ := range []TagType{TypeNTAG213, TypeUltralightC, TypeNTAG424DNA} {
		b, err := FormatImageJSON(newTestImage(f, typ))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"type":"ntag213","uid":"04515CFA6F7381","pages":["04515C81"]}`))
	f.Add([]byte(`{"type":"ntag424dna","uid":"04515CFA6F7381","sun":{"base_url":"x","meta_key":"","file_key":""}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := ParseImageJSON(b)
		if err != nil {
			return
		}
		out, err := FormatImageJSON(img)
		if err != nil {
			t.Fatalf("a parsed image does not format: %v", err)
		}
		back, err := ParseImageJSON(out)
		if err != nil {
			t.Fatalf("formatted image does not parse: %v\n%s", err, out)
		}
		if out2, _ := FormatImageJSON(back); !bytes.Equal(out, out2) {
			t.Fatalf("format→parse→format is not stable:\n%s\n%s", out, out2)
		}
	})
}
