package emu

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/nfc"
)

// dnaReader is a reader holding a factory-fresh NTAG 424 DNA with uid.
func dnaReader(t *testing.T, uid string) (*Reader, *type4) {
	t.Helper()
	img, err := nfc.NewImage(nfc.TypeNTAG424DNA, mustHex(uid), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, tag := readerWith(t, Part3, img)
	return r, tag.t4
}

// decryptBlocks is AES-CBC decryption with a zero IV, for recovering the randoms of
// published traces.
func decryptBlocks(t *testing.T, key, b []byte) []byte {
	t.Helper()
	c, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, len(b))
	cipher.NewCBCDecrypter(c, make([]byte, 16)).CryptBlocks(out, b)
	return out
}

func to16(b []byte) (out block16) { copy(out[:], b); return out }

// AN12196 AuthenticateEV2First traces, key 0 all zero: the emulator given the same
// RndB and TI must answer byte for byte and derive the published session keys.
func TestDNAAuthenticateEV2FirstVectors(t *testing.T) {
	cases := []struct {
		name, tag1, reader2, tag2, ti, enc, mac string
	}{
		{"AN12196 6.6", "A04C124213C186F22399D33AC2A30215",
			"35C3E05A752E0144BAC0DE51C1F22C56B34408A23D8AEA266CAB947EA8E0118D",
			"3FA64DB5446D1F34CD6EA311167F5E4985B89690C04A05F17FA7AB2F08120663",
			"9D00C4DF", "1309C877509E5A215007FF0ED19CA564", "4C6626F5E72EA694202139295C7A7FC7"},
		{"AN12196 6.10", "B875CEB0E66A6C5CD00898DC371F92D1",
			"FF0306E47DFBC50087C4D8A78E88E62DE1E8BE457AA477C707E2F0874916A8B1",
			"0CC9A8094A8EEA683ECAAC5C7BF20584206D0608D477110FC6B3D5D3F65C3A6A",
			"7614281A", "7A93D6571E4B180FCA6AC90C9A7488D4", "FC4AF159B62E549B5812394CAB1918CC"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, t4 := dnaReader(t, "04958CAA5C5E80")
			rndB := decryptBlocks(t, make([]byte, 16), mustHex(c.tag1))
			t4.rand = bytes.NewReader(append(rndB, mustHex(c.ti)...))
			if got := xmit(t, r, "9071000002000000"); got != c.tag1+"91AF" {
				t.Fatalf("part 1 = %s, want %s91AF", got, c.tag1)
			}
			if got := xmit(t, r, "90AF000020"+c.reader2+"00"); got != c.tag2+"9100" {
				t.Fatalf("part 2 = %s, want %s9100", got, c.tag2)
			}
			s := t4.sess
			if s == nil || s.ti != [4]byte(mustHex(c.ti)) || s.ctr != 0 || s.enc != to16(mustHex(c.enc)) || s.mac != to16(mustHex(c.mac)) {
				t.Fatalf("session = %+v, want TI %s, ENC %s, MAC %s", s, c.ti, c.enc, c.mac)
			}
		})
	}
}

func TestDNAAuthenticateWithTheWrongKeyFails(t *testing.T) {
	r, t4 := dnaReader(t, "04958CAA5C5E80")
	t4.keys[0] = to16(bytes.Repeat([]byte{7}, 16))
	xmit(t, r, "9071000002000000")
	// The AN12196 answer was made with the zero key.
	if got := xmit(t, r, "90AF000020"+"35C3E05A752E0144BAC0DE51C1F22C56B34408A23D8AEA266CAB947EA8E0118D"+"00"); got != "91AE" {
		t.Fatalf("part 2 with the wrong key = %s, want 91AE", got)
	}
	if t4.sess != nil {
		t.Fatal("a failed authentication left a session")
	}
	if got := xmit(t, r, "9071000002050000"); got != "9140" {
		t.Errorf("authenticate with key 5 = %s, want 9140", got)
	}
}

