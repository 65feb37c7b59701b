package nfc_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/emu"
)

func diagnose(t *testing.T, p emu.Personality, img *nfc.Image, opts nfc.DiagnoseOptions) []nfc.Check {
	t.Helper()
	b := newBench(t, p, img, emu.Faults{})
	return nfc.Diagnose(context.Background(), b.bus, opts)
}

func genuine(t *testing.T, msg []byte) *nfc.Image {
	t.Helper()
	img := image(t, nfc.TypeNTAG215, msg)
	img.Signature = unhex(t, genuineSig)
	return img
}

func TestDiagnoseHealthyTag(t *testing.T) {
	for _, p := range personalities {
		t.Run(string(p), func(t *testing.T) {
			checks := diagnose(t, p, genuine(t, uriMessage(t, paymentURL)), nfc.DiagnoseOptions{})
			var names []string
			for _, c := range checks {
				names = append(names, c.Name)
				if c.Status != nfc.StatusPass {
					t.Errorf("%s: %s %s", c.Name, c.Status, c.Detail)
				}
			}
			want := []string{nfc.CheckReader, nfc.CheckATR, nfc.CheckIC, nfc.CheckUID, nfc.CheckCC, nfc.CheckNDEF, nfc.CheckLock, nfc.CheckPassword, nfc.CheckSignature}
			if fmt.Sprint(names) != fmt.Sprint(want) {
				t.Errorf("checks %v, want %v", names, want)
			}
		})
	}
}

// Each case spoils one thing on an otherwise genuine tag and expects exactly that
// check to turn.
func TestDiagnoseFindsProblems(t *testing.T) {
	msg := uriMessage(t, paymentURL)
	cases := []struct {
		name  string
		spoil func(img *nfc.Image)
		check string
		want  nfc.Status
	}{
		{"forged signature", func(img *nfc.Image) { img.Signature[0] ^= 1 }, nfc.CheckSignature, nfc.StatusFail},
		{"CC larger than the IC", func(img *nfc.Image) { img.Pages[3][2] = 0x6D }, nfc.CheckCC, nfc.StatusFail},
		{"CC smaller than the IC", func(img *nfc.Image) { img.Pages[3][2] = 0x12 }, nfc.CheckCC, nfc.StatusWarn},
		{"TLV length past the data area", func(img *nfc.Image) { img.Pages[4][1] = 0xFF; img.Pages[4][2] = 0x02 }, nfc.CheckNDEF, nfc.StatusFail},
		{"no terminator after the message", func(img *nfc.Image) {
			end := 16 + 2 + len(msg) // byte offset of the terminator: data area, TLV header, message
			img.Pages[end/4][end%4] = 0x00
		}, nfc.CheckNDEF, nfc.StatusFail},
		{"message cut short", func(img *nfc.Image) { img.Pages[4][1] = byte(len(msg) - 4) }, nfc.CheckNDEF, nfc.StatusFail},
		{"not a TLV", func(img *nfc.Image) { img.Pages[4][0] = 0x42 }, nfc.CheckNDEF, nfc.StatusFail},
		{"empty message", func(img *nfc.Image) { copy(img.Pages[4], []byte{0x03, 0x00, 0xFE, 0x00}) }, nfc.CheckNDEF, nfc.StatusWarn},
		{"partially locked", func(img *nfc.Image) { img.Pages[2][2] = 0xF0 }, nfc.CheckLock, nfc.StatusWarn},
		{"locked", func(img *nfc.Image) {
			img.Pages[2][2], img.Pages[2][3], img.Pages[3][3] = 0xFF, 0xFF, 0x0F
			copy(img.Pages[130], []byte{0xFF, 0xFF, 0xFF, 0xBD})
		}, nfc.CheckLock, nfc.StatusPass},
		{"unformatted", func(img *nfc.Image) { img.Pages[3] = nfc.HexBytes{0, 0, 0, 0} }, nfc.CheckCC, nfc.StatusWarn},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := genuine(t, msg)
			c.spoil(img)
			checks := diagnose(t, emu.ACR122, img, nfc.DiagnoseOptions{})
			if got := find(t, checks, c.check); got.Status != c.want {
				t.Errorf("%s: %s (%s), want %s", c.check, got.Status, got.Detail, c.want)
			}
			for _, other := range checks {
				if other.Name != c.check && other.Status == nfc.StatusFail {
					t.Errorf("unexpected failure of %s: %s", other.Name, other.Detail)
				}
			}
		})
	}
}

