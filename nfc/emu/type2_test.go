package emu

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/nfc"
)

const (
	ok       = "9000"
	failed   = "6300"
	ack      = "D543000A9000"
	nak      = "D543019000"
	pageFF   = "FFFFFFFF"
	pageZero = "00000000"
)

// page formats an UPDATE BINARY of one page.
func page(p int, data string) string { return fmt.Sprintf("FFD600%02X04%s", p, data) }

// readPages formats a READ BINARY of n bytes from page p.
func readPages(p, n int) string { return fmt.Sprintf("FFB000%02X%02X", p, n) }

func TestType2ReadRollsOverAtTheEnd(t *testing.T) {
	for _, typ := range type2Types {
		t.Run(string(typ), func(t *testing.T) {
			img := blankImage(t, typ)
			l := layoutOf(t, typ)
			r, _ := readerWith(t, ACR122, img)
			last := l.Pages - 1
			got := xmit(t, r, readPages(last, 16))
			want := fmt.Sprintf("%X%X%X%X", img.Pages[last], img.Pages[0], img.Pages[1], img.Pages[2]) + ok
			if last == l.PACK {
				want = pageZero + want[8:] // PACK reads as zero
			}
			if got != want {
				t.Errorf("READ %d = %s, want %s", last, got, want)
			}
			if got := direct(t, r, fmt.Sprintf("30%02X", l.Pages)); got != nak {
				t.Errorf("READ past the last page = %s, want NAK %s", got, nak)
			}
		})
	}
}

func TestType2WriteRules(t *testing.T) {
	cases := []struct {
		name  string
		typ   nfc.TagType
		setup []string // APDUs sent first, each must answer 90 00
		write string
		want  string // answer to write
		page  int    // page read back afterwards
		after string // its content then
	}{
		{"user page", nfc.TypeNTAG213, nil, page(4, "01020304"), ok, 4, "01020304"},
		{"last user page 213", nfc.TypeNTAG213, nil, page(39, "01020304"), ok, 39, "01020304"},
		{"UID page 0", nfc.TypeNTAG213, nil, page(0, pageFF), failed, 0, "04515C81"},
		{"UID page 1", nfc.TypeNTAG213, nil, page(1, pageFF), failed, 1, "FA6F7381"},
		{"past the end", nfc.TypeNTAG213, nil, page(45, pageFF), failed, 44, pageZero},
		{"serial bytes of page 2 stay", nfc.TypeNTAG213, nil, page(2, "00000000"), ok, 2, "67480000"},
		{"CC bits are one-time programmable", nfc.TypeNTAG213, nil, page(3, "00000F00"), ok, 3, "E1101F00"},
		{"static lock L4 locks page 4", nfc.TypeNTAG213, []string{page(2, "00001000")}, page(4, pageFF), failed, 4, "0300FE00"},
		{"static lock L4 leaves page 5", nfc.TypeNTAG213, []string{page(2, "00001000")}, page(5, pageFF), ok, 5, pageFF},
		{"static lock L15", nfc.TypeUltralight, []string{page(2, "00000080")}, page(15, pageFF), failed, 15, pageZero},
		{"L-CC locks the CC", nfc.TypeNTAG213, []string{page(2, "00000800")}, page(3, "00000F00"), failed, 3, "E1101200"},
		{"lock bits cannot be cleared", nfc.TypeNTAG213, []string{page(2, "0000F0FF")}, page(2, pageZero), ok, 2, "6748F0FF"},
		{"BL 9-4 freezes L4-L9", nfc.TypeNTAG213, []string{page(2, "00000200")}, page(2, "0000F003"), ok, 2, "67480200"},
		{"BL 15-10 freezes L10-L15 only", nfc.TypeNTAG213, []string{page(2, "00000400")}, page(2, "000010FF"), ok, 2, "67481403"},
		{"213 dynamic bit 0 locks page 16", nfc.TypeNTAG213, []string{page(40, "01000000")}, page(16, pageFF), failed, 16, pageZero},
		{"213 dynamic bit 0 locks page 17", nfc.TypeNTAG213, []string{page(40, "01000000")}, page(17, pageFF), failed, 17, pageZero},
		{"213 dynamic bit 0 leaves page 18", nfc.TypeNTAG213, []string{page(40, "01000000")}, page(18, pageFF), ok, 18, pageFF},
		{"213 dynamic bit 11 locks page 39", nfc.TypeNTAG213, []string{page(40, "00080000")}, page(39, pageFF), failed, 39, pageZero},
		{"215 dynamic bit 0 locks page 31", nfc.TypeNTAG215, []string{page(130, "01000000")}, page(31, pageFF), failed, 31, pageZero},
		{"215 dynamic bit 0 leaves page 32", nfc.TypeNTAG215, []string{page(130, "01000000")}, page(32, pageFF), ok, 32, pageFF},
		{"216 dynamic bit 13 locks page 225", nfc.TypeNTAG216, []string{page(226, "00200000")}, page(225, pageFF), failed, 225, pageZero},
		{"dynamic lock bits are OR-ed", nfc.TypeNTAG215, []string{page(130, "0F000000")}, page(130, "F0000000"), ok, 130, "FF0000BD"},
		{"dynamic block-lock bit freezes two lock bits", nfc.TypeNTAG213, []string{page(40, "00000100")}, page(40, "0F000000"), ok, 40, "0C0001BD"},
		{"CFGLCK freezes CFG0", nfc.TypeNTAG213, []string{page(42, "40000000")}, page(41, "04000004"), failed, 41, "040000FF"},
		{"CFGLCK leaves PWD", nfc.TypeNTAG213, []string{page(42, "40000000")}, page(43, "11223344"), ok, 43, pageZero},
		{"AUTH0 makes writes need the password", nfc.TypeNTAG213, []string{page(41, "04000010")}, page(16, pageFF), failed, 16, pageZero},
		{"AUTH0 leaves pages below it", nfc.TypeNTAG213, []string{page(41, "04000010")}, page(15, pageFF), ok, 15, pageFF},
		{"EV1 AUTH0 covers CFG0 itself", nfc.TypeUltralightEV1, []string{page(16, "00000010")}, page(16, "000000FF"), failed, 16, "00000010"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, _ := readerWith(t, ACR122, blankImage(t, c.typ))
			for _, s := range c.setup {
				if got := xmit(t, r, s); got != ok {
					t.Fatalf("setup %s = %s", s, got)
				}
			}
			if got := xmit(t, r, c.write); got != c.want {
				t.Errorf("write %s = %s, want %s", c.write, got, c.want)
			}
			if got := xmit(t, r, readPages(c.page, 4)); got != c.after+ok {
				t.Errorf("page %d = %s, want %s", c.page, got, c.after+ok)
			}
		})
	}
}

