package nfc_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/emu"
	"github.com/tagpay/tagpay/nfc/ndef"
)

const readerName = "Test Reader 0"

var personalities = []emu.Personality{emu.ACR122, emu.Part3}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// uriMessage is an NDEF message holding one URI record.
func uriMessage(t testing.TB, uri string) []byte {
	t.Helper()
	b, err := ndef.Encode(ndef.Message{ndef.NewURI(uri)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// paymentURL is a 60-character URL of the shape tagpay writes; shortURL fits the
// 48 bytes of the smallest ICs.
const (
	paymentURL = "https://pay.example.com/t/7Hq2Kx9PzR?s=1a2b3c4d5e6f7a8b9c0d1"
	shortURL   = "https://pay.example.com/t/7Hq2Kx9PzR"
)

// ev1Large names the larger Ultralight EV1 (MF0UL21) in test tables.
const ev1Large nfc.TagType = "ultralight_ev1_21"

// layoutFor is the memory map of a test table's tag type; false for Type 4.
func layoutFor(typ nfc.TagType) (nfc.Layout, bool) {
	if typ == ev1Large {
		return nfc.LayoutByPages(nfc.TypeUltralightEV1, 41)
	}
	return nfc.LayoutOf(typ)
}

// fits tells whether msg fits a fresh tag of type typ.
func fits(typ nfc.TagType, msg []byte) bool {
	if lay, ok := layoutFor(typ); ok {
		return len(nfc.NDEFTLV(msg)) <= lay.UserBytes()
	}
	return len(msg) <= 254
}

func image(t testing.TB, typ nfc.TagType, msg []byte) *nfc.Image {
	t.Helper()
	uid := unhex(t, "04515CFA6F7381")
	var img *nfc.Image
	var err error
	if typ == ev1Large {
		lay, _ := layoutFor(typ)
		img, err = lay.NewImage(uid, msg)
	} else {
		img, err = nfc.NewImage(typ, uid, msg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// bench is one emulated reader with one tag, on an in-memory bus.
type bench struct {
	tag    *emu.Tag
	reader *emu.Reader
	bus    nfc.Bus
}

func newBench(t testing.TB, p emu.Personality, img *nfc.Image, f emu.Faults) *bench {
	t.Helper()
	tag, err := emu.NewTag(img)
	if err != nil {
		t.Fatal(err)
	}
	r := emu.NewReader(readerName, p)
	r.Insert(tag, f)
	b := &bench{tag: tag, reader: r, bus: emu.NewBus(r)}
	t.Cleanup(func() { b.bus.Close() })
	return b
}

func (b *bench) open(t testing.TB) (*nfc.Tag, *nfc.CountingCard) {
	t.Helper()
	tag, cc, err := nfc.OpenTag(context.Background(), b.bus, "")
	if err != nil {
		t.Fatalf("OpenTag: %v", err)
	}
	t.Cleanup(func() { tag.Close() })
	return tag, cc
}

// reinsert puts the same tag back without faults, as a person would after a failure.
func (b *bench) reinsert() { b.reader.Insert(b.tag, emu.Faults{}) }

var type2Types = []nfc.TagType{nfc.TypeNTAG213, nfc.TypeNTAG215, nfc.TypeNTAG216, nfc.TypeUltralight, nfc.TypeUltralightEV1, ev1Large}

func TestOpenIdentifiesEachIC(t *testing.T) {
	cases := []struct {
		typ      nfc.TagType
		want     nfc.TagType
		name     string
		versions bool // answers GET_VERSION
	}{
		{nfc.TypeNTAG213, nfc.TypeNTAG213, "NTAG213", true},
		{nfc.TypeNTAG215, nfc.TypeNTAG215, "NTAG215", true},
		{nfc.TypeNTAG216, nfc.TypeNTAG216, "NTAG216", true},
		{nfc.TypeUltralight, nfc.TypeUltralight, "MIFARE Ultralight", false},
		{nfc.TypeUltralightEV1, nfc.TypeUltralightEV1, "MIFARE Ultralight EV1 (MF0UL11)", true},
		{ev1Large, nfc.TypeUltralightEV1, "MIFARE Ultralight EV1 (MF0UL21)", true},
		{nfc.TypeNTAG424DNA, nfc.TypeNTAG424DNA, "NTAG 424 DNA", true},
	}
	for _, p := range personalities {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/%s", p, c.typ), func(t *testing.T) {
				img := image(t, c.typ, uriMessage(t, "https://a.io/x"))
				tag, _ := newBench(t, p, img, emu.Faults{}).open(t)
				if tag.Type != c.want || tag.Name != c.name {
					t.Errorf("identified as %s %q, want %s %q", tag.Type, tag.Name, c.want, c.name)
				}
				if !bytes.Equal(tag.UID, img.UID) {
					t.Errorf("UID %X, want %X", tag.UID, img.UID)
				}
				if (tag.Version != nil) != c.versions {
					t.Errorf("version % X, want one: %v", tag.Version, c.versions)
				}
				wantPers := string(p)
				if c.typ == nfc.TypeNTAG424DNA {
					wantPers = "iso14443-4"
				}
				if tag.Personality() != wantPers {
					t.Errorf("personality %q, want %q", tag.Personality(), wantPers)
				}
			})
		}
	}
}

// fakeCard answers with a fixed ATR and 6A 81 to everything, like a reader holding a
// card tagpay cannot talk to.
type fakeCard struct{ atr []byte }

func (f fakeCard) ATR() []byte                       { return f.atr }
func (f fakeCard) Transmit(_ []byte) ([]byte, error) { return []byte{0x6A, 0x81}, nil }
func (f fakeCard) Close() error                      { return nil }

// withTCK appends an ATR's check byte: the XOR of every byte after TS.
func withTCK(atr []byte) []byte {
	var x byte
	for _, b := range atr[1:] {
		x ^= b
	}
	return append(atr, x)
}

func TestOpenRefusesMifareClassic(t *testing.T) {
	for _, c := range []struct {
		atr  string // without TCK
		name string
	}{
		{"3B8F8001804F0CA00000030603000100000000", "MIFARE Classic 1K"},
		{"3B8F8001804F0CA00000030603000200000000", "MIFARE Classic 4K"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tag, err := nfc.Open(fakeCard{atr: withTCK(unhex(t, c.atr))})
			if !errors.Is(err, nfc.ErrUnsupported) || !errors.Is(err, nfc.ErrDevice) {
				t.Fatalf("err = %v, want ErrUnsupported", err)
			}
			if tag == nil || tag.Type != nfc.TypeMifareClassic || tag.Name != c.name {
				t.Fatalf("tag = %+v, want a named MIFARE Classic", tag)
			}
			if !strings.Contains(err.Error(), c.name) {
				t.Errorf("error %q does not name the card", err)
			}
			if _, err := tag.ReadNDEF(); !errors.Is(err, nfc.ErrUnsupported) {
				t.Errorf("ReadNDEF on a Classic: %v, want ErrUnsupported", err)
			}
		})
	}
}

func TestReadNDEF(t *testing.T) {
	msgs := map[string][]byte{
		"payment URL": uriMessage(t, paymentURL),
		"empty":       {},
		"long URL":    uriMessage(t, "https://example.com/"+strings.Repeat("x", 300)),
	}
	for _, p := range personalities {
		for _, typ := range append(type2Types, nfc.TypeNTAG424DNA) {
			for name, msg := range msgs {
				if !fits(typ, msg) {
					continue
				}
				t.Run(fmt.Sprintf("%s/%s/%s", p, typ, name), func(t *testing.T) {
					tag, _ := newBench(t, p, image(t, typ, msg), emu.Faults{}).open(t)
					got, err := tag.ReadNDEF()
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, msg) {
						t.Errorf("read % X\nwant % X", got, msg)
					}
				})
			}
		}
	}
}

// A tag read costs as few APDUs as the reader allows: GET_VERSION (which also finds
// the reader's personality), then one multi-page read that holds the header and a
// payment URL whole.
func TestReadNDEFAPDUBudget(t *testing.T) {
	cases := []struct {
		p    emu.Personality
		typ  nfc.TagType
		msg  []byte
		want int
	}{
		// GET_VERSION, FAST_READ 0-23.
		{emu.ACR122, nfc.TypeNTAG215, uriMessage(t, paymentURL), 2},
		// FF 00 probe refused, session start, GET_VERSION, FAST_READ 0-23.
		{emu.Part3, nfc.TypeNTAG215, uriMessage(t, paymentURL), 4},
		// ... and one more FAST_READ for what lies past page 23.
		{emu.ACR122, nfc.TypeNTAG215, uriMessage(t, "https://example.com/"+strings.Repeat("y", 150)), 3},
		// Ultralight: no GET_VERSION nor FAST_READ, so READ BINARY of 16 bytes.
		// Probe (tag silent), pages 0-3, then 4-7, 8-11, 12-15 for a 40-byte TLV.
		{emu.ACR122, nfc.TypeUltralight, uriMessage(t, "https://example.com/abcdefghijklmn"), 5},
		// NTAG 424 DNA: SELECT app, GET_VERSION x3, SELECT CC, READ CC, SELECT NDEF, READ.
		{emu.ACR122, nfc.TypeNTAG424DNA, uriMessage(t, paymentURL), 8},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%s/%d", c.p, c.typ, len(c.msg)), func(t *testing.T) {
			tag, cc := newBench(t, c.p, image(t, c.typ, c.msg), emu.Faults{}).open(t)
			got, err := tag.ReadNDEF()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, c.msg) {
				t.Fatalf("read % X, want % X", got, c.msg)
			}
			if cc.APDUs() != c.want {
				t.Errorf("read took %d APDUs, want %d", cc.APDUs(), c.want)
			}
		})
	}
}

