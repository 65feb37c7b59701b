package emu

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/nfc"
)

const (
	startSession = "FFC2000002810000"
	endSession   = "FFC2000002820000"
	sessionOK    = "C00300900090" + "00"
)

// exchange wraps a native frame in a Part 3 transparent exchange.
func exchange(frame string) string {
	n := len(frame) / 2
	return fmt.Sprintf("FFC20001%02X95%02X%s00", n+2, n, frame)
}

func TestPseudoAPDUs(t *testing.T) {
	img := blankImage(t, nfc.TypeNTAG213)
	img.Pages[4] = mustHex("01020304")
	uid := "04515CFA6F7381"
	first4 := "04515C81FA6F738167480000E1101200"
	var all40 string
	for _, p := range img.Pages[:40] {
		all40 += fmt.Sprintf("%X", p)
	}
	cases := []struct {
		p          Personality
		apdu, want string
	}{
		{ACR122, "FFCA000000", uid + ok},
		{Part3, "FFCA000000", uid + ok},
		{ACR122, "FFCA000004", "6C07"},
		{ACR122, "FFCA000007", uid + ok},
		{ACR122, "FFB0000010", first4 + ok},
		{ACR122, "FFB0000000", first4 + ok}, // Le 00 is one READ
		{ACR122, "FFB0000004", "04515C81" + ok},
		{ACR122, "FFB0000020", failed}, // an ACR122U reads 16 bytes at most
		{Part3, "FFB0000020", first4 + "0102030400000000" + "0000000000000000" + ok},
		{Part3, "FFB00000A0", all40 + ok},
		{Part3, "FFB00000F1", failed},
		{Part3, "FFB0002920", failed}, // 8 pages from 41 run past page 44
		{ACR122, "FFB0010010", failed},
		{ACR122, "FFD6000403AABBCC", failed},
		{ACR122, "FFD6000404AABBCCDD", ok},
		{ACR122, "FFD6000408AABBCCDDEEFF0011", failed},
		{ACR122, "FFD6010004AABBCCDD", failed},
		{ACR122, "FFC2000002810000", "6A81"}, // no transparent session on an ACR122U
		{Part3, "FF00000003D44260", "6A81"},  // no PN532 on a Part 3 reader
		{ACR122, "FF00000003D44A01", failed}, // PN532 commands other than the two tunnels
		{ACR122, "FF00000004D4400160", "D541000004040201000F03" + ok},
		{ACR122, "FF12000000", "6A81"},
		{ACR122, "FFCA", "6700"},
		{Part3, "00A4040007D276000085010100", failed}, // a Type 2 tag has no ISO applications
	}
	for _, c := range cases {
		t.Run(string(c.p)+" "+c.apdu, func(t *testing.T) {
			r, _ := readerWith(t, c.p, img)
			if got := xmit(t, r, c.apdu); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestPart3ReadsUpTo240Bytes(t *testing.T) {
	img := blankImage(t, nfc.TypeNTAG215)
	img.Pages[63] = mustHex("CAFEBABE")
	r, _ := readerWith(t, Part3, img)
	got := xmit(t, r, "FFB00004F0")
	if want := 2 * (240 + 2); len(got) != want || !strings.HasSuffix(got, "CAFEBABE"+ok) {
		t.Errorf("240-byte read from page 4 = %s", got)
	}
}

func TestPart3TransparentSession(t *testing.T) {
	img := blankImage(t, nfc.TypeNTAG215)
	r, tag := readerWith(t, Part3, img)
	steps := []struct{ what, apdu, want string }{
		{"exchange outside a session", exchange("60"), "C00300698669" + "86"},
		{"start", startSession, sessionOK},
		{"GET_VERSION", exchange("60"), "C00300900096020000" + "9708" + "0004040201001103" + ok},
		{"READ", exchange("3004"), "C00300900096020000" + "9710" + "0300FE00" + strings.Repeat("0", 24) + ok},
		{"WRITE answers a 4-bit ACK", exchange("A20511223344"), "C00300900092010496020000" + "97010A" + ok},
		{"WRITE to the UID answers a 4-bit NAK", exchange("A20011223344"), "C00300900092010496020000" + "970100" + ok},
		{"two transceive objects", "FFC2000106950160950160", "C00302" + "6A81" + "6A81"},
		{"an unknown data object", "FFC20001059501608200", "C00302" + "6A81" + "6A81"},
		{"a truncated data object", "FFC2000103950560", "C00300" + "6700" + "6700"},
		{"timer and flags are accepted", "FFC200010E5F4604000186A090020000950160", "C00300900096020000" + "9708" + "0004040201001103" + ok},
		{"RF off: the tag stays silent", "FFC2000002830000", sessionOK},
		{"exchange with the field off", exchange("60"), "C0030164019000"},
		{"RF on", "FFC2000002840000", sessionOK},
		{"switch protocol", "FFC2000204" + "8F020300", sessionOK},
		{"end", endSession, sessionOK},
		{"exchange after the end", exchange("60"), "C00300698669" + "86"},
		{"unknown session object", "FFC2000002990000", "C00301" + "6A81" + "6A81"},
	}
	for _, s := range steps {
		if got := xmit(t, r, s.apdu); got != s.want {
			t.Fatalf("%s: %s = %s, want %s", s.what, s.apdu, got, s.want)
		}
	}
	if got := fmt.Sprintf("%X", tag.Image().Pages[5]); got != "11223344" {
		t.Errorf("page 5 after the session = %s", got)
	}
}

func TestPart3SilentTag(t *testing.T) {
	r, _ := readerWith(t, Part3, blankImage(t, nfc.TypeUltralight))
	xmit(t, r, startSession)
	if got := xmit(t, r, exchange("60")); got != "C0030164019000" {
		t.Errorf("GET_VERSION to an MF0ICU1 = %s, want the no-answer status", got)
	}
}

func TestATR(t *testing.T) {
	cases := []struct {
		typ  nfc.TagType
		want string
	}{
		{nfc.TypeNTAG213, "3B8F8001804F0CA0000003060300030000000068"},
		{nfc.TypeNTAG216, "3B8F8001804F0CA0000003060300030000000068"},
		{nfc.TypeUltralight, "3B8F8001804F0CA0000003060300030000000068"},
		{nfc.TypeUltralightEV1, "3B8F8001804F0CA0000003060300" + "3D" + "0000000056"},
		{nfc.TypeNTAG424DNA, "3B8180018080"},
	}
	for _, c := range cases {
		t.Run(string(c.typ), func(t *testing.T) {
			img := &nfc.Image{Type: c.typ, UID: testUID}
			if c.typ != nfc.TypeNTAG424DNA {
				img = blankImage(t, c.typ)
			}
			r, _ := readerWith(t, ACR122, img)
			if got := fmt.Sprintf("%X", r.ATR()); got != c.want {
				t.Errorf("ATR = %s, want %s", got, c.want)
			}
		})
	}
	if atr := NewReader("empty", Part3).ATR(); atr != nil {
		t.Errorf("ATR of an empty reader = %X", atr)
	}
}

func TestTransmitWithoutTag(t *testing.T) {
	r := NewReader("empty", ACR122)
	if _, err := r.Transmit(mustHex("FFCA000000")); !errors.Is(err, nfc.ErrNoTag) {
		t.Errorf("Transmit to an empty reader: %v, want ErrNoTag", err)
	}
	r.Insert(newTestTag(t, blankImage(t, nfc.TypeNTAG213)), Faults{})
	r.Remove()
	if _, err := r.Transmit(mustHex("FFCA000000")); !errors.Is(err, nfc.ErrTagRemoved) {
		t.Errorf("Transmit after Remove: %v, want ErrTagRemoved", err)
	}
	r.Remove() // removing twice is fine
	if _, err := r.Transmit(nil); err == nil {
		t.Error("empty APDU accepted")
	}
}

func TestFaults(t *testing.T) {
	cases := []struct {
		name   string
		faults Faults
		want   []string // answers to GET UID in turn; "removed" for ErrTagRemoved
	}{
		{"none", Faults{}, []string{"uid", "uid", "uid", "uid"}},
		{"remove after 2", Faults{RemoveAfter: 2}, []string{"uid", "uid", "removed", "removed"}},
		{"fail from 3", Faults{FailAfter: 3}, []string{"uid", "uid", failed, failed}},
		{"fail from 2, remove after 3", Faults{FailAfter: 2, RemoveAfter: 3}, []string{"uid", failed, failed, "removed"}},
		{"delay", Faults{Delay: 1}, []string{"uid", "uid", "uid", "uid"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader("faulty", Part3)
			r.Insert(newTestTag(t, blankImage(t, nfc.TypeNTAG213)), c.faults)
			for i, want := range c.want {
				resp, err := r.Transmit(mustHex("FFCA000000"))
				got := fmt.Sprintf("%X", resp)
				switch {
				case errors.Is(err, nfc.ErrTagRemoved):
					got = "removed"
				case err != nil:
					t.Fatalf("APDU %d: %v", i+1, err)
				case got == "04515CFA6F7381"+ok:
					got = "uid"
				}
				if got != want {
					t.Errorf("APDU %d = %s, want %s", i+1, got, want)
				}
			}
		})
	}
}

func TestInsertPowersTheTagUp(t *testing.T) {
	r, tag := protectedTag(t)
	direct(t, r, "1B11223344")
	if got := xmit(t, r, readPages(16, 4)); got != "C0FFEE00"+ok {
		t.Fatalf("read after PWD_AUTH = %s", got)
	}
	r.Insert(tag, Faults{}) // a new tap: the authentication is gone
	if got := xmit(t, r, readPages(16, 4)); got != failed {
		t.Errorf("read after a new tap = %s, want %s", got, failed)
	}
	direct(t, r, "1B11223344")
	r.powerCycle() // what vpcd's power off/on does
	if got := xmit(t, r, readPages(16, 4)); got != failed {
		t.Errorf("read after a power cycle = %s, want %s", got, failed)
	}
}
