package nfc

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestFlipperRoundTrip(t *testing.T) {
	for _, typ := range []TagType{TypeNTAG213, TypeNTAG215, TypeNTAG216, TypeUltralight, TypeUltralightEV1, TypeUltralightC} {
		t.Run(string(typ), func(t *testing.T) {
			img := newTestImage(t, typ)
			img.Counter = 12
			if typ != TypeUltralight && typ != TypeUltralightC {
				img.Signature = unhex(t, "4221E46C796A815EEA0D936D85EE4B0C2A00D577F1C567F36375F8EB86485E6B")
			}
			b, err := FormatFlipper(img)
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseFlipper(b)
			if err != nil {
				t.Fatalf("ParseFlipper: %v\n%s", err, b)
			}
			j1, _ := FormatImageJSON(img)
			j2, _ := FormatImageJSON(back)
			if !bytes.Equal(j1, j2) {
				t.Fatalf("Flipper round trip changed the image:\n%s\n%s", j1, j2)
			}
		})
	}
}

func TestFormatFlipper(t *testing.T) {
	img := newTestImage(t, TypeNTAG215)
	img.Counter = 3
	b, err := FormatFlipper(img)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"Filetype: Flipper NFC device\nVersion: 4\n",
		"\nDevice type: NTAG/Ultralight\nUID: 04 51 5C FA 6F 73 81\nATQA: 00 44\nSAK: 00\nData format version: 2\nNTAG/Ultralight type: NTAG215\n",
		"\nSignature: " + strings.TrimSpace(strings.Repeat("00 ", 32)) + "\nMifare version: 00 04 04 02 01 00 11 03\n",
		"\nCounter 0: 0\nTearing 0: 00\nCounter 1: 0\nTearing 1: 00\nCounter 2: 3\nTearing 2: 00\n",
		"\nPages total: 135\nPages read: 135\nPage 0: 04 51 5C 81\nPage 1: FA 6F 73 81\n",
		"\nPage 134: 00 00 00 00\nFailed authentication attempts: 0\n",
	} {
		if !bytes.Contains(b, []byte(line)) {
			t.Errorf("Flipper file lacks %q", line)
		}
	}
	if _, err := FormatFlipper(newTestImage(t, TypeNTAG424DNA)); !errors.Is(err, ErrFlipperNo424) || !strings.Contains(err.Error(), "the Flipper format does not hold an NTAG 424 DNA") {
		t.Fatalf("FormatFlipper(424 DNA) error = %v", err)
	}
}

// legacyFlipper writes a version 3 file the way older firmware did: the IC in
// "Device type", LSB-first ATQA in version 2, no NTAG/Ultralight type line.
func legacyFlipper(t *testing.T, img *Image, deviceType string) string {
	var w strings.Builder
	fmt.Fprintf(&w, "Filetype: Flipper NFC device\r\nVersion: 3\r\n# Nfc device type can be UID, Mifare Ultralight, Mifare Classic\r\n")
	fmt.Fprintf(&w, "Device type: %s\r\nUID: % X\r\nATQA: 44 00\r\nSAK: 00\r\n", deviceType, []byte(img.UID))
	version := img.Version
	if version == nil {
		version = make([]byte, 8) // what Flipper writes for an IC without GET_VERSION
	}
	fmt.Fprintf(&w, "Data format version: 1\r\nSignature: %s\r\nMifare version: % X\r\n", strings.TrimSpace(strings.Repeat("00 ", 32)), []byte(version))
	fmt.Fprintf(&w, "Counter 0: 0\r\nTearing 0: 00\r\nCounter 1: 0\r\nTearing 1: 00\r\nCounter 2: 95\r\nTearing 2: 00\r\n")
	fmt.Fprintf(&w, "Pages total: %d\r\nPages read: %d\r\n", len(img.Pages), len(img.Pages))
	for i, p := range img.Pages {
		fmt.Fprintf(&w, "Page %d: % X\r\n", i, []byte(p))
	}
	return w.String()
}

func TestParseFlipperLegacy(t *testing.T) {
	tests := []struct {
		deviceType string
		typ        TagType
		pages      int
		counter    uint32
	}{
		{"NTAG216", TypeNTAG216, 231, 95},
		{"Mifare Ultralight 21", TypeUltralightEV1, 41, 0},
		// Older firmware named an EV1 plain "Mifare Ultralight"; its size tells.
		{"Mifare Ultralight", TypeUltralightEV1, 20, 0},
		{"Mifare Ultralight", TypeUltralight, 16, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %d", tt.deviceType, tt.pages), func(t *testing.T) {
			l, _ := LayoutByPages(tt.typ, tt.pages)
			img, err := l.NewImage(unhex(t, "04518DFAA96180"), nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseFlipper([]byte(legacyFlipper(t, img, tt.deviceType)))
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != tt.typ || len(got.Pages) != tt.pages || got.Counter != tt.counter || got.Signature != nil {
				t.Fatalf("ParseFlipper = type %s, %d pages, counter %d, signature %X", got.Type, len(got.Pages), got.Counter, got.Signature)
			}
			if !bytes.Equal(got.Version, img.Version) {
				t.Fatalf("version = %X, want %X", got.Version, img.Version)
			}
		})
	}
}

