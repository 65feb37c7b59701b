package nfc_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/emu"
)

var passwordTypes = []nfc.TagType{nfc.TypeNTAG213, nfc.TypeNTAG215, nfc.TypeNTAG216, nfc.TypeUltralightEV1, ev1Large, nfc.TypeNTAG210, nfc.TypeNTAG212, nfc.TypeNTAGI2CPlus1K}

func TestProtectWriteUnprotect(t *testing.T) {
	pwd, pack := unhex(t, "CAFEF00D"), unhex(t, "1234")
	for _, p := range personalities {
		for _, typ := range passwordTypes {
			t.Run(fmt.Sprintf("%s/%s", p, typ), func(t *testing.T) {
				msg := uriMessage(t, shortURL)
				b := newBench(t, p, image(t, typ, msg), emu.Faults{})
				tag, _ := b.open(t)
				if err := tag.SetPassword(nfc.PasswordConfig{Password: pwd, PACK: pack, FromPage: 4, AuthLimit: 3}); err != nil {
					t.Fatalf("SetPassword: %v", err)
				}
				pw, err := tag.Password()
				if err != nil || !pw.Enabled || pw.FromPage != 4 || pw.AuthLimit != 3 || pw.ReadProtect {
					t.Fatalf("read back %+v, %v; want from page 4, AUTHLIM 3, writes only", pw, err)
				}
				lay, _ := layoutFor(typ)
				img := b.tag.Image()
				if !bytes.Equal(img.Pages[lay.PWD], pwd) || !bytes.Equal(img.Pages[lay.PACK][:2], pack) {
					t.Fatalf("tag holds PWD % X PACK % X", img.Pages[lay.PWD], img.Pages[lay.PACK])
				}
				tag.Close()

				b.reinsert()
				locked, _ := b.open(t)
				newMsg := uriMessage(t, "https://pay.example.com/t/n")
				err = locked.WriteNDEF(newMsg, nfc.WriteOptions{})
				if !errors.Is(err, nfc.ErrPasswordProtected) || !errors.Is(err, nfc.ErrDevice) {
					t.Fatalf("write without password: %v, want ErrPasswordProtected", err)
				}
				if !strings.Contains(err.Error(), "password-protected from page 4") {
					t.Errorf("message %q does not name the first protected page", err)
				}
				var torn *nfc.TornWriteError
				if errors.As(err, &torn) {
					t.Errorf("a refused first page is reported as a torn write: %v", err)
				}
				if got, err := locked.ReadNDEF(); err != nil || !bytes.Equal(got, msg) {
					t.Errorf("after the refused write the tag reads % X, %v", got, err)
				}
				locked.Close()

				b.reinsert()
				right, _ := b.open(t)
				if err := right.WriteNDEF(newMsg, nfc.WriteOptions{Password: pwd, PACK: pack}); err != nil {
					t.Fatalf("write with the password: %v", err)
				}
				if err := right.RemovePassword(); err != nil {
					t.Fatalf("RemovePassword: %v", err)
				}
				if pw, err := right.Password(); err != nil || pw.Enabled || pw.AuthLimit != 0 {
					t.Errorf("after RemovePassword: %+v, %v", pw, err)
				}
				right.Close()
				img = b.tag.Image()
				if !bytes.Equal(img.Pages[lay.PWD], unhex(t, "FFFFFFFF")) || !bytes.Equal(img.Pages[lay.PACK][:2], unhex(t, "0000")) {
					t.Errorf("after RemovePassword PWD % X PACK % X, want the factory FFFFFFFF and 0000", img.Pages[lay.PWD], img.Pages[lay.PACK])
				}

				b.reinsert()
				open, _ := b.open(t)
				if err := open.WriteNDEF(msg, nfc.WriteOptions{}); err != nil {
					t.Fatalf("write after unprotecting: %v", err)
				}
			})
		}
	}
}