// protectedTag is an NTAG213 whose pages from 16 on need the password 11223344
// (PACK ABCD) for reading and writing, with AUTHLIM 3.
func protectedTag(t *testing.T) (*Reader, *Tag) {
	t.Helper()
	img := blankImage(t, nfc.TypeNTAG213)
	img.Pages[16] = mustHex("C0FFEE00")
	img.Pages[41] = mustHex("04000010")
	img.Pages[42] = mustHex("83000000")
	img.Pages[43] = mustHex("11223344")
	img.Pages[44] = mustHex("ABCD0000")
	return readerWith(t, ACR122, img)
}

func TestType2PasswordProtection(t *testing.T) {
	r, _ := protectedTag(t)
	steps := []struct{ what, apdu, want string }{
		{"read below AUTH0", readPages(15, 4), pageZero + ok},
		{"read at AUTH0 without password", readPages(16, 4), failed},
		{"read across AUTH0 rolls over to page 0", readPages(14, 16), pageZero + pageZero + "04515C81FA6F7381" + ok},
		{"FAST_READ into the protected area", "", ""},
		{"wrong password", "", ""},
		{"right password gives PACK", "", ""},
		{"read after PWD_AUTH", readPages(16, 4), "C0FFEE00" + ok},
		{"PWD reads as zero", readPages(43, 8), pageZero + pageZero + ok},
		{"write after PWD_AUTH", page(17, "01020304"), ok},
		{"a NAK ends the authentication", page(0, pageFF), failed},
		{"read after the NAK", readPages(16, 4), failed},
	}
	for _, s := range steps {
		var got, want string
		switch s.what {
		case "FAST_READ into the protected area":
			got, want = direct(t, r, "3A0F10"), nak
		case "wrong password":
			got, want = direct(t, r, "1B11223345"), nak
		case "right password gives PACK":
			got, want = direct(t, r, "1B11223344"), "D54300ABCD9000"
		default:
			got, want = xmit(t, r, s.apdu), s.want
		}
		if got != want {
			t.Fatalf("%s: got %s, want %s", s.what, got, want)
		}
	}
}

func TestType2AuthLimit(t *testing.T) {
	r, tag := protectedTag(t) // AUTHLIM 3
	for i := range 3 {
		if got := direct(t, r, "1B00000000"); got != nak {
			t.Fatalf("wrong password %d = %s, want NAK", i+1, got)
		}
	}
	if got := direct(t, r, "1B11223344"); got != nak {
		t.Errorf("right password after AUTHLIM failures = %s, want NAK", got)
	}
	// The failure count survives removal, as it does in the IC's memory.
	r.Insert(tag, Faults{})
	if got := direct(t, r, "1B11223344"); got != nak {
		t.Errorf("right password after a new tap = %s, want NAK", got)
	}
}