func TestParseFlipperErrors(t *testing.T) {
	img := newTestImage(t, TypeNTAG213)
	good, err := FormatFlipper(img)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) string {
		if !strings.Contains(string(good), old) {
			t.Fatalf("test file lacks %q", old)
		}
		return strings.Replace(string(good), old, new, 1)
	}
	tests := []struct {
		name    string
		file    string
		wantErr string
	}{
		{"not key value", edit("SAK: 00\n", "SAK 00\n"), `line 7: "SAK 00" is not a "key: value" line`},
		{"wrong filetype", edit("Flipper NFC device", "Flipper RFID key"), `line 1: Filetype is "Flipper RFID key"`},
		{"no filetype", edit("Filetype: Flipper NFC device\n", ""), "no Filetype line"},
		{"newer version", edit("Version: 4", "Version: 5"), `line 2: version "5" is not one tagpay reads`},
		{"classic", edit("Device type: NTAG/Ultralight", "Device type: Mifare Classic"), `line 4: Device type "Mifare Classic" is not a tag tagpay reads`},
		{"unknown IC", edit("NTAG/Ultralight type: NTAG213", "NTAG/Ultralight type: NTAG218"), `line 9: NTAG/Ultralight type "NTAG218" is not a tag`},
		{"NTAG203 with 45 pages", edit("NTAG/Ultralight type: NTAG213", "NTAG/Ultralight type: NTAG203"), `Pages total is "45", an NTAG203 has 42`},
		{"no IC line", edit("NTAG/Ultralight type: NTAG213\n", ""), "line 4: Device type is NTAG/Ultralight but there is no NTAG/Ultralight type line"},
		{"short UID", edit("UID: 04 51 5C FA 6F 73 81", "UID: 04 51 5C FA"), "line 5: UID: 4 bytes given, want 7"},
		{"bad page byte", edit("Page 1: FA 6F 73 81", "Page 1: FA 6F 73 8G"), `line 21: page 1: "8G" is not a hex byte`},
		{"short page", edit("Page 1: FA 6F 73 81", "Page 1: FA 6F 73"), "line 21: page 1: 3 bytes given, want 4"},
		{"wrong total", edit("Pages total: 45", "Pages total: 44"), `line 18: Pages total is "44", an NTAG213 has 45`},
		{"partial read", edit("Pages read: 45", "Pages read: 20"), "line 19: only 20 of 45 pages were read"},
		{"missing page", edit("Page 17: ", "Page 99: "), `no "Page 17" line`},
		{"duplicate page", edit("Page 17: ", "Page 16: "), "line 37: page 16 given again (first on line 36)"},
		{"duplicate field", edit("SAK: 00\n", "SAK: 00\nSAK: 00\n"), "line 8: SAK given again (first on line 7)"},
		{"page past the end", edit("Failed authentication", "Page 45: 00 00 00 00\nFailed authentication"), "line 65: page 45 is past the last page (44)"},
		{"negative page", edit("Page 17: ", "Page -17: "), `line 37: "-17" is not a page number`},
		{"bad counter", edit("Counter 2: 0", "Counter 2: x"), `line 16: Counter 2 "x" is not a number`},
		{"BCC wrong", edit("Page 0: 04 51 5C 81", "Page 0: 04 51 5C 82"), "BCC0 (page 0 byte 3) is 82"},
		{"empty", "", "no Filetype line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := ParseFlipper([]byte(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseFlipper = %v, %v; want error containing %q", img, err, tt.wantErr)
			}
		})
	}
}

func FuzzParseFlipper(f *testing.F) {
	for _, typ := range []TagType{TypeNTAG213, TypeUltralight} {
		b, err := FormatFlipper(newTestImage(f, typ))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("Filetype: Flipper NFC device\nVersion: 4\nDevice type: NTAG/Ultralight\nNTAG/Ultralight type: NTAG213\nPages total: 45\nPage 0: 00\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := ParseFlipper(b)
		if err != nil {
			return
		}
		out, err := FormatFlipper(img)
		if err != nil {
			t.Fatalf("a parsed file does not format: %v", err)
		}
		back, err := ParseFlipper(out)
		if err != nil {
			t.Fatalf("a formatted file does not parse: %v\n%s", err, out)
		}
		if out2, _ := FormatFlipper(back); !bytes.Equal(out, out2) {
			t.Fatalf("format→parse→format is not stable:\n%s\n%s", out, out2)
		}
	})
}

func TestFlipperRoundTripOfEveryIC(t *testing.T) {
	for _, l := range Layouts() {
		t.Run(l.Name, func(t *testing.T) {
			img, err := l.NewImage(unhex(t, "04515CFA6F7381"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if l.CFG0 >= 0 {
				img.AuthFailures = 2 // kept by the IC, and by Flipper
			}
			b, err := FormatFlipper(img)
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseFlipper(b)
			if err != nil {
				t.Fatalf("ParseFlipper: %v\n%s", err, b)
			}
			j1, _ := FormatImageJSON(img)
			j2, _ := FormatImageJSON(back)
			if !bytes.Equal(j1, j2) {
				t.Fatalf("Flipper round trip changed the image:\n%s\n%s", j1, j2)
			}
		})
	}
}

func TestFormatFlipperOfAPartialDump(t *testing.T) {
	img := newTestImage(t, TypeNTAG213)
	img.Unreadable = []int{10, 11, 12}
	for p := 13; p < 45; p++ {
		img.Unreadable = append(img.Unreadable, p)
	}
	b, err := FormatFlipper(img)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, "Pages read: 10\n") || !strings.Contains(s, "Page 9: ") || strings.Contains(s, "Page 10: ") {
		t.Errorf("partial dump as Flipper:\n%s", s)
	}
	if _, err := ParseFlipper(b); err == nil || !strings.Contains(err.Error(), "only 10 of 45 pages were read") {
		t.Errorf("ParseFlipper of a partial dump: %v", err)
	}
}
