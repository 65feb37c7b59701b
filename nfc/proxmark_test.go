package nfc_test

import (
	"encoding/hex"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/nfc"
)

// A dump as the Proxmark3 client writes it for an NTAG213 (pages cut short below).
func proxmarkSample(blocks string) string {
	return `{
  "Created": "proxmark3",
  "FileType": "mfu",
  "Card": {
    "UID": "04515CFA6F7381",
    "Version": "0004040201000F03",
    "TBO_0": "0000",
    "TBO_1": "00",
    "Signature": "4221E46C796A815EEA0D936D85EE4B0C2A00D577F1C567F36375F8EB86485E6B",
    "Counter0": "000000",
    "Tearing0": "BD",
    "Counter1": "000000",
    "Tearing1": "BD",
    "Counter2": "050000",
    "Tearing2": "BD"
  },
  "blocks": {` + blocks + `
  }
}`
}

func ntag213Blocks(t *testing.T) string {
	img := image(t, nfc.TypeNTAG213, uriMessage(t, shortURL))
	var parts []string
	for i, p := range img.Pages {
		parts = append(parts, "\n    \""+itoa(i)+"\": \""+strings.ToUpper(hexOf(p))+"\"")
	}
	return strings.Join(parts, ",")
}

func TestParseProxmark(t *testing.T) {
	img, err := nfc.ParseProxmark([]byte(proxmarkSample(ntag213Blocks(t))))
	if err != nil {
		t.Fatal(err)
	}
	want := image(t, nfc.TypeNTAG213, uriMessage(t, shortURL))
	if img.Type != nfc.TypeNTAG213 || !reflect.DeepEqual(img.Pages, want.Pages) || img.Counter != 5 {
		t.Errorf("parsed %s, counter %d, pages equal %v", img.Type, img.Counter, reflect.DeepEqual(img.Pages, want.Pages))
	}
	if len(img.Signature) != 32 || len(img.Version) != 8 {
		t.Errorf("signature % X, version % X", img.Signature, img.Version)
	}
	again, format, err := nfc.ParseImageFile([]byte(proxmarkSample(ntag213Blocks(t))))
	if err != nil || format != nfc.ImageProxmark || !reflect.DeepEqual(again, img) {
		t.Errorf("ParseImageFile: %s, %v", format, err)
	}
}

func TestProxmarkRoundTripsEveryType2IC(t *testing.T) {
	for _, l := range nfc.Layouts() {
		t.Run(l.Name, func(t *testing.T) {
			img, err := l.NewImage(unhex(t, "04515CFA6F7381"), uriMessage(t, "https://a.io/x"))
			if err != nil {
				t.Fatal(err)
			}
			img.Signature = unhex(t, strings.Repeat("5A", 32))
			if l.Type == nfc.TypeNTAG215 {
				img.Counter = 0x010203
			}
			b, err := nfc.FormatProxmark(img)
			if err != nil {
				t.Fatal(err)
			}
			got, format, err := nfc.ParseImageFile(b)
			if err != nil || format != nfc.ImageProxmark {
				t.Fatalf("ParseImageFile: %s, %v\n%s", format, err, b)
			}
			if !reflect.DeepEqual(got, img) {
				t.Errorf("round trip changed the image:\n got %+v\nwant %+v", got, img)
			}
		})
	}
}

func TestParseProxmarkRejects(t *testing.T) {
	good := ntag213Blocks(t)
	cases := []struct{ name, in, want string }{
		{"not JSON", "Filetype: x", "proxmark3 dump"},
		{"classic dump", strings.Replace(proxmarkSample(good), `"mfu"`, `"mfc"`, 1), `FileType "mfc" is not an Ultralight/NTAG dump`},
		{"no blocks", `{"FileType":"mfu","Card":{"UID":"04515CFA6F7381"}}`, `no "blocks"`},
		{"no UID", `{"FileType":"mfu","Card":{},"blocks":{}}`, "no Card.UID"},
		{"short UID", strings.Replace(proxmarkSample(good), `"04515CFA6F7381"`, `"04515C"`, 1), "Card.UID is \"04515C\", want 7 bytes"},
		{"bad block", strings.Replace(proxmarkSample(good), `"4": "`, `"4": "ZZ`, 1), "block 4 is"},
		{"gap", strings.Replace(proxmarkSample(good), `"44": `, `"45": `, 1), "pages must run from 0 without gaps"},
		{"leading zero", strings.Replace(proxmarkSample(good), `"4": `, `"04": `, 1), `block "04" is not a page number`},
		{"version of another IC", strings.Replace(proxmarkSample(good), "0004040201000F03", "0004040201001103", 1), "names an NTAG215, which has 135 pages"},
		{"wrong BCC", strings.Replace(proxmarkSample(good), `"0": "04515C81"`, `"0": "04515C00"`, 1), "BCC0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := nfc.ParseProxmark([]byte(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("ParseProxmark = %v, want error containing %q", err, c.want)
			}
		})
	}
}

func TestFormatProxmarkRefusesPartialDumps(t *testing.T) {
	img := image(t, nfc.TypeNTAG213, nil)
	img.Unreadable = []int{43, 44}
	if _, err := nfc.FormatProxmark(img); err == nil || !strings.Contains(err.Error(), "43-44") {
		t.Errorf("FormatProxmark of a partial dump: %v", err)
	}
	if _, err := nfc.FormatProxmark(image(t, nfc.TypeNTAG424DNA, nil)); err == nil {
		t.Error("FormatProxmark of an NTAG 424 DNA image succeeded")
	}
}

// FuzzParseProxmark checks meaning, not only survival: whatever ParseProxmark
// accepts formats back to a dump that parses to the same image.
func FuzzParseProxmark(f *testing.F) {
	for _, typ := range []nfc.TagType{nfc.TypeNTAG213, nfc.TypeUltralight, nfc.TypeNTAG210} {
		img, err := nfc.NewImage(typ, []byte{4, 0x51, 0x5C, 0xFA, 0x6F, 0x73, 0x81}, nil)
		if err != nil {
			f.Fatal(err)
		}
		b, err := nfc.FormatProxmark(img)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"FileType":"mfu","Card":{"UID":"04515CFA6F7381"},"blocks":{"0":"04515C81"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := nfc.ParseProxmark(b)
		if err != nil {
			return
		}
		out, err := nfc.FormatProxmark(img)
		if err != nil {
			t.Fatalf("an accepted dump does not format: %v", err)
		}
		again, err := nfc.ParseProxmark(out)
		if err != nil {
			t.Fatalf("a formatted dump does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(again, img) {
			t.Fatalf("round trip changed the image:\n got %+v\nwant %+v", again, img)
		}
	})
}

func itoa(i int) string { return strconv.Itoa(i) }

func hexOf(b []byte) string { return hex.EncodeToString(b) }