func TestWriteNDEFReadsBack(t *testing.T) {
	msgs := [][]byte{
		uriMessage(t, paymentURL),
		uriMessage(t, "https://a.io"),
		{},
	}
	for _, p := range personalities {
		for _, typ := range append(type2Types, nfc.TypeNTAG424DNA) {
			for _, msg := range msgs {
				if !fits(typ, msg) {
					continue
				}
				t.Run(fmt.Sprintf("%s/%s/%d", p, typ, len(msg)), func(t *testing.T) {
					b := newBench(t, p, image(t, typ, uriMessage(t, "https://old.example.org/previous-content")), emu.Faults{})
					tag, _ := b.open(t)
					if err := tag.WriteNDEF(msg, nfc.WriteOptions{}); err != nil {
						t.Fatalf("WriteNDEF: %v", err)
					}
					tag.Close()
					again, _ := b.open(t)
					got, err := again.ReadNDEF()
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, msg) {
						t.Errorf("after writing, read % X\nwant % X", got, msg)
					}
				})
			}
		}
	}
}

func TestWriteNDEFFormatsABlankTag(t *testing.T) {
	img := image(t, nfc.TypeNTAG213, nil)
	img.Pages[3] = nfc.HexBytes{0, 0, 0, 0}
	for p := 4; p < 8; p++ {
		img.Pages[p] = nfc.HexBytes{0, 0, 0, 0}
	}
	b := newBench(t, emu.ACR122, img, emu.Faults{})
	tag, _ := b.open(t)
	if _, err := tag.ReadNDEF(); !errors.Is(err, nfc.ErrNoNDEF) {
		t.Fatalf("blank tag read: %v, want ErrNoNDEF", err)
	}
	msg := uriMessage(t, paymentURL)
	if err := tag.WriteNDEF(msg, nfc.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if cc := b.tag.Image().Pages[3]; !bytes.Equal(cc, []byte{0xE1, 0x10, 0x12, 0x00}) {
		t.Errorf("CC after formatting % X, want E1 10 12 00", cc)
	}
}

func TestWriteNDEFRefusesOversize(t *testing.T) {
	cases := []struct {
		typ nfc.TagType
		max int // from the CC's data area: TLV header and terminator take 3 or 5 bytes
	}{
		{nfc.TypeNTAG213, 144 - 3},
		{nfc.TypeNTAG215, 496 - 5},
		{nfc.TypeNTAG216, 872 - 5},
		{nfc.TypeUltralight, 48 - 3},
		{nfc.TypeNTAG424DNA, 256 - 2},
	}
	for _, c := range cases {
		t.Run(string(c.typ), func(t *testing.T) {
			// The largest URI message within the limit, and the smallest past it.
			var fit, big []byte
			for n := 1; big == nil; n++ {
				m := uriMessage(t, "https://"+strings.Repeat("f", n))
				if len(m) <= c.max {
					fit = m
				} else {
					big = m
				}
			}
			b := newBench(t, emu.ACR122, image(t, c.typ, uriMessage(t, "https://a.io")), emu.Faults{})
			tag, _ := b.open(t)
			if err := tag.WriteNDEF(fit, nfc.WriteOptions{}); err != nil {
				t.Fatalf("a %d-byte message should fit: %v", len(fit), err)
			}
			before := b.tag.Image()
			err := tag.WriteNDEF(big, nfc.WriteOptions{})
			var tl *nfc.TooLargeError
			if !errors.As(err, &tl) || !errors.Is(err, nfc.ErrTooLarge) {
				t.Fatalf("err = %v, want a TooLargeError", err)
			}
			if tl.Size != len(big) || tl.Max != c.max {
				t.Errorf("refused %d > %d, want %d > %d", tl.Size, tl.Max, len(big), c.max)
			}
			for _, n := range []int{len(big), c.max} {
				if !strings.Contains(err.Error(), fmt.Sprint(n)) {
					t.Errorf("message %q does not name %d", err, n)
				}
			}
			after := b.tag.Image()
			if fmt.Sprint(after.Pages) != fmt.Sprint(before.Pages) || !bytes.Equal(after.NDEF, before.NDEF) {
				t.Error("a refused message changed the tag")
			}
		})
	}
}

func TestLockMakesTheTagReadOnly(t *testing.T) {
	for _, p := range personalities {
		for _, typ := range type2Types {
			t.Run(fmt.Sprintf("%s/%s", p, typ), func(t *testing.T) {
				msg := uriMessage(t, shortURL)
				b := newBench(t, p, image(t, typ, msg), emu.Faults{})
				tag, _ := b.open(t)
				info, err := tag.Info()
				if err != nil {
					t.Fatal(err)
				}
				if info.Lock != nfc.LockWritable {
					t.Fatalf("fresh tag lock state %q", info.Lock)
				}
				if err := tag.Lock(); err != nil {
					t.Fatalf("Lock: %v", err)
				}
				tag.Close()
				again, _ := b.open(t)
				info, err = again.Info()
				if err != nil {
					t.Fatal(err)
				}
				if info.Lock != nfc.LockReadOnly {
					t.Errorf("after Lock, state %q", info.Lock)
				}
				err = again.WriteNDEF(uriMessage(t, "https://evil.example"), nfc.WriteOptions{})
				if !errors.Is(err, nfc.ErrReadOnly) {
					t.Errorf("write after lock: %v, want ErrReadOnly", err)
				}
				got, err := again.ReadNDEF()
				if err != nil || !bytes.Equal(got, msg) {
					t.Errorf("locked tag reads % X, %v; want the message", got, err)
				}
				pages := b.tag.Image().Pages
				if pages[2][2] != 0xFF || pages[2][3] != 0xFF || pages[3][3] != 0x0F {
					t.Errorf("static lock % X, CC % X", pages[2], pages[3])
				}
			})
		}
	}
}

func TestPasswordProtection(t *testing.T) {
	pwd, pack := unhex(t, "12345678"), unhex(t, "ABCD")
	for _, p := range personalities {
		for _, typ := range []nfc.TagType{nfc.TypeNTAG213, nfc.TypeNTAG216, nfc.TypeUltralightEV1} {
			for _, readProtect := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/read-protect=%v", p, typ, readProtect), func(t *testing.T) {
					msg := uriMessage(t, shortURL)
					b := newBench(t, p, image(t, typ, msg), emu.Faults{})
					tag, _ := b.open(t)
					cfg := nfc.PasswordConfig{Password: pwd, PACK: pack, FromPage: 4, ReadProtect: readProtect}
					if err := tag.SetPassword(cfg); err != nil {
						t.Fatalf("SetPassword: %v", err)
					}
					tag.Close()
					b.reinsert() // a new tap: the session's authentication is gone

					locked, _ := b.open(t)
					info, err := locked.Info()
					if err != nil {
						t.Fatal(err)
					}
					if info.Password == nil || !info.Password.Enabled || info.Password.ReadProtect != readProtect {
						t.Fatalf("password info %+v", info.Password)
					}
					if !readProtect && info.Password.FromPage != 4 {
						t.Errorf("protected from page %d, want 4", info.Password.FromPage)
					}
					_, readErr := locked.ReadNDEF()
					if readProtect != (readErr != nil) {
						t.Errorf("read without password: %v (read-protect %v)", readErr, readProtect)
					}
					newMsg := uriMessage(t, "https://pay.example.com/t/new")
					if err := locked.WriteNDEF(newMsg, nfc.WriteOptions{}); !errors.Is(err, nfc.ErrDevice) {
						t.Errorf("write without password: %v, want a device error", err)
					}
					locked.Close()

					b.reinsert()
					wrong, _ := b.open(t)
					if err := wrong.Authenticate(unhex(t, "00000000"), nil); !errors.Is(err, nfc.ErrAuth) {
						t.Errorf("wrong password: %v, want ErrAuth", err)
					}
					wrong.Close()

					b.reinsert()
					right, _ := b.open(t)
					if err := right.WriteNDEF(newMsg, nfc.WriteOptions{Password: pwd, PACK: pack}); err != nil {
						t.Fatalf("write with the password: %v", err)
					}
					got, err := right.ReadNDEF()
					if err != nil || !bytes.Equal(got, newMsg) {
						t.Errorf("read after authenticated write: % X, %v", got, err)
					}
				})
			}
		}
	}
}