func TestDiagnosePasswordProtectedTag(t *testing.T) {
	img := genuine(t, uriMessage(t, paymentURL))
	img.Pages[131][3] = 0x04 // AUTH0: from page 4
	img.Pages[132][0] = 0x80 // PROT: reads too
	checks := diagnose(t, emu.ACR122, img, nfc.DiagnoseOptions{})
	if c := find(t, checks, nfc.CheckPassword); c.Status != nfc.StatusPass {
		t.Errorf("password: %s %s", c.Status, c.Detail)
	}
	if c := find(t, checks, nfc.CheckNDEF); c.Status != nfc.StatusWarn {
		t.Errorf("a read-protected message: %s %s, want WARN", c.Status, c.Detail)
	}
}

func TestDiagnoseNoReaderNoTag(t *testing.T) {
	checks := nfc.Diagnose(context.Background(), emu.NewBus(), nfc.DiagnoseOptions{})
	if len(checks) != 1 || checks[0].Name != nfc.CheckReader || checks[0].Status != nfc.StatusFail {
		t.Errorf("no reader: %+v", checks)
	}
	bus, _ := shelf(t)
	checks = nfc.Diagnose(context.Background(), bus, nfc.DiagnoseOptions{})
	if len(checks) != 1 || checks[0].Status != nfc.StatusFail {
		t.Errorf("no tag: %+v", checks)
	}
}

func TestDiagnoseSUN(t *testing.T) {
	zero := make([]byte, 16)
	other := make([]byte, 16)
	other[0] = 1
	cases := []struct {
		name string
		keys []byte
		want nfc.Status
	}{
		{"right keys", zero, nfc.StatusPass},
		{"wrong keys", other, nfc.StatusFail},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := image(t, nfc.TypeNTAG424DNA, nil)
			img.SUN = &nfc.SUNConfig{BaseURL: "https://pay.example.com/s", MetaKey: zero, FileKey: zero}
			checks := diagnose(t, emu.Part3, img, nfc.DiagnoseOptions{MetaKey: c.keys, FileKey: c.keys})
			if got := find(t, checks, nfc.CheckSUN); got.Status != c.want {
				t.Errorf("SUN: %s (%s), want %s", got.Status, got.Detail, c.want)
			}
			for _, name := range []string{nfc.CheckIC, nfc.CheckUID, nfc.CheckCC, nfc.CheckNDEF, nfc.CheckLock} {
				if got := find(t, checks, name); got.Status != nfc.StatusPass {
					t.Errorf("%s: %s %s", name, got.Status, got.Detail)
				}
			}
		})
	}
	t.Run("no keys, no SUN check", func(t *testing.T) {
		checks := diagnose(t, emu.ACR122, image(t, nfc.TypeNTAG424DNA, uriMessage(t, paymentURL)), nfc.DiagnoseOptions{})
		for _, c := range checks {
			if c.Name == nfc.CheckSUN {
				t.Errorf("SUN checked without keys: %+v", c)
			}
		}
	})
}

func TestDiagnoseUnsupportedTag(t *testing.T) {
	// A MIFARE Classic through a card that refuses everything but its ATR.
	bus := &oneCardBus{card: fakeCard{atr: withTCK(unhex(t, "3B8F8001804F0CA00000030603000100000000"))}}
	checks := nfc.Diagnose(context.Background(), bus, nfc.DiagnoseOptions{})
	if c := find(t, checks, nfc.CheckIC); c.Status != nfc.StatusFail {
		t.Errorf("IC: %s %s", c.Status, c.Detail)
	}
}

// oneCardBus is a single reader holding card.
type oneCardBus struct{ card nfc.Card }