// session installs a secure channel as a published trace has it.
func (t4 *type4) setSession(keyNo byte, ti, enc, mac string) {
	t4.sess = &session{keyNo: keyNo, ti: [4]byte(mustHex(ti)), enc: to16(mustHex(enc)), mac: to16(mustHex(mac))}
}

// setFile gives file no the settings of a ChangeFileSettings data field.
func setFile(t *testing.T, t4 *type4, no byte, settings string) {
	t.Helper()
	f := t4.file(no)
	opt, ar, sdm, st := parseSettings(f, mustHex(settings))
	if st != st424OK {
		t.Fatalf("settings %s refused: %02X", settings, st)
	}
	f.opt, f.ar, f.sdm = opt, ar, sdm
}

// AN12196 secure messaging traces, sent to the emulator with their sessions.
func TestDNASecureMessagingVectors(t *testing.T) {
	t.Run("CommMode.MAC GetFileSettings", func(t *testing.T) {
		r, t4 := dnaReader(t, "04958CAA5C5E80")
		setFile(t, t4, 2, "40EEEE"+"D1FE00"+"1F0000"+"440000"+"440000"+"200000"+"6A0000")
		t4.setSession(0, "7A21085E", strings.Repeat("00", 16), "8248134A386E86EB7FAF54A52E536CB6")
		want := "0040EEEE000100D1FE001F00004400004400002000006A0000" + "2A474282E7A47986" + "9100"
		if got := xmit(t, r, "90F5000009026597A457C8CD442C00"); got != want {
			t.Fatalf("GetFileSettings = %s\nwant %s", got, want)
		}
		if t4.sess == nil || t4.sess.ctr != 1 {
			t.Fatalf("command counter after one command = %+v, want 1", t4.sess)
		}
		// The same command again carries a MAC over counter 0: refused, session ended.
		if got := xmit(t, r, "90F5000009026597A457C8CD442C00"); got != "911E" {
			t.Fatalf("replayed command = %s, want 911E", got)
		}
		if t4.sess != nil {
			t.Fatal("an integrity error left the session open")
		}
	})
	plainNDEF := "0051D1014D550463686F6F73652E75726C2E636F6D2F6E7461673432343F653D303030303030303030303030303030303030303030303030303030303030303026633D30303030303030303030303030303030"
	t.Run("CommMode.FULL WriteData, file 02", func(t *testing.T) {
		r, t4 := dnaReader(t, "04958CAA5C5E80")
		setFile(t, t4, 2, "0300E0") // FULL, write with key 0
		t4.setSession(0, "9D00C4DF", "1309C877509E5A215007FF0ED19CA564", "4C6626F5E72EA694202139295C7A7FC7")
		cmd := "908D00009F" + "02000000800000" + "421C73A27D827658AF481FDFF20A5025B559D0E3AA21E58D347F343CFFC768BFE596C706BC00F2176781D4B0242642A0FF5A42C461AAF894D9A1284B8C76BCFA658ACD40555D362E08DB15CF421B51283F9064BCBE20E96CAE545B407C9D651A3315B27373772E5DA2367D2064AE054AF996C6F1F669170FA88CE8C4E3A4A7BBBEF0FD971FF532C3A802AF745660F2B4D1D9A8499661EBF3" + "00"
		if got := xmit(t, r, cmd); got != "FC222E5F7A542452"+"9100" {
			t.Fatalf("WriteData = %s, want FC222E5F7A5424529100", got)
		}
		want := mustHex(plainNDEF + strings.Repeat("00", 0x80-len(plainNDEF)/2))
		if got := t4.files[1].data[:0x80]; !bytes.Equal(got, want) {
			t.Fatalf("file 02 = %X\nwant %X", got, want)
		}
	})
	t.Run("CommMode.FULL WriteData, file 03", func(t *testing.T) {
		r, t4 := dnaReader(t, "04958CAA5C5E80")
		setFile(t, t4, 3, "030000")
		t4.setSession(0, "7614281A", "7A93D6571E4B180FCA6AC90C9A7488D4", "FC4AF159B62E549B5812394CAB1918CC")
		cmd := "908D00001F" + "030000000A0000" + "6B5E6804909962FC4E3FF5522CF0F8436C0C53315B9C73AA" + "00"
		if got := xmit(t, r, cmd); got != "C26D236E4A7C046D"+"9100" {
			t.Fatalf("WriteData = %s, want C26D236E4A7C046D9100", got)
		}
		if got := t4.files[2].data[:11]; !bytes.Equal(got, mustHex("0102030405060708090A00")) {
			t.Fatalf("file 03 = %X", got)
		}
	})
	t.Run("CommMode.FULL GetCardUID", func(t *testing.T) {
		r, t4 := dnaReader(t, "04958CAA5C5E80")
		t4.setSession(0, "DF055522", "2B4D963C014DC36F24F69A50A394F875", "379D32130CE61705DD5FD8C36B95D764")
		want := "70756055688505B52A5E26E59E329CD6" + "595F672298EA41B7" + "9100"
		if got := xmit(t, r, "90510000088E2C155ADDA99BE300"); got != want {
			t.Fatalf("GetCardUID = %s, want %s", got, want)
		}
	})
}