func TestPasswordUnsupported(t *testing.T) {
	tag, _ := newBench(t, emu.ACR122, image(t, nfc.TypeUltralight, nil), emu.Faults{}).open(t)
	err := tag.SetPassword(nfc.PasswordConfig{Password: []byte{1, 2, 3, 4}, PACK: []byte{5, 6}, FromPage: 4})
	if !errors.Is(err, nfc.ErrUnsupported) {
		t.Errorf("SetPassword on an Ultralight: %v, want ErrUnsupported", err)
	}
}

// Pulling the tag away after each APDU of a write gives a TornWriteError naming the
// pages that landed; the tag then diagnoses as damaged, except when nothing or
// everything was written.
func TestTornWrite(t *testing.T) {
	oldMsg := uriMessage(t, "https://old.example.org/a-previous-and-longer-content-on-this-tag")
	newMsg := uriMessage(t, paymentURL)
	for _, p := range personalities {
		for _, typ := range []nfc.TagType{nfc.TypeNTAG213, nfc.TypeNTAG215, ev1Large} {
			t.Run(fmt.Sprintf("%s/%s", p, typ), func(t *testing.T) {
				// A clean run tells how many APDUs opening and writing take.
				clean := newBench(t, p, image(t, typ, oldMsg), emu.Faults{})
				tag, cc := clean.open(t)
				// The write reads the configuration pages first (to refuse a write into
				// a password-protected area before anything lands): count that too.
				if _, err := tag.Password(); err != nil {
					t.Fatal(err)
				}
				opening := cc.APDUs()
				if err := tag.WriteNDEF(newMsg, nfc.WriteOptions{}); err != nil {
					t.Fatal(err)
				}
				writes := len(nfc.NDEFTLV(newMsg))/4 + 2 // pages, plus the length commit
				if len(nfc.NDEFTLV(newMsg))%4 == 0 {
					writes--
				}

				for k := 0; k <= writes; k++ {
					b := newBench(t, p, image(t, typ, oldMsg), emu.Faults{RemoveAfter: opening + k})
					tag, _ := b.open(t)
					err := tag.WriteNDEF(newMsg, nfc.WriteOptions{})
					var torn *nfc.TornWriteError
					if !errors.As(err, &torn) {
						t.Fatalf("removed after %d writes: err = %v, want a TornWriteError", k, err)
					}
					if !errors.Is(err, nfc.ErrDevice) || !errors.Is(err, nfc.ErrTagRemoved) {
						t.Errorf("removed after %d writes: %v should match ErrDevice and ErrTagRemoved", k, err)
					}
					if len(torn.PagesWritten) != k || len(torn.PagesPlanned) != writes {
						t.Errorf("removed after %d writes: %d written of %d planned (%v of %v)", k, len(torn.PagesWritten), len(torn.PagesPlanned), torn.PagesWritten, torn.PagesPlanned)
					}
					if k > 0 && k < writes && !strings.Contains(err.Error(), "written: page") {
						t.Errorf("message %q does not list the pages written", err)
					}
					if torn.Verifying != (k == writes) {
						t.Errorf("removed after %d writes: Verifying = %v", k, torn.Verifying)
					}
					for i, pg := range torn.PagesWritten {
						if pg != torn.PagesPlanned[i] {
							t.Errorf("page %d written out of plan %v", pg, torn.PagesPlanned)
						}
					}

					b.reinsert()
					checks := nfc.Diagnose(context.Background(), b.bus, nfc.DiagnoseOptions{})
					ndefCheck := find(t, checks, nfc.CheckNDEF)
					want := nfc.StatusFail
					if k == 0 || k == writes {
						want = nfc.StatusPass
					}
					if ndefCheck.Status != want {
						t.Errorf("removed after %d of %d writes: NDEF check %s (%s), want %s", k, writes, ndefCheck.Status, ndefCheck.Detail, want)
					}
				}
			})
		}
	}
}