func (b *oneCardBus) Readers(context.Context) ([]nfc.ReaderState, error) {
	return []nfc.ReaderState{{Name: "Fake", Present: true, ATR: b.card.ATR()}}, nil
}
func (b *oneCardBus) Connect(context.Context, string) (nfc.Card, error) { return b.card, nil }
func (b *oneCardBus) Wait(ctx context.Context, _ []nfc.ReaderState) ([]nfc.ReaderState, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (b *oneCardBus) Close() error { return nil }

func TestDiagnoseWithThePassword(t *testing.T) {
	img := genuine(t, uriMessage(t, paymentURL))
	img.Pages[131][3] = 0x04              // AUTH0: from page 4
	img.Pages[132][0] = 0x80 | 0x05       // PROT, AUTHLIM 5
	img.Pages[133] = unhex(t, "CAFEF00D") // PWD
	checks := diagnose(t, emu.Part3, img, nfc.DiagnoseOptions{Password: unhex(t, "CAFEF00D")})
	if c := find(t, checks, nfc.CheckNDEF); c.Status != nfc.StatusPass {
		t.Errorf("with the password the message reads: %s %s, want PASS", c.Status, c.Detail)
	}
	c := find(t, checks, nfc.CheckPassword)
	if c.Status != nfc.StatusPass || !strings.Contains(c.Detail, "from page 4, reads and writes, blocked for good after 5 failed attempts; the password given was accepted") {
		t.Errorf("password: %s %s", c.Status, c.Detail)
	}
	if c := find(t, checks, nfc.CheckSignature); c.Status != nfc.StatusPass {
		t.Errorf("signature: %s %s", c.Status, c.Detail)
	}
	checks = diagnose(t, emu.Part3, img, nfc.DiagnoseOptions{Password: unhex(t, "00000000")})
	if c := find(t, checks, nfc.CheckPassword); c.Status != nfc.StatusFail || !strings.Contains(c.Detail, "refused") {
		t.Errorf("wrong password: %s %s, want FAIL", c.Status, c.Detail)
	}
}

func TestDiagnoseUltralightCProtection(t *testing.T) {
	img := image(t, nfc.TypeUltralightC, uriMessage(t, shortURL))
	checks := diagnose(t, emu.ACR122, img, nfc.DiagnoseOptions{})
	if c := find(t, checks, nfc.CheckPassword); c.Status != nfc.StatusPass || !strings.Contains(c.Detail, "no 3DES protection") {
		t.Errorf("unprotected Ultralight C: %s %s", c.Status, c.Detail)
	}
	img.Pages[42][0] = 0x20 // AUTH0: page 32
	img.Pages[43][0] = 0x01 // AUTH1: writes only
	checks = diagnose(t, emu.Part3, img, nfc.DiagnoseOptions{})
	if c := find(t, checks, nfc.CheckPassword); c.Status != nfc.StatusWarn || !strings.Contains(c.Detail, "3DES-protected from page 32, writes only") {
		t.Errorf("protected Ultralight C: %s %s", c.Status, c.Detail)
	}
}

// A read-protected NTAG21x hides its dynamic lock bytes: the lock state is unknown,
// and says how to learn it, until the password is given.
func TestDiagnoseReadProtectedLockState(t *testing.T) {
	for _, p := range personalities {
		t.Run(string(p), func(t *testing.T) {
			img := genuine(t, uriMessage(t, paymentURL))
			img.Pages[131][3] = 0x04              // AUTH0: from page 4
			img.Pages[132][0] = 0x80              // PROT: reads too
			img.Pages[133] = unhex(t, "CAFEF00D") // PWD
			c := find(t, diagnose(t, p, img, nfc.DiagnoseOptions{}), nfc.CheckLock)
			if c.Status != nfc.StatusWarn || !strings.HasPrefix(c.Detail, "unknown: the tag is read-protected") ||
				!strings.Contains(c.Detail, "--password") || strings.Contains(c.Detail, "partially") {
				t.Errorf("without the password: %s %s, want WARN unknown", c.Status, c.Detail)
			}
			c = find(t, diagnose(t, p, img, nfc.DiagnoseOptions{Password: unhex(t, "CAFEF00D")}), nfc.CheckLock)
			if c.Status != nfc.StatusPass || c.Detail != "writable (no lock bits set)" {
				t.Errorf("with the password: %s %s, want PASS writable", c.Status, c.Detail)
			}
			c = find(t, diagnose(t, p, img, nfc.DiagnoseOptions{Password: unhex(t, "00000000")}), nfc.CheckLock)
			if c.Status != nfc.StatusWarn || !strings.Contains(c.Detail, "the password given was refused") {
				t.Errorf("with a wrong password: %s %s", c.Status, c.Detail)
			}
			img.Pages[2][2] = 0xF0 // pages 4-7 locked
			c = find(t, diagnose(t, p, img, nfc.DiagnoseOptions{Password: unhex(t, "CAFEF00D")}), nfc.CheckLock)
			if c.Status != nfc.StatusWarn || !strings.HasPrefix(c.Detail, "partially locked (static lock bytes F0 00") {
				t.Errorf("partially locked, with the password: %s %s", c.Status, c.Detail)
			}
		})
	}
}

// A damaged CC stops only the check that reads through it (the NDEF message), which is
// reported as skipped; identification, the lock bytes, the password configuration and
// the signature are still checked.
func TestDiagnoseBadCCHidesNothingElse(t *testing.T) {
	cases := []struct {
		name  string
		spoil func(img *nfc.Image)
		cc    nfc.Status
	}{
		{"not E1", func(img *nfc.Image) { img.Pages[3][0] = 0x42 }, nfc.StatusFail},
		{"mapping version 2", func(img *nfc.Image) { img.Pages[3][1] = 0x20 }, nfc.StatusFail},
		{"unformatted", func(img *nfc.Image) { img.Pages[3] = nfc.HexBytes{0, 0, 0, 0} }, nfc.StatusWarn},
	}
	for _, c := range cases {
		for _, p := range personalities {
			t.Run(c.name+"/"+string(p), func(t *testing.T) {
				img := genuine(t, uriMessage(t, paymentURL))
				c.spoil(img)
				checks := diagnose(t, p, img, nfc.DiagnoseOptions{})
				var names []string
				for _, ch := range checks {
					names = append(names, ch.Name)
				}
				want := []string{nfc.CheckReader, nfc.CheckATR, nfc.CheckIC, nfc.CheckUID, nfc.CheckCC, nfc.CheckNDEF, nfc.CheckLock, nfc.CheckPassword, nfc.CheckSignature}
				if fmt.Sprint(names) != fmt.Sprint(want) {
					t.Fatalf("checks %v, want %v", names, want)
				}
				if got := find(t, checks, nfc.CheckCC); got.Status != c.cc {
					t.Errorf("CC: %s %s, want %s", got.Status, got.Detail, c.cc)
				}
				ndef := find(t, checks, nfc.CheckNDEF)
				if ndef.Status != nfc.StatusSkip || ndef.DependsOn != nfc.CheckCC || !strings.Contains(ndef.Detail, "needs the capability container check") {
					t.Errorf("NDEF: %+v, want skipped, depending on the CC", ndef)
				}
				for _, name := range []string{nfc.CheckIC, nfc.CheckUID, nfc.CheckLock, nfc.CheckPassword, nfc.CheckSignature} {
					if got := find(t, checks, name); got.Status != nfc.StatusPass {
						t.Errorf("%s: %s %s, want PASS despite the CC", name, got.Status, got.Detail)
					}
				}
			})
		}
	}
}

// On an NTAG 424 DNA whose CC file is damaged, the lock state comes from the NDEF
// file's settings and the signature and SDM are checked; the message and the SUN
// message, read through the CC, are skipped.
func TestDiagnose424BadCC(t *testing.T) {
	img := fresh424(t, "04DE5F1EACC040")
	img.DNA = nfc.FactoryDNAState()
	img.DNA.Files[0].Data[2] = 0x50 // mapping version 5.0
	key := make([]byte, 16)
	checks := diagnose(t, emu.Part3, img, nfc.DiagnoseOptions{MetaKey: key, FileKey: key})
	if c := find(t, checks, nfc.CheckCC); c.Status != nfc.StatusFail {
		t.Errorf("CC: %s %s, want FAIL", c.Status, c.Detail)
	}
	if c := find(t, checks, nfc.CheckLock); c.Status != nfc.StatusPass || !strings.HasPrefix(c.Detail, "writable (NDEF file settings") {
		t.Errorf("lock: %s %s, want PASS from the file settings", c.Status, c.Detail)
	}
	if c := find(t, checks, nfc.CheckSDM); c.Status != nfc.StatusWarn || !strings.Contains(c.Detail, "SDM off") {
		t.Errorf("sdm: %s %s", c.Status, c.Detail)
	}
	if c := find(t, checks, nfc.CheckSignature); c.Status == nfc.StatusSkip {
		t.Errorf("signature skipped: %s", c.Detail)
	}
	if c := find(t, checks, nfc.CheckNDEF); c.Status != nfc.StatusSkip || c.DependsOn != nfc.CheckCC {
		t.Errorf("ndef: %+v, want skipped on the CC", c)
	}
	if c := find(t, checks, nfc.CheckSUN); c.Status != nfc.StatusSkip || c.DependsOn != nfc.CheckNDEF || !strings.Contains(c.Detail, "which was not run") {
		t.Errorf("sun: %+v, want skipped on the NDEF check", c)
	}
}

// Wherever the tag leaves the reader, the check that saw it go fails, and every
// check after it is listed as skipped, naming that one: none is dropped.
func TestDiagnoseTagLeavesMidway(t *testing.T) {
	full := diagnose(t, emu.ACR122, genuine(t, uriMessage(t, paymentURL)), nfc.DiagnoseOptions{})
	seen := map[string]bool{}
	for n := 1; n < 40; n++ {
		b := newBench(t, emu.ACR122, genuine(t, uriMessage(t, paymentURL)), emu.Faults{RemoveAfter: n})
		checks := nfc.Diagnose(context.Background(), b.bus, nfc.DiagnoseOptions{})
		gone := ""
		for i, c := range checks {
			switch {
			case gone != "":
				if c.Status != nfc.StatusSkip || c.DependsOn != gone {
					t.Errorf("remove after %d: %s after the tag left during %s: %+v", n, c.Name, gone, c)
				}
			case c.Status == nfc.StatusFail && strings.Contains(c.Detail, "removed"):
				gone = c.Name
				seen[gone] = true
				// Before the tag is open there is nothing yet to examine.
				early := gone == nfc.CheckReader || gone == nfc.CheckATR || gone == nfc.CheckIC
				if !early && (len(checks) != len(full) || checks[i].Name != full[i].Name) {
					t.Errorf("remove after %d: %d checks, want all %d listed", n, len(checks), len(full))
				}
			}
		}
	}
	if len(seen) < 2 {
		t.Errorf("the tag left during %v only; the test should cover several checks", seen)
	}
}

// An IC without GET_VERSION is told apart by its CC alone: with the CC damaged the IC
// check says so, and the checks that do not read through the CC still run.
func TestDiagnoseBadCCWithoutGetVersion(t *testing.T) {
	img := image(t, nfc.TypeNTAG203, uriMessage(t, shortURL))
	img.Pages[3][0] = 0x42
	checks := diagnose(t, emu.ACR122, img, nfc.DiagnoseOptions{})
	if c := find(t, checks, nfc.CheckIC); c.Status != nfc.StatusWarn || !strings.Contains(c.Detail, "gives no GET_VERSION") || !strings.Contains(c.Detail, "capability container is damaged") {
		t.Errorf("IC: %s %s", c.Status, c.Detail)
	}
	if c := find(t, checks, nfc.CheckNDEF); c.Status != nfc.StatusSkip || c.DependsOn != nfc.CheckCC {
		t.Errorf("ndef: %+v", c)
	}
	for _, name := range []string{nfc.CheckUID, nfc.CheckLock, nfc.CheckPassword} {
		if c := find(t, checks, name); c.Status != nfc.StatusPass {
			t.Errorf("%s: %s %s", name, c.Status, c.Detail)
		}
	}
}
