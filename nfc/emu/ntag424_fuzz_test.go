package emu

import (
	"bytes"
	"testing"

	"github.com/tagpay/tagpay/nfc"
)

var (
	isoStatus    = map[[2]byte]bool{{0x90, 0x00}: true, {0x62, 0x82}: true, {0x67, 0x00}: true, {0x69, 0x82}: true, {0x69, 0x86}: true, {0x6A, 0x81}: true, {0x6A, 0x82}: true, {0x6A, 0x86}: true, {0x6B, 0x00}: true, {0x6D, 0x00}: true, {0x6E, 0x00}: true}
	nativeStatus = map[byte]bool{st424OK: true, st424More: true, st424IllegalCmd: true, st424LengthError: true, st424ParamError: true, st424IntegrityError: true, st424NoSuchKey: true, st424PermDenied: true, st424AuthError: true, st424BoundaryError: true, st424FileNotFound: true}
)

// FuzzDNACommands drives the emulated NTAG 424 DNA with a sequence of frames, each
// one byte of length, one of mode, then the frame: 0 an ISO APDU as it is, 1 a native
// command in plain, 2 one with a correct MAC, 3 one encrypted in FULL mode after a
// header of (first byte mod 8) bytes. Modes 2 and 3 open a session when none is, so
// the fuzzer reaches the parsers behind the MAC check. Every answer must end in a
// status word the tag can give, and the state reached must save as a valid image
// that loads again.
func FuzzDNACommands(f *testing.F) {
	seed := func(frames ...[]byte) []byte {
		var b []byte
		for _, fr := range frames {
			b = append(append(b, byte(len(fr))), fr...)
		}
		return b
	}
	f.Add(seed(append([]byte{0}, mustHex("00A4040007D276000085010100")...), append([]byte{0}, mustHex("00A4000C02E104")...), append([]byte{0}, mustHex("00B0000000")...)))
	f.Add(seed([]byte{1, cmd424GetVersion}, []byte{1, 0xAF}, []byte{1, 0xAF}, []byte{1, cmd424ReadSig, 0}))
	f.Add(seed([]byte{1, cmd424AuthFirst, 0, 0}, append([]byte{1, 0xAF}, make([]byte, 32)...)))
	f.Add(seed(append([]byte{3, cmd424ChangeFileSet, 1, 2}, mustHex("40E0EEC1FF12"+"200000"+"430000"+"430000")...)))
	f.Add(seed(append([]byte{3, cmd424ChangeKey, 1, 1}, make([]byte, 21)...), append([]byte{3, cmd424ChangeKey, 1, 0}, make([]byte, 17)...)))
	f.Add(seed(append([]byte{3, cmd424WriteData, 7}, mustHex("02000000040000")...), []byte{2, cmd424ReadData, 2, 0, 0, 0, 0, 0, 0}, []byte{2, cmd424GetFileSet, 2}))
	f.Add(seed([]byte{2, cmd424GetCardUID}, []byte{2, cmd424GetKeyVersion, 3}, []byte{2, cmd424GetFileCounter, 2}))
	f.Fuzz(func(t *testing.T, in []byte) {
		img, err := nfc.NewImage(nfc.TypeNTAG424DNA, testUID, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, tag := readerWith(t, Part3, img)
		t4 := tag.t4
		t4.rand = bytes.NewReader(bytes.Repeat([]byte{0x5A}, 1<<16))
		for len(in) >= 2 {
			n := int(in[0])
			in = in[1:]
			if n > len(in) || n == 0 {
				break
			}
			frame := in[:n]
			in = in[n:]
			apdu, native := fuzzAPDU(t4, frame)
			if apdu == nil {
				continue
			}
			resp, err := r.Transmit(apdu)
			if err != nil || len(resp) < 2 {
				t.Fatalf("Transmit(%X) = %X, %v", apdu, resp, err)
			}
			sw := [2]byte{resp[len(resp)-2], resp[len(resp)-1]}
			switch {
			case native && (sw[0] != 0x91 || !nativeStatus[sw[1]]):
				t.Fatalf("%X answered %X: not a native status", apdu, resp)
			case !native && apdu[0] == nativeWrappedCLA && sw[0] == 0x91 && !nativeStatus[sw[1]]:
				t.Fatalf("%X answered %X: not a native status", apdu, resp)
			case !native && apdu[0] != nativeWrappedCLA && !isoStatus[sw]:
				t.Fatalf("%X answered %X: not an ISO status", apdu, resp)
			}
		}
		saved, err := nfc.FormatImageJSON(tag.Image())
		if err != nil {
			t.Fatalf("state saves as an invalid image: %v", err)
		}
		back, err := nfc.ParseImageJSON(saved)
		if err != nil {
			t.Fatalf("saved image does not parse: %v\n%s", err, saved)
		}
		again, err := NewTag(back)
		if err != nil {
			t.Fatalf("saved image does not load: %v\n%s", err, saved)
		}
		if !bytes.Equal(again.t4.stateKey(), t4.stateKey()) {
			t.Fatalf("state changed across a save:\n%s", saved)
		}
	})
}

// fuzzAPDU turns one fuzz frame into an APDU; native reports a CLA 90 command built
// here (whose answer must be a native status).
func fuzzAPDU(t4 *type4, frame []byte) ([]byte, bool) {
	mode, rest := frame[0]&0x03, frame[1:]
	if mode == 0 {
		if len(rest) == 0 {
			return nil, false
		}
		return rest, false
	}
	if len(rest) == 0 {
		return nil, false
	}
	ins, body := rest[0], rest[1:]
	if mode >= 2 {
		if t4.sess == nil {
			t4.setSession(0, "01020304", "000102030405060708090A0B0C0D0E0F", "0F0E0D0C0B0A09080706050403020100")
		}
		s := t4.sess
		if mode == 3 && len(body) > 0 {
			h := min(int(body[0]%8), len(body)-1)
			hdr, data := body[1:1+h], body[1+h:]
			body = hdr
			if len(data) > 0 {
				body = append(bytes.Clone(hdr), cbcEncrypt(s.enc[:], smIV(s.enc, 0xA5, 0x5A, s.ti, s.ctr), padISO(data))...)
			}
		}
		body = append(bytes.Clone(body), s.cmdMAC(ins, body)...)
	}
	if len(body) > 255 {
		return nil, false
	}
	apdu := []byte{nativeWrappedCLA, ins, 0, 0}
	if len(body) > 0 {
		apdu = append(append(apdu, byte(len(body))), body...)
	}
	return append(apdu, 0), true
}

// FuzzDNAImage: every NTAG 424 DNA image package nfc accepts (without the older SUN
// template, whose base URL may be too long to lay out) loads in the emulator and
// saves back as the same image, so the two sides agree on what a valid tag is.
func FuzzDNAImage(f *testing.F) {
	for _, img := range []*nfc.Image{
		func() *nfc.Image { i, _ := nfc.NewImage(nfc.TypeNTAG424DNA, testUID, nil); return i }(),
		sunImage(&testing.T{}, "04DE5F1EACC040", 3, "https://pay.example/t/a?x={picc}&enc={enc}&c={mac}", nfc.SUNTemplateOptions{MetaKeyNo: 1, FileKeyNo: 2, FileData: []byte("0123456789ABCDEF")}),
		sunImage(&testing.T{}, "04DE5F1EACC040", 3, "https://pay.example/t/a", nfc.SUNTemplateOptions{FileKeyNo: 2, Plain: true}),
	} {
		b, err := nfc.FormatImageJSON(img)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := nfc.ParseImageJSON(b)
		if err != nil || img.Type != nfc.TypeNTAG424DNA || img.SUN != nil {
			return
		}
		tag, err := NewTag(img)
		if err != nil {
			t.Fatalf("nfc accepts an image the emulator refuses: %v\n%s", err, b)
		}
		if img.DNA == nil {
			return
		}
		want, _ := nfc.FormatImageJSON(img)
		got := tag.Image()
		if len(img.Signature) == 0 {
			got.Signature = nil // the emulator serves zeros for a missing signature
		}
		if out, err := nfc.FormatImageJSON(got); err != nil || !bytes.Equal(out, want) {
			t.Fatalf("image changed through the emulator (%v):\n%s\n%s", err, want, out)
		}
	})
}