// sunImage is a tag whose file 2 holds tpl with its SDM settings switched on.
func sunImage(t *testing.T, uid string, counter uint32, url string, o nfc.SUNTemplateOptions) *nfc.Image {
	t.Helper()
	tpl, err := nfc.NewSUNTemplate(url, o)
	if err != nil {
		t.Fatal(err)
	}
	img, err := nfc.NewImage(nfc.TypeNTAG424DNA, mustHex(uid), tpl.File[2:])
	if err != nil {
		t.Fatal(err)
	}
	fs, _ := nfc.FactoryFileSettings424(2)
	fs.SDM = &tpl.SDM
	img.DNA.Files[1].Settings = fs.Bytes()
	img.Counter = counter
	return img
}

// The emulator reproduces AN12196's SUN URLs exactly from file settings, given the
// random padding the published PICC data decrypts to.
func TestDNASUNVectors(t *testing.T) {
	zero := make([]byte, 16)
	cases := []struct {
		name, uid, tpl, picc, want string
		ctr                        uint32
		o                          nfc.SUNTemplateOptions
	}{
		{"e and c", "04DE5F1EACC040", "https://ntag.nxp.com/424?e={picc}&c={mac}", "EF963FF7828658A599F3041510671E88",
			"https://ntag.nxp.com/424?e=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086", 61,
			nfc.SUNTemplateOptions{MetaKeyNo: 1, FileKeyNo: 2}},
		{"encrypted file data", "04958CAA5C5E80", "https://my424dna.com/?picc_data={picc}&enc={enc}&cmac={mac}", "FDE4AFA99B5C820A2C1BB0F1C792D0EB",
			"https://my424dna.com/?picc_data=FDE4AFA99B5C820A2C1BB0F1C792D0EB&enc=94592FDE69FA06E8E3B6CA686A22842B&cmac=C48B89C17A233B2C", 1,
			nfc.SUNTemplateOptions{MetaKeyNo: 1, FileKeyNo: 2, FileData: []byte("xxxxxxxxxxxxxxxx")}},
		{"plain UID and counter", "041E3C8A2D6B80", "https://x.example/?uid={uid}&ctr={ctr}&c={mac}", "",
			"https://x.example/?uid=041E3C8A2D6B80&ctr=000006&c=4B00064004B0B3D3", 6,
			nfc.SUNTemplateOptions{FileKeyNo: 2, Plain: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, tag := readerWith(t, ACR122, sunImage(t, c.uid, c.ctr-1, c.tpl, c.o))
			if c.picc != "" {
				plain := decryptBlocks(t, zero, mustHex(c.picc))
				tag.t4.rand = bytes.NewReader(plain[11:])
			}
			if got := uriOf(t, readNDEF(t, r)); got != c.want {
				t.Fatalf("URL = %s\nwant  %s", got, c.want)
			}
			if got := tag.Image().Counter; got != c.ctr {
				t.Errorf("counter = %d, want %d", got, c.ctr)
			}
		})
	}
}