func TestType2WritesWithoutProtBitNeedNoPasswordToRead(t *testing.T) {
	img := blankImage(t, nfc.TypeNTAG215)
	img.Pages[131] = mustHex("04000010") // AUTH0 16, ACCESS 00: writes protected only
	r, _ := readerWith(t, Part3, img)
	if got := xmit(t, r, readPages(16, 4)); got != pageZero+ok {
		t.Errorf("read of a write-protected page = %s", got)
	}
	if got := xmit(t, r, page(16, pageFF)); got != failed {
		t.Errorf("write without password = %s, want %s", got, failed)
	}
}

func TestType2NativeCommands(t *testing.T) {
	sig := strings.Repeat("5A", 32)
	cases := []struct {
		typ         nfc.TagType
		frame, want string
	}{
		{nfc.TypeNTAG213, "60", "D543000004040201000F039000"},
		{nfc.TypeNTAG215, "60", "D54300000404020100110390" + "00"},
		{nfc.TypeNTAG216, "60", "D543000004040201001303" + ok},
		{nfc.TypeUltralightEV1, "60", "D54300000403010100" + "0B03" + ok},
		{nfc.TypeUltralight, "60", nak}, // MF0ICU1 does not answer GET_VERSION
		{nfc.TypeUltralight, "3A0001", nak},
		{nfc.TypeNTAG213, "3C00", "D54300" + sig + ok},
		{nfc.TypeNTAG213, "3C01", nak},
		{nfc.TypeNTAG213, "3A0405", "D543000300FE0000000000" + ok},
		{nfc.TypeNTAG213, "3A0504", nak},
		{nfc.TypeNTAG213, "3A2C2D", nak},
		{nfc.TypeNTAG213, "3A2B2C", "D54300" + "00000000" + "00000000" + ok}, // PWD and PACK read as zero
		{nfc.TypeNTAG213, "A20501020304", ack},
		{nfc.TypeNTAG213, "A205010203", nak},
		{nfc.TypeNTAG213, "3902", nak}, // NFC_CNT_EN is off
		{nfc.TypeNTAG213, "44", nak},
		{nfc.TypeUltralightEV1, "3902", "D54300000000" + ok},
		{nfc.TypeUltralightEV1, "3903", nak},
		{nfc.TypeUltralightEV1, "1BFFFFFFFF", "D543000000" + ok},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s %s", c.typ, c.frame), func(t *testing.T) {
			img := blankImage(t, c.typ)
			img.Signature = mustHex(sig)
			if c.typ == nfc.TypeUltralight {
				img.Signature = nil
			}
			r, _ := readerWith(t, ACR122, img)
			if got := direct(t, r, c.frame); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestType2CompatWrite(t *testing.T) {
	r, tag := readerWith(t, ACR122, blankImage(t, nfc.TypeNTAG213))
	if got := direct(t, r, "A006"); got != ack {
		t.Fatalf("COMPAT_WRITE first frame = %s", got)
	}
	if got := direct(t, r, "0A0B0C0D"+strings.Repeat("EE", 12)); got != ack {
		t.Fatalf("COMPAT_WRITE data frame = %s", got)
	}
	if got := fmt.Sprintf("%X", tag.Image().Pages[6]); got != "0A0B0C0D" {
		t.Errorf("page 6 = %s, want the first 4 bytes of the data frame", got)
	}
	if got := direct(t, r, "A001"); got != nak {
		t.Errorf("COMPAT_WRITE to the UID = %s, want NAK", got)
	}
	direct(t, r, "A007")
	if got := direct(t, r, "0A0B0C0D"); got != nak {
		t.Errorf("COMPAT_WRITE with a short data frame = %s, want NAK", got)
	}
}

func TestType2NFCCounterCountsFirstReadOfEachTap(t *testing.T) {
	img := blankImage(t, nfc.TypeNTAG213)
	img.Pages[42] = mustHex("10000000") // NFC_CNT_EN
	img.Counter = 0x0000FF
	r, tag := readerWith(t, ACR122, img)
	if got := direct(t, r, "3902"); got != "D54300FF0000"+ok {
		t.Fatalf("READ_CNT before any read = %s", got)
	}
	xmit(t, r, readPages(4, 16))
	direct(t, r, "3A0404")
	if got := direct(t, r, "3902"); got != "D54300000100"+ok {
		t.Errorf("READ_CNT after two reads in one tap = %s, want 256", got)
	}
	r.Remove()
	r.Insert(tag, Faults{})
	direct(t, r, "3A0404")
	if got := tag.Image().Counter; got != 0x101 {
		t.Errorf("counter after the second tap = %d, want 257", got)
	}
}

func TestType2CounterPasswordProtected(t *testing.T) {
	img := blankImage(t, nfc.TypeNTAG213)
	img.Pages[42] = mustHex("18000000") // NFC_CNT_EN, NFC_CNT_PWD_PROT
	r, _ := readerWith(t, ACR122, img)
	if got := direct(t, r, "3902"); got != nak {
		t.Errorf("READ_CNT without password = %s, want NAK", got)
	}
	direct(t, r, "1BFFFFFFFF")
	if got := direct(t, r, "3902"); got != "D54300000000"+ok {
		t.Errorf("READ_CNT with password = %s", got)
	}
}

func TestUltralightEV1Counters(t *testing.T) {
	r, tag := readerWith(t, ACR122, blankImage(t, nfc.TypeUltralightEV1))
	if got := direct(t, r, "A50203000000"); got != ack {
		t.Fatalf("INCR_CNT = %s", got)
	}
	if got := direct(t, r, "3902"); got != "D54300030000"+ok {
		t.Errorf("READ_CNT 2 = %s", got)
	}
	if got := direct(t, r, "A502FFFFFF00"); got != nak {
		t.Errorf("INCR_CNT past 24 bits = %s, want NAK", got)
	}
	if got := tag.Image().Counter; got != 3 {
		t.Errorf("Image().Counter = %d, want counter 2's value 3", got)
	}
}

func TestUltralightEV1TwoSizes(t *testing.T) {
	l, found := nfc.LayoutByPages(nfc.TypeUltralightEV1, 41)
	if !found {
		t.Fatal("no MF0UL21 layout")
	}
	img, err := l.NewImage(testUID, nil)
	if err != nil {
		t.Fatal(err)
	}
	img.Version = nil // let the emulator pick the version from the page count
	r, tag := readerWith(t, ACR122, img)
	if got := direct(t, r, "60"); got != "D5430000040301010"+"00E03"+ok {
		t.Errorf("GET_VERSION of MF0UL21 = %s", got)
	}
	if got := xmit(t, r, page(36, "01000000")); got != ok {
		t.Fatalf("set dynamic lock bit 0 = %s", got)
	}
	if got := xmit(t, r, page(17, pageFF)); got != failed {
		t.Errorf("write to a dynamically locked page = %s, want %s", got, failed)
	}
	if got := len(tag.Image().Pages); got != 41 {
		t.Errorf("image has %d pages, want 41", got)
	}
}

func TestType2AuthLimitZeroIsUnlimited(t *testing.T) {
	img := blankImage(t, nfc.TypeNTAG215)
	img.Pages[131] = mustHex("04000004")
	img.Pages[132] = mustHex("00000000") // AUTHLIM 0
	img.Pages[133] = mustHex("11223344")
	r, tag := readerWith(t, ACR122, img)
	for i := range 20 {
		if got := direct(t, r, "1B00000000"); got != nak {
			t.Fatalf("wrong password %d = %s, want NAK", i+1, got)
		}
	}
	if got := direct(t, r, "1B11223344"); got != "D5430000009000" {
		t.Errorf("right password after 20 failures with AUTHLIM 0 = %s, want PACK 0000", got)
	}
	if n := tag.Image().AuthFailures; n != 0 {
		t.Errorf("failures counted with AUTHLIM 0: %d", n)
	}
}

func TestType2AuthLimitCountsOnlyConsecutiveFailures(t *testing.T) {
	r, tag := protectedTag(t) // AUTHLIM 3
	for round := range 3 {
		for range 2 {
			if got := direct(t, r, "1B00000000"); got != nak {
				t.Fatalf("round %d: wrong password = %s, want NAK", round, got)
			}
		}
		if n := tag.Image().AuthFailures; n != 2 {
			t.Fatalf("round %d: %d failures recorded, want 2", round, n)
		}
		if got := direct(t, r, "1B11223344"); got != "D54300ABCD9000" {
			t.Fatalf("round %d: right password after 2 of 3 failures = %s, want PACK", round, got)
		}
		if n := tag.Image().AuthFailures; n != 0 {
			t.Fatalf("round %d: a success left %d failures", round, n)
		}
	}
}

func TestType2BlockedPasswordSurvivesTheImage(t *testing.T) {
	r, tag := protectedTag(t) // AUTHLIM 3
	for range 3 {
		direct(t, r, "1B00000000")
	}
	img := tag.Image()
	if img.AuthFailures != 3 {
		t.Fatalf("image records %d failures, want 3", img.AuthFailures)
	}
	again, _ := readerWith(t, Part3, img)
	// A Part 3 reader passes the 4-bit NAK on: 4 is "authentication counter overflow".
	xmit(t, again, "FFC20000028100")
	got := xmit(t, again, "FFC200010795051B1122334400")
	if !strings.Contains(got, "920104") || !strings.Contains(got, "970104") {
		t.Errorf("PWD_AUTH on a blocked tag = %s, want NAK 4", got)
	}
	if got := xmit(t, again, page(16, pageFF)); got != failed {
		t.Errorf("write to the protected area of a blocked tag = %s, want %s", got, failed)
	}
}

func TestType2AuthFailuresNeedAPassword(t *testing.T) {
	img := blankImage(t, nfc.TypeUltralight)
	img.AuthFailures = 1
	if _, err := NewTag(img); err == nil {
		t.Error("an Ultralight image with failed password attempts was accepted")
	}
}

func TestUltralightCProtectionWithout3DES(t *testing.T) {
	img := blankImage(t, nfc.TypeUltralightC)
	img.Pages[20] = mustHex("C0FFEE00")
	img.Pages[44] = mustHex("49454D4B") // first key page
	img.Pages[42] = mustHex("14000000") // AUTH0 = page 20
	img.Pages[43] = mustHex("01000000") // AUTH1 bit 0: writes protected only
	r, tag := readerWith(t, ACR122, img)
	if got := tag.atr()[14]; got != 0x3A {
		t.Errorf("ATR card name %02X, want 3A (Ultralight C)", got)
	}
	if got := direct(t, r, "60"); got != nak {
		t.Errorf("GET_VERSION = %s, want no answer", got)
	}
	if got := xmit(t, r, readPages(20, 4)); got != "C0FFEE00"+ok {
		t.Errorf("read of a write-protected page = %s", got)
	}
	if got := xmit(t, r, page(20, pageFF)); got != failed {
		t.Errorf("write at AUTH0 = %s, want %s (no 3DES authentication)", got, failed)
	}
	if got := xmit(t, r, page(19, pageFF)); got != ok {
		t.Errorf("write below AUTH0 = %s", got)
	}
	if got := xmit(t, r, readPages(44, 4)); got != pageZero+ok {
		t.Errorf("the 3DES key reads %s, want zeros", got)
	}
	if got := direct(t, r, "1A00"); got != nak {
		t.Errorf("AUTHENTICATE = %s, want no answer (3DES is not emulated)", got)
	}
	tag.t2.page(43)[0] = 0x00 // AUTH1 bit 0 clear: reads protected too
	if got := xmit(t, r, readPages(20, 4)); got != failed {
		t.Errorf("read of a read-protected page = %s, want %s", got, failed)
	}
}

func TestNTAG203HasNoVersionNorPassword(t *testing.T) {
	r, _ := readerWith(t, Part3, blankImage(t, nfc.TypeNTAG203))
	xmit(t, r, "FFC20000028100")
	for _, frame := range []string{"60", "1B11223344", "3C00", "3A0001"} {
		got := xmit(t, r, fmt.Sprintf("FFC20001%02X95%02X%s00", len(frame)/2+2, len(frame)/2, frame))
		if !strings.HasPrefix(got, "C00301640") {
			t.Errorf("%s to an NTAG203 = %s, want silence", frame, got)
		}
	}
	if got := xmit(t, r, readPages(41, 4)); !strings.HasSuffix(got, ok) {
		t.Errorf("read of the last page = %s", got)
	}
	if got := xmit(t, r, readPages(42, 4)); got != failed {
		t.Errorf("read past page 41 = %s, want %s", got, failed)
	}
}

func TestNTAGI2CVersions(t *testing.T) {
	for typ, v := range map[nfc.TagType]string{
		nfc.TypeNTAGI2C1K: "0004040502011303", nfc.TypeNTAGI2C2K: "0004040502011503",
		nfc.TypeNTAGI2CPlus1K: "0004040502021303", nfc.TypeNTAGI2CPlus2K: "0004040502021503",
		nfc.TypeNTAG210: "0004040101000B03", nfc.TypeNTAG212: "0004040101000E03",
	} {
		r, _ := readerWith(t, ACR122, blankImage(t, typ))
		if got := direct(t, r, "60"); got != "D54300"+v+ok {
			t.Errorf("%s GET_VERSION = %s, want %s", typ, got, v)
		}
	}
}