func TestSetPasswordOnAProtectedTagNeedsThePassword(t *testing.T) {
	pwd, pack := unhex(t, "CAFEF00D"), unhex(t, "1234")
	b := newBench(t, emu.Part3, image(t, nfc.TypeNTAG213, nil), emu.Faults{})
	tag, _ := b.open(t)
	if err := tag.SetPassword(nfc.PasswordConfig{Password: pwd, PACK: pack, FromPage: 10}); err != nil {
		t.Fatal(err)
	}
	tag.Close()
	b.reinsert()
	again, _ := b.open(t)
	err := again.SetPassword(nfc.PasswordConfig{Password: unhex(t, "00000000"), PACK: pack, FromPage: 4})
	if !errors.Is(err, nfc.ErrPasswordProtected) || !strings.Contains(err.Error(), "from page 10") {
		t.Errorf("SetPassword without the old password: %v", err)
	}
	if err := again.RemovePassword(); !errors.Is(err, nfc.ErrPasswordProtected) {
		t.Errorf("RemovePassword without the password: %v", err)
	}
	if err := again.Lock(); !errors.Is(err, nfc.ErrPasswordProtected) {
		t.Errorf("Lock without the password: %v", err)
	}
	if cc := b.tag.Image().Pages[3]; cc[3] != 0x00 {
		t.Errorf("a refused lock changed the CC to % X", cc)
	}
	if err := again.Authenticate(pwd, pack); err != nil {
		t.Fatal(err)
	}
	if err := again.RemovePassword(); err != nil {
		t.Errorf("RemovePassword with the password: %v", err)
	}
}

func TestSetPasswordRefusesBadSettings(t *testing.T) {
	b := newBench(t, emu.ACR122, image(t, nfc.TypeNTAG213, nil), emu.Faults{})
	tag, _ := b.open(t)
	pwd, pack := unhex(t, "CAFEF00D"), unhex(t, "1234")
	for _, cfg := range []nfc.PasswordConfig{
		{Password: pwd, PACK: pack, FromPage: 4, AuthLimit: 8},
		{Password: pwd, PACK: pack, FromPage: 3},
		{Password: pwd, PACK: pack, FromPage: 45},
		{Password: pwd[:3], PACK: pack, FromPage: 4},
	} {
		if err := tag.SetPassword(cfg); err == nil {
			t.Errorf("SetPassword(%+v) accepted", cfg)
		}
	}
	if img := b.tag.Image(); img.Pages[41][3] != 0xFF {
		t.Errorf("refused settings changed AUTH0 to %02X", img.Pages[41][3])
	}
}

func TestWriteIntoAProtectedAreaPartWay(t *testing.T) {
	pwd, pack := unhex(t, "CAFEF00D"), unhex(t, "1234")
	b := newBench(t, emu.ACR122, image(t, nfc.TypeNTAG215, nil), emu.Faults{})
	tag, _ := b.open(t)
	if err := tag.SetPassword(nfc.PasswordConfig{Password: pwd, PACK: pack, FromPage: 8}); err != nil {
		t.Fatal(err)
	}
	tag.Close()
	b.reinsert()
	again, _ := b.open(t)
	before := b.tag.Image()
	err := again.WriteNDEF(uriMessage(t, paymentURL), nfc.WriteOptions{})
	var torn *nfc.TornWriteError
	if !errors.Is(err, nfc.ErrPasswordProtected) || errors.As(err, &torn) {
		t.Fatalf("write running into page 8: %v, want a refusal before anything is written", err)
	}
	if !strings.Contains(err.Error(), "password-protected from page 8: writing page 8 needs its password") {
		t.Errorf("message %q", err)
	}
	if after := b.tag.Image(); !slices.EqualFunc(after.Pages, before.Pages, func(a, b nfc.HexBytes) bool { return bytes.Equal(a, b) }) {
		t.Error("the refused write changed the tag")
	}
}

// A tag whose protection appears between the check and the write (another program
// set it meanwhile) still gives a torn write that names the password.
func TestWriteRefusedPartWayNamesThePassword(t *testing.T) {
	b := newBench(t, emu.ACR122, image(t, nfc.TypeNTAG215, nil), emu.Faults{})
	tag, _ := b.open(t)
	if _, err := tag.Password(); err != nil { // cached: the write will not look again
		t.Fatal(err)
	}
	other, _ := b.open(t)
	pwd, pack := unhex(t, "CAFEF00D"), unhex(t, "1234")
	if err := other.SetPassword(nfc.PasswordConfig{Password: pwd, PACK: pack, FromPage: 8}); err != nil {
		t.Fatal(err)
	}
	other.Close() // forgets the authentication
	err := tag.WriteNDEF(uriMessage(t, paymentURL), nfc.WriteOptions{})
	var torn *nfc.TornWriteError
	if !errors.As(err, &torn) || !errors.Is(err, nfc.ErrPasswordProtected) {
		t.Fatalf("write running into page 8: %v, want a torn write caused by the password", err)
	}
	if !slices.Equal(torn.PagesWritten, []int{4, 5, 6, 7}) || len(torn.PagesInDoubt) != 0 {
		t.Errorf("written %v, in doubt %v", torn.PagesWritten, torn.PagesInDoubt)
	}
	if !strings.Contains(err.Error(), "password-protected from page 8") {
		t.Errorf("message %q", err)
	}
}

