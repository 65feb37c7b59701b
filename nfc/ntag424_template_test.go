package nfc

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/nfc/ndef"
)

// The template's offsets land on its zeroed placeholders, in the file as written.
func TestNewSUNTemplateOffsets(t *testing.T) {
	cases := []struct {
		name string
		url  string
		o    SUNTemplateOptions
		want string // the stored URL
	}{
		{"default e and c", "https://pay.example/t/abc", SUNTemplateOptions{MetaKeyNo: 1, FileKeyNo: 2},
			"https://pay.example/t/abc?e=" + strings.Repeat("0", 32) + "&c=" + strings.Repeat("0", 16)},
		{"query already there", "https://pay.example/t?x=1", SUNTemplateOptions{MetaKeyNo: 1, FileKeyNo: 2},
			"https://pay.example/t?x=1&e=" + strings.Repeat("0", 32) + "&c=" + strings.Repeat("0", 16)},
		{"plain", "http://www.example.com/p", SUNTemplateOptions{FileKeyNo: 2, Plain: true},
			"http://www.example.com/p?uid=" + strings.Repeat("0", 14) + "&ctr=000000&c=" + strings.Repeat("0", 16)},
		{"named placeholders with file data", "https://x.example/{picc}/{enc}?cmac={mac}", SUNTemplateOptions{MetaKeyNo: 3, FileKeyNo: 4, FileData: []byte("0123456789abcdef")},
			"https://x.example/" + strings.Repeat("0", 32) + "/0123456789abcdef" + strings.Repeat("0", 16) + "?cmac=" + strings.Repeat("0", 16)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tpl, err := NewSUNTemplate(c.url, c.o)
			if err != nil {
				t.Fatal(err)
			}
			if tpl.URL != c.want {
				t.Fatalf("URL %q, want %q", tpl.URL, c.want)
			}
			m, err := ndef.Decode(tpl.File[2:])
			if u, _ := ndef.FirstURI(m); err != nil || u != c.want || int(tpl.File[0])<<8|int(tpl.File[1]) != len(tpl.File)-2 {
				t.Fatalf("file %X holds %q, %v", tpl.File, u, err)
			}
			at := func(off, n int) string { return string(tpl.File[off : off+n]) }
			s := tpl.SDM
			if at(s.MACOffset, 16) != strings.Repeat("0", 16) || s.FileReadKey != c.o.FileKeyNo {
				t.Errorf("MAC at %d reads %q", s.MACOffset, at(s.MACOffset, 16))
			}
			if c.o.Plain {
				if at(s.UIDOffset, 14) != strings.Repeat("0", 14) || at(s.ReadCtrOffset-5, 11) != "&ctr=000000" || s.MetaReadKey != AccessFree {
					t.Errorf("plain offsets %+v", s)
				}
			} else if at(s.PICCDataOffset-1, 33) != "="+strings.Repeat("0", 32) && at(s.PICCDataOffset-1, 33) != "/"+strings.Repeat("0", 32) || s.MetaReadKey != c.o.MetaKeyNo {
				t.Errorf("PICC data at %d reads %q", s.PICCDataOffset, at(s.PICCDataOffset, 32))
			}
			if c.o.FileData != nil {
				if at(s.ENCOffset, 16) != string(c.o.FileData) || s.ENCLength != 32 || s.MACInputOffset != s.ENCOffset {
					t.Errorf("enc offsets %+v", s)
				}
			} else if s.MACInputOffset != s.MACOffset {
				t.Errorf("MAC input %d, want the MAC's own offset %d", s.MACInputOffset, s.MACOffset)
			}
			fs := FileSettings{Access: AccessRights{Read: AccessFree}, Size: 256, SDM: &s}
			back, err := ParseFileSettings(fs.Bytes())
			if err != nil || back.SDM == nil || *back.SDM != s {
				t.Errorf("settings round trip: %+v, %v", back.SDM, err)
			}
		})
	}
}

func TestNewSUNTemplateErrors(t *testing.T) {
	cases := []struct {
		url  string
		o    SUNTemplateOptions
		want string
	}{
		{"https://x/?e={picc}", SUNTemplateOptions{}, "no {mac}"},
		{"https://x/?e={picc}&c={mac}&d={mac}", SUNTemplateOptions{}, "given twice"},
		{"https://x/?e={foo}&c={mac}", SUNTemplateOptions{}, "unknown placeholder {foo}"},
		{"https://x/?e={picc&c={mac}", SUNTemplateOptions{}, "unknown placeholder"},
		{"https://x/?u={uid}&c={mac}", SUNTemplateOptions{}, "{uid} and {ctr} with plain"},
		{"https://x/?c={mac}", SUNTemplateOptions{Plain: true}, "nothing mirrored"},
		{"https://x/?c={mac}&enc={enc}&e={picc}", SUNTemplateOptions{FileData: bytes.Repeat([]byte("a"), 16)}, "{enc} must come before {mac}"},
		{"https://x/?e={picc}&c={mac}", SUNTemplateOptions{FileData: []byte("short")}, "multiple of 16"},
		{"https://x/?e={picc}&c={mac}", SUNTemplateOptions{FileData: bytes.Repeat([]byte("&"), 16)}, "printable ASCII"},
		{"https://x/?e={picc}&c={mac}", SUNTemplateOptions{MetaKeyNo: 5}, "keys 0–4"},
		{"https://x/" + strings.Repeat("y", 200), SUNTemplateOptions{}, "does not fit"},
	}
	for _, c := range cases {
		if _, err := NewSUNTemplate(c.url, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewSUNTemplate(%q) = %v, want %q", c.url, err, c.want)
		}
	}
}