func TestDNASUNReadCounterLimit(t *testing.T) {
	img := sunImage(t, "04DE5F1EACC040", 0, "https://pay.example/t/a", nfc.SUNTemplateOptions{MetaKeyNo: 1, FileKeyNo: 2})
	fs, _ := nfc.ParseFileSettings(img.DNA.Files[1].Settings)
	fs.SDM.ReadCounterLimit, fs.SDM.ReadCtrLimit = true, 2
	img.DNA.Files[1].Settings = fs.Bytes()
	r, _ := readerWith(t, ACR122, img)
	for tap := 1; tap <= 2; tap++ {
		readNDEF(t, r)
	}
	xmit(t, r, selectNDEFApp)
	xmit(t, r, selectNDEF)
	if got := xmit(t, r, "00B0000002"); got != "6982" {
		t.Errorf("read past the counter limit = %s, want 6982", got)
	}
}

// An image round-trips through the emulator: keys, versions, settings and counter.
func TestDNAImageRoundTrip(t *testing.T) {
	img := sunImage(t, "04DE5F1EACC040", 9, "https://pay.example/t/a", nfc.SUNTemplateOptions{MetaKeyNo: 3, FileKeyNo: 4})
	img.DNA.Keys[3] = nfc.DNAKey{Key: bytes.Repeat([]byte{3}, 16), Version: 1}
	img.DNA.Files[2].Data[5] = 0x55
	img.Signature = bytes.Repeat([]byte{0xA5}, 56)
	tag := newTestTag(t, img)
	b1, err := nfc.FormatImageJSON(tag.Image())
	if err != nil {
		t.Fatal(err)
	}
	back, err := nfc.ParseImageJSON(b1)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := nfc.FormatImageJSON(newTestTag(t, back).Image())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1, b2) {
		t.Fatalf("image changed across a save:\n%s\n%s", b1, b2)
	}
	if want, _ := nfc.FormatImageJSON(img); !bytes.Equal(b1, want) {
		t.Fatalf("emulator image differs from the one it was given:\n%s\n%s", b1, want)
	}
}

// An older image with a SUN template is served from file settings and saved in its
// own form until something changes.
func TestDNALegacySUNImageMigrates(t *testing.T) {
	meta, file := bytes.Repeat([]byte{0x11}, 16), bytes.Repeat([]byte{0x22}, 16)
	img := image424(t, "https://static.example", &nfc.SUNConfig{BaseURL: "https://pay.example/t/abc", MetaKey: meta, FileKey: file})
	r, tag := readerWith(t, ACR122, img)
	if got := tag.Image(); got.SUN == nil || got.DNA != nil {
		t.Fatalf("unchanged legacy image saved as %+v", got)
	}
	if tag.t4.keys[1] != to16(meta) || tag.t4.keys[2] != to16(file) || tag.t4.files[1].sdm == nil {
		t.Fatal("legacy SUN settings not migrated to keys 1, 2 and SDM on file 2")
	}
	readNDEF(t, r)
	// Rewrite the NDEF file: the saved image now carries the state, not the template.
	xmit(t, r, selectNDEFApp)
	xmit(t, r, selectNDEF)
	xmit(t, r, "00D60000020000")
	got := tag.Image()
	if got.SUN != nil || got.DNA == nil || !bytes.Equal(got.DNA.Keys[2].Key, file) || got.Counter != 1 {
		t.Fatalf("changed legacy image saved as %+v", got)
	}
	if fs, err := nfc.ParseFileSettings(got.DNA.Files[1].Settings); err != nil || fs.SDM == nil {
		t.Fatalf("saved file 2 settings = %+v, %v; want SDM on", fs, err)
	}
}