func TestDumpOfAReadProtectedTag(t *testing.T) {
	pwd, pack := unhex(t, "CAFEF00D"), unhex(t, "1234")
	for _, p := range personalities {
		for _, from := range []int{4, 10, 41} { // 41 = CFG0 of an NTAG213: the configuration itself unreadable
			t.Run(fmt.Sprintf("%s/from-%d", p, from), func(t *testing.T) {
				b := newBench(t, p, image(t, nfc.TypeNTAG213, uriMessage(t, shortURL)), emu.Faults{})
				tag, _ := b.open(t)
				if err := tag.SetPassword(nfc.PasswordConfig{Password: pwd, PACK: pack, FromPage: from, ReadProtect: true}); err != nil {
					t.Fatal(err)
				}
				tag.Close()
				want := b.tag.Image()

				b.reinsert()
				locked, _ := b.open(t)
				img, err := locked.Dump()
				if err != nil {
					t.Fatalf("Dump: %v", err)
				}
				wantUnreadable := []int{}
				for p := from; p < 45; p++ {
					wantUnreadable = append(wantUnreadable, p)
				}
				if !slices.Equal(img.Unreadable, wantUnreadable) {
					t.Fatalf("unreadable %v, want pages %d-44", img.Unreadable, from)
				}
				for p := range 45 {
					wantPage := want.Pages[p]
					if p >= from || p == 43 || p == 44 {
						wantPage = make(nfc.HexBytes, 4) // unreadable, or PWD/PACK
					}
					if !bytes.Equal(img.Pages[p], wantPage) {
						t.Errorf("page %d = % X, want % X", p, img.Pages[p], wantPage)
					}
				}
				if err := img.Validate(); err != nil {
					t.Errorf("the partial dump does not validate: %v", err)
				}
				locked.Close()

				b.reinsert()
				right, _ := b.open(t)
				if err := right.Authenticate(pwd, pack); err != nil {
					t.Fatal(err)
				}
				full, err := right.Dump()
				if err != nil || len(full.Unreadable) != 0 {
					t.Fatalf("authenticated dump: unreadable %v, %v", full.Unreadable, err)
				}
				if !bytes.Equal(full.Pages[from], want.Pages[from]) {
					t.Errorf("authenticated dump page %d = % X, want % X", from, full.Pages[from], want.Pages[from])
				}
			})
		}
	}
}

func TestAuthLimitBlocksThePassword(t *testing.T) {
	pwd, pack := unhex(t, "CAFEF00D"), unhex(t, "1234")
	b := newBench(t, emu.Part3, image(t, nfc.TypeNTAG216, nil), emu.Faults{})
	tag, _ := b.open(t)
	if err := tag.SetPassword(nfc.PasswordConfig{Password: pwd, PACK: pack, FromPage: 4, AuthLimit: 2}); err != nil {
		t.Fatal(err)
	}
	tag.Close()
	for i := range 2 {
		b.reinsert()
		wrong, _ := b.open(t)
		if err := wrong.Authenticate(unhex(t, "00000000"), nil); !errors.Is(err, nfc.ErrAuth) {
			t.Fatalf("wrong password %d: %v, want ErrAuth", i+1, err)
		}
		wrong.Close()
	}
	b.reinsert()
	blocked, _ := b.open(t)
	err := blocked.Authenticate(pwd, pack)
	if !errors.Is(err, nfc.ErrAuth) || !strings.Contains(err.Error(), "blocked") {
		t.Fatalf("right password after AUTHLIM failures: %v, want a blocked-password error", err)
	}
	if err := blocked.WriteNDEF(uriMessage(t, shortURL), nfc.WriteOptions{}); !errors.Is(err, nfc.ErrPasswordProtected) {
		t.Errorf("write to a blocked tag: %v", err)
	}
}

func TestPackMismatchIsRefused(t *testing.T) {
	pwd, pack := unhex(t, "CAFEF00D"), unhex(t, "1234")
	b := newBench(t, emu.ACR122, image(t, nfc.TypeNTAG213, nil), emu.Faults{})
	tag, _ := b.open(t)
	if err := tag.SetPassword(nfc.PasswordConfig{Password: pwd, PACK: pack, FromPage: 4}); err != nil {
		t.Fatal(err)
	}
	tag.Close()
	b.reinsert()
	again, _ := b.open(t)
	err := again.WriteNDEF(uriMessage(t, shortURL), nfc.WriteOptions{Password: pwd, PACK: unhex(t, "9999")})
	if !errors.Is(err, nfc.ErrAuth) || !strings.Contains(err.Error(), "PACK 1234") {
		t.Errorf("write with a PACK that does not match: %v", err)
	}
}