func TestTornWriteType4(t *testing.T) {
	oldMsg := uriMessage(t, "https://old.example.org/previous")
	newMsg := uriMessage(t, paymentURL)
	clean := newBench(t, emu.ACR122, image(t, nfc.TypeNTAG424DNA, oldMsg), emu.Faults{})
	tag, cc := clean.open(t)
	opening := cc.APDUs()
	if err := tag.WriteNDEF(newMsg, nfc.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	// SELECT CC, READ CC and SELECT NDEF come first: removal there writes nothing.
	for k := 1; k <= 3; k++ {
		b := newBench(t, emu.ACR122, image(t, nfc.TypeNTAG424DNA, oldMsg), emu.Faults{RemoveAfter: opening + k})
		tag, _ := b.open(t)
		err := tag.WriteNDEF(newMsg, nfc.WriteOptions{})
		if !errors.Is(err, nfc.ErrTagRemoved) {
			t.Fatalf("removed after %d APDUs of the write: %v", k, err)
		}
	}
	// Then NLEN 0 with the message in one UPDATE, then the real NLEN.
	for k, wantBytes := range map[int]int{4: 2 + len(newMsg), 5: 2 + len(newMsg) + 2} {
		b := newBench(t, emu.ACR122, image(t, nfc.TypeNTAG424DNA, oldMsg), emu.Faults{RemoveAfter: opening + k})
		tag, _ := b.open(t)
		err := tag.WriteNDEF(newMsg, nfc.WriteOptions{})
		var torn *nfc.TornWriteError
		if !errors.As(err, &torn) {
			t.Fatalf("removed after %d APDUs: %v, want a TornWriteError", k, err)
		}
		if torn.BytesWritten != wantBytes {
			t.Errorf("removed after %d APDUs: %d bytes written, want %d", k, torn.BytesWritten, wantBytes)
		}
		b.reinsert()
		again, _ := b.open(t)
		got, err := again.ReadNDEF()
		if k == 4 && (err != nil || len(got) != 0) {
			t.Errorf("NLEN not committed: read % X, %v; want an empty message", got, err)
		}
		if k == 5 && !bytes.Equal(got, newMsg) {
			t.Errorf("NLEN committed: read % X, %v; want the new message", got, err)
		}
	}
}

func find(t testing.TB, checks []nfc.Check, name string) nfc.Check {
	t.Helper()
	for _, c := range checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no %q check in %+v", name, checks)
	return nfc.Check{}
}

func TestFailureStatusGivesAClearError(t *testing.T) {
	for _, p := range personalities {
		t.Run(string(p), func(t *testing.T) {
			msg := uriMessage(t, "https://example.com/"+strings.Repeat("z", 150))
			clean := newBench(t, p, image(t, nfc.TypeNTAG215, msg), emu.Faults{})
			_, cc := clean.open(t)
			opening := cc.APDUs()

			b := newBench(t, p, image(t, nfc.TypeNTAG215, msg), emu.Faults{FailAfter: opening + 1})
			tag, _ := b.open(t)
			_, err := tag.ReadNDEF()
			if !errors.Is(err, nfc.ErrReaderFault) || !errors.Is(err, nfc.ErrDevice) {
				t.Fatalf("err = %v, want ErrReaderFault", err)
			}
			if !strings.Contains(err.Error(), "pages") {
				t.Errorf("error %q does not say what failed", err)
			}

			// A reader failing from the first APDU still leaves a readable error.
			b = newBench(t, p, image(t, nfc.TypeNTAG215, msg), emu.Faults{FailAfter: 1})
			_, _, err = nfc.OpenTag(context.Background(), b.bus, "")
			if !errors.Is(err, nfc.ErrReaderFault) || !strings.Contains(err.Error(), "63 00") {
				t.Errorf("open with a failing reader: %v, want SW 63 00 named", err)
			}
		})
	}
}

func TestUPDATEFailureMidWriteIsTorn(t *testing.T) {
	msg := uriMessage(t, paymentURL)
	clean := newBench(t, emu.ACR122, image(t, nfc.TypeNTAG215, nil), emu.Faults{})
	tag, cc := clean.open(t)
	if _, err := tag.Password(); err != nil { // what the write reads before writing
		t.Fatal(err)
	}
	b := newBench(t, emu.ACR122, image(t, nfc.TypeNTAG215, nil), emu.Faults{FailAfter: cc.APDUs() + 3})
	tag, _ = b.open(t)
	err := tag.WriteNDEF(msg, nfc.WriteOptions{})
	var torn *nfc.TornWriteError
	if !errors.As(err, &torn) || len(torn.PagesWritten) != 2 || !errors.Is(err, nfc.ErrReaderFault) {
		t.Fatalf("err = %v, want a TornWriteError after 2 pages from a 63 00", err)
	}
}

func TestDumpMatchesTheTag(t *testing.T) {
	for _, p := range personalities {
		for _, typ := range type2Types {
			t.Run(fmt.Sprintf("%s/%s", p, typ), func(t *testing.T) {
				img := image(t, typ, uriMessage(t, shortURL))
				b := newBench(t, p, img, emu.Faults{})
				tag, _ := b.open(t)
				dump, err := tag.Dump()
				if err != nil {
					t.Fatal(err)
				}
				want := b.tag.Image()
				if len(dump.Pages) != len(want.Pages) {
					t.Fatalf("dump has %d pages, tag %d", len(dump.Pages), len(want.Pages))
				}
				lay, _ := tag.Layout()
				for i := range want.Pages {
					w := want.Pages[i]
					if i == lay.PWD || i == lay.PACK {
						w = nfc.HexBytes{0, 0, 0, 0} // write-only, read as zeros
					}
					if !bytes.Equal(dump.Pages[i], w) {
						t.Errorf("page %d: dump % X, tag % X", i, dump.Pages[i], w)
					}
				}
				if dump.Type != want.Type || !bytes.Equal(dump.UID, want.UID) || !bytes.Equal(dump.Version, want.Version) {
					t.Errorf("dump %s %X %X, tag %s %X %X", dump.Type, dump.UID, dump.Version, want.Type, want.UID, want.Version)
				}
				if img.Version != nil && !bytes.Equal(dump.Signature, want.Signature) {
					t.Errorf("signature % X, want % X", dump.Signature, want.Signature)
				}
			})
		}
	}
	t.Run("ntag424dna", func(t *testing.T) {
		msg := uriMessage(t, shortURL)
		b := newBench(t, emu.ACR122, image(t, nfc.TypeNTAG424DNA, msg), emu.Faults{})
		tag, _ := b.open(t)
		dump, err := tag.Dump()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(dump.NDEF, msg) || !bytes.Equal(dump.UID, b.tag.Image().UID) || len(dump.Signature) != 56 {
			t.Errorf("dump %+v", dump)
		}
	})
}

func TestDumpReadsTheNFCCounter(t *testing.T) {
	img := image(t, nfc.TypeNTAG213, nil)
	img.Pages[42][0] |= 0x10 // NFC_CNT_EN
	img.Counter = 41
	b := newBench(t, emu.ACR122, img, emu.Faults{})
	tag, _ := b.open(t)
	dump, err := tag.Dump()
	if err != nil {
		t.Fatal(err)
	}
	if dump.Counter != 42 { // this session's first read counted
		t.Errorf("counter %d, want 42", dump.Counter)
	}
}

// The known-good signature of a real NTAG215 (AN11350 vector).
var (
	genuineUID = "04515CFA6F7381"
	genuineSig = "4221E46C796A815EEA0D936D85EE4B0C2A00D577F1C567F36375F8EB86485E6B"
)

func TestSignature(t *testing.T) {
	for _, c := range []struct {
		sig  string
		want bool
	}{{genuineSig, true}, {"00" + genuineSig[2:], false}} {
		img := image(t, nfc.TypeNTAG215, nil)
		img.Signature = unhex(t, c.sig)
		tag, _ := newBench(t, emu.ACR122, img, emu.Faults{}).open(t)
		sig, err := tag.Signature()
		if err != nil {
			t.Fatal(err)
		}
		ok, err := nfc.VerifyOriginality(tag.Type, tag.UID, sig)
		if err != nil || ok != c.want {
			t.Errorf("signature %s verifies %v, %v; want %v", c.sig, ok, err, c.want)
		}
	}
	tag, _ := newBench(t, emu.ACR122, image(t, nfc.TypeUltralight, nil), emu.Faults{}).open(t)
	if _, err := tag.Signature(); !errors.Is(err, nfc.ErrUnsupported) {
		t.Errorf("Ultralight signature: %v, want ErrUnsupported", err)
	}
}

func TestInfo(t *testing.T) {
	msg := uriMessage(t, shortURL)
	cases := []struct {
		typ      nfc.TagType
		capacity int
		password bool
	}{
		{nfc.TypeNTAG213, 144, true},
		{nfc.TypeNTAG215, 496, true},
		{nfc.TypeNTAG216, 872, true},
		{nfc.TypeUltralight, 48, false},
		{nfc.TypeNTAG424DNA, 254, false},
	}
	for _, c := range cases {
		t.Run(string(c.typ), func(t *testing.T) {
			tag, _ := newBench(t, emu.ACR122, image(t, c.typ, msg), emu.Faults{}).open(t)
			info, err := tag.Info()
			if err != nil {
				t.Fatal(err)
			}
			if info.Type != c.typ || info.Capacity != c.capacity || info.NDEFLength != len(msg) || info.Lock != nfc.LockWritable {
				t.Errorf("info %+v", info)
			}
			if (info.Password != nil) != c.password || c.password && info.Password.Enabled {
				t.Errorf("password %+v, want supported %v and disabled", info.Password, c.password)
			}
		})
	}
}

// plainReader hides a reader's native channel, as a reader that knows only the
// storage-card commands of PC/SC Part 3 would.
type plainReader struct{ nfc.Card }

func (p plainReader) Transmit(apdu []byte) ([]byte, error) {
	if len(apdu) >= 2 && apdu[0] == 0xFF && (apdu[1] == 0x00 || apdu[1] == 0xC2) {
		return []byte{0x6A, 0x81}, nil
	}
	return p.Card.Transmit(apdu)
}

func TestPlainStorageCardReader(t *testing.T) {
	msg := uriMessage(t, paymentURL)
	img := image(t, nfc.TypeNTAG215, msg)
	img.Signature = unhex(t, genuineSig)
	b := newBench(t, emu.ACR122, img, emu.Faults{})
	card, err := b.bus.Connect(context.Background(), readerName)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := nfc.Open(plainReader{card})
	if err != nil {
		t.Fatal(err)
	}
	defer tag.Close()
	if tag.Personality() != "none" || tag.Type != nfc.TypeNTAG215 || tag.Version != nil {
		t.Errorf("identified %s (version % X) through %q; want ntag215 from its CC through none", tag.Type, tag.Version, tag.Personality())
	}
	got, err := tag.ReadNDEF()
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("read % X, %v", got, err)
	}
	newMsg := uriMessage(t, "https://pay.example.com/t/plain")
	if err := tag.WriteNDEF(newMsg, nfc.WriteOptions{}); err != nil {
		t.Fatalf("write: %v", err)
	}
	if _, err := tag.Signature(); !errors.Is(err, nfc.ErrUnsupported) {
		t.Errorf("signature without a native channel: %v, want ErrUnsupported", err)
	}
	checks := nfc.DiagnoseTag(tag, nfc.DiagnoseOptions{})
	for name, want := range map[string]nfc.Status{nfc.CheckIC: nfc.StatusWarn, nfc.CheckNDEF: nfc.StatusPass, nfc.CheckSignature: nfc.StatusWarn} {
		if c := find(t, checks, name); c.Status != want {
			t.Errorf("%s: %s %s, want %s", name, c.Status, c.Detail, want)
		}
	}
}