func TestDNAAccessRules(t *testing.T) {
	r, _ := dnaReader(t, "04958CAA5C5E80")
	steps := []struct{ apdu, want string }{
		{"90F500000102", "0000E0EE000100" + "9100"}, // plain GetFileSettings, factory NDEF file
		{"90F500000103", "000330238000009100"},      // proprietary file: FULL, keys 2 and 3
		{"90F500000104", "91F0"},                    // no file 4
		{"90AD00000703000000100000", "91AE"},        // file 3 needs key 2
		{"908D0000080200000001000041", "9100"},      // NDEF file writes freely
		{"90AD00000702000000010000", "419100"},      // and reads freely
		{"90C40000010100", "91AE"},                  // ChangeKey needs authentication
		{"9051000000", "91AE"},                      // so does GetCardUID
		{"905F0000040200E0EE", "91AE"},              // and ChangeFileSettings
		{"90F600000102", "919D"},                    // file counters: SDM is off
		{selectNDEFApp, ok},
		{"00A4000C02E105", ok},
		{"00B0000010", "6982"}, // ISO read of the proprietary file needs key 2
	}
	for i, s := range steps {
		if got := xmit(t, r, s.apdu); got != s.want {
			t.Errorf("step %d %s = %s, want %s", i, s.apdu, got, s.want)
		}
	}
}

// The emulator's own AES-CMAC against RFC 4493 examples 1 to 4, and the SUN session
// MAC key and MAC of AN12196's all-zero-key example.
func TestDNACMACVectors(t *testing.T) {
	key := mustHex("2b7e151628aed2a6abf7158809cf4f3c")
	m := mustHex("6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51 30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710")
	for n, want := range map[int]string{0: "bb1d6929e95937287fa37d129b756746", 16: "070a16b46b4d4144f79bdd9dd04a287c",
		40: "dfa66747de9ae63030ca32611497c827", 64: "51f0bebf7e3b9d92fc49741779363cfe"} {
		if got := aesCMAC(key, m[:n]); got != to16(mustHex(want)) {
			t.Errorf("CMAC of %d bytes = %x, want %s", n, got, want)
		}
	}
	sesKey := aesCMAC(make([]byte, 16), mustHex("3CC30001008004DE5F1EACC0403D0000"))
	if sesKey != to16(mustHex("3FB5F6E3A807A03D5E3570ACE393776F")) {
		t.Fatalf("SUN session MAC key = %X", sesKey)
	}
	full := aesCMAC(sesKey[:], nil)
	if full != to16(mustHex("E194C7EE12D9F7EE8A65C8331B704386")) || !bytes.Equal(macT(full), mustHex("94EED9EE65337086")) {
		t.Fatalf("SUN MAC = %X, truncated %X", full, macT(full))
	}
}

func TestTapNDEF(t *testing.T) {
	img := sunImage(t, "04DE5F1EACC040", 60, "https://pay.example/t/a", nfc.SUNTemplateOptions{MetaKeyNo: 1, FileKeyNo: 2})
	tag := newTestTag(t, img)
	for want := uint32(61); want <= 62; want++ {
		msg, err := tag.TapNDEF()
		if err != nil {
			t.Fatal(err)
		}
		res, err := nfc.VerifySUN(uriOf(t, msg), make([]byte, 16), make([]byte, 16))
		if err != nil || !res.Valid || res.Counter != want {
			t.Fatalf("tap: %+v, %v; want valid at counter %d", res, err, want)
		}
	}
	if _, err := newTestTag(t, blankImage(t, nfc.TypeNTAG213)).TapNDEF(); err == nil {
		t.Fatal("TapNDEF served a Type 2 tag")
	}
}