func TestFactoryImage424(t *testing.T) {
	img, err := NewImage(TypeNTAG424DNA, unhex(t, "04DE5F1EACC040"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := img.DNA
	if s == nil || len(s.Keys) != 5 || len(s.Files) != 3 || len(img.NDEF) != 0 {
		t.Fatalf("factory image %+v", img)
	}
	for i, k := range s.Keys {
		if !bytes.Equal(k.Key, make([]byte, 16)) || k.Version != 0 {
			t.Errorf("key %d = %X version %d", i, k.Key, k.Version)
		}
	}
	for _, c := range []struct {
		no       byte
		settings string
	}{{1, "000000E0200000"}, {2, "0000E0EE000100"}, {3, "00033023800000"}} {
		f, _ := s.File(c.no)
		if !bytes.Equal(f.Settings, unhex(t, c.settings)) {
			t.Errorf("file %d settings %X, want %s", c.no, f.Settings, c.settings)
		}
	}
	cc, _ := s.File(1)
	if !bytes.Equal(cc.Data[:15], unhex(t, "001720010000FF0406E10401000000")) {
		t.Errorf("CC %X", cc.Data)
	}
	b, err := FormatImageJSON(img)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseImageJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	if b2, _ := FormatImageJSON(back); !bytes.Equal(b, b2) {
		t.Fatalf("factory image changed across a save:\n%s\n%s", b, b2)
	}
}

func TestDNAStateValidation(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Image)
		want string
	}{
		{"four keys", func(img *Image) { img.DNA.Keys = img.DNA.Keys[:4] }, "has 4 keys"},
		{"short key", func(img *Image) { img.DNA.Keys[2].Key = []byte{1} }, "dna key 2 is 1 bytes"},
		{"files out of order", func(img *Image) { img.DNA.Files[0], img.DNA.Files[1] = img.DNA.Files[1], img.DNA.Files[0] }, "numbered 2"},
		{"bad settings", func(img *Image) { img.DNA.Files[1].Settings = []byte{0, 0x80, 0, 0, 0, 1, 0} }, "unknown bits"},
		{"SDM on file 3", func(img *Image) {
			img.DNA.Files[2].Settings = unhex(t, "0040E0EE800000"+"01"+"F0FF")
		}, "only the NDEF file (2) mirrors"},
		{"file 2 data disagrees", func(img *Image) { img.DNA.Files[1].Data = make([]byte, 256); img.NDEF = []byte{0xD0, 0, 0} }, "does not hold the image's ndef"},
		{"short CC", func(img *Image) { img.DNA.Files[0].Data = make([]byte, 15) }, "data is 15 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img, _ := NewImage(TypeNTAG424DNA, unhex(t, "04DE5F1EACC040"), nil)
			c.edit(img)
			if err := img.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate = %v, want %q", err, c.want)
			}
		})
	}
}

// FuzzParseFileSettings: any answer parses or is refused without a panic, and what
// parses encodes back to settings that parse the same.
func FuzzParseFileSettings(f *testing.F) {
	for _, s := range []string{"0040EEEE000100D1FE001F00004400004400002000006A0000", "0000E0EE000100", "00033023800000",
		"0040E0EE000100C1FF341900003C00003C0000", "0040E0EE000100" + "21" + "F0EE" + "100000" + "200000" + "300000" + "050000"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fs, err := ParseFileSettings(b)
		if err != nil {
			return
		}
		back, err := ParseFileSettings(fs.Bytes())
		if err != nil {
			t.Fatalf("%X parses, its encoding %X does not: %v", b, fs.Bytes(), err)
		}
		if back.FileType != fs.FileType || back.CommMode != fs.CommMode || back.Access != fs.Access || back.Size != fs.Size ||
			(back.SDM == nil) != (fs.SDM == nil) || (fs.SDM != nil && *back.SDM != *fs.SDM) {
			t.Fatalf("%X parses as %+v, re-encoded as %+v", b, fs, back)
		}
		_ = fs.Check()
		if fs.SDM != nil {
			_ = fs.SDM.Mirrors()
		}
	})
}
