package nfc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/emu"
)

var (
	metaKey   = bytes.Repeat([]byte{0x11}, 16)
	fileKey   = bytes.Repeat([]byte{0x22}, 16)
	masterKey = bytes.Repeat([]byte{0x33}, 16)
	zero16    = make([]byte, 16)
)

func plan424() nfc.SUNPlan {
	return nfc.SUNPlan{URL: "https://pay.example.com/s/7Hq2Kx9PzR", MetaKey: metaKey, FileKey: fileKey, AppMasterKey: masterKey}
}

func fresh424(t testing.TB, uid string) *nfc.Image {
	t.Helper()
	img, err := nfc.NewImage(nfc.TypeNTAG424DNA, unhex(t, uid), nil)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// keysOf is the emulated tag's keys as its image saves them.
func keysOf(t testing.TB, tag *emu.Tag) [][]byte {
	t.Helper()
	img := tag.Image()
	if img.DNA == nil {
		t.Fatal("image has no NTAG 424 DNA state")
	}
	var out [][]byte
	for _, k := range img.DNA.Keys {
		out = append(out, k.Key)
	}
	return out
}

// checkProvisioned proves the tag serves fresh, valid SUN URLs with the plan's keys,
// and holds the planned keys.
func checkProvisioned(t *testing.T, b *bench, plan nfc.SUNPlan, uid string) {
	t.Helper()
	keys := keysOf(t, b.tag)
	if !bytes.Equal(keys[0], plan.AppMasterKey) || !bytes.Equal(keys[2], plan.FileKey) || (!plan.Plain && !bytes.Equal(keys[1], plan.MetaKey)) {
		t.Fatalf("tag keys %X, want master %X meta %X file %X", keys, plan.AppMasterKey, plan.MetaKey, plan.FileKey)
	}
	var last uint32
	for tap := 0; tap < 2; tap++ {
		b.reinsert()
		tag, _ := b.open(t)
		u, err := tag.ReadSUNURL()
		if err != nil {
			t.Fatal(err)
		}
		res, err := nfc.VerifySUN(u, plan.MetaKey, plan.FileKey)
		if err != nil || !res.Valid || !bytes.Equal(res.UID, unhex(t, uid)) || res.Counter <= last {
			t.Fatalf("tap %d: %s verifies as %+v, %v (last counter %d)", tap, u, res, err, last)
		}
		if base, _, _ := strings.Cut(plan.URL, "{"); !strings.HasPrefix(u, base) {
			t.Fatalf("tap %d: URL %s does not start with %s", tap, u, base)
		}
		last = res.Counter
		// The file is no longer writable without key 0.
		if err := tag.WriteNDEF(uriMessage(t, "https://evil.example"), nfc.WriteOptions{}); err == nil {
			t.Fatal("a provisioned tag's NDEF file was writable without a key")
		}
	}
}

func TestProvisionSUN(t *testing.T) {
	cases := []struct {
		name string
		plan func() nfc.SUNPlan
	}{
		{"encrypted PICC data", plan424},
		{"plain mirroring", func() nfc.SUNPlan { p := plan424(); p.Plain, p.MetaKey = true, nil; return p }},
		{"encrypted file data", func() nfc.SUNPlan {
			p := plan424()
			p.URL, p.FileData = "https://pay.example.com/s?picc_data={picc}&enc={enc}&cmac={mac}", []byte("ref=7Hq2Kx9PzR..")
			return p
		}},
		{"other key numbers", func() nfc.SUNPlan { p := plan424(); p.MetaKeyNo, p.FileKeyNo = 3, 4; return p }},
	}
	for _, p := range personalities {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/%s", p, c.name), func(t *testing.T) {
				b := newBench(t, p, fresh424(t, "04DE5F1EACC040"), emu.Faults{})
				tag, _ := b.open(t)
				plan := c.plan()
				res, err := nfc.ProvisionSUN(tag, plan)
				if err != nil {
					t.Fatal(err)
				}
				if !res.SUN.Valid || !bytes.Equal(res.UID, unhex(t, "04DE5F1EACC040")) || res.Settings.SDM == nil {
					t.Fatalf("result %+v", res)
				}
				if c.plan().FileData != nil && string(res.SUN.FileData) != string(plan.FileData) {
					t.Errorf("file data read back %q, want %q", res.SUN.FileData, plan.FileData)
				}
				want := []byte{1, 2, 0}
				if plan.Plain {
					want = []byte{2, 0}
				}
				if plan.MetaKeyNo == 3 {
					want = []byte{3, 4, 0}
					plan.MetaKeyNo, plan.FileKeyNo = 0, 0
					keys := keysOf(t, b.tag)
					if !bytes.Equal(keys[3], metaKey) || !bytes.Equal(keys[4], fileKey) || !bytes.Equal(keys[1], zero16) {
						t.Fatalf("keys %X", keys)
					}
				} else {
					checkProvisioned(t, b, plan, "04DE5F1EACC040")
				}
				if !bytes.Equal(res.KeysChanged, want) || len(res.KeysAlready) != 0 {
					t.Errorf("keys changed %v, already %v; want changed %v", res.KeysChanged, res.KeysAlready, want)
				}
			})
		}
	}
}

// A second run on a provisioned tag changes nothing and still succeeds.
func TestProvisionSUNTwice(t *testing.T) {
	b := newBench(t, emu.Part3, fresh424(t, "04DE5F1EACC040"), emu.Faults{})
	tag, _ := b.open(t)
	if _, err := nfc.ProvisionSUN(tag, plan424()); err != nil {
		t.Fatal(err)
	}
	b.reinsert()
	tag, _ = b.open(t)
	res, err := nfc.ProvisionSUN(tag, plan424())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.KeysChanged) != 0 || !slices.Equal(res.KeysAlready, []byte{0, 1, 2}) {
		t.Errorf("second run: changed %v, already %v; want none changed, 0 1 2 already", res.KeysChanged, res.KeysAlready)
	}
	checkProvisioned(t, b, plan424(), "04DE5F1EACC040")
}

func TestProvisionSUNRefusesBadPlans(t *testing.T) {
	cases := []struct {
		name string
		edit func(*nfc.SUNPlan)
		want string
	}{
		{"short master key", func(p *nfc.SUNPlan) { p.AppMasterKey = []byte{1} }, "app master key is 1 bytes"},
		{"no meta key", func(p *nfc.SUNPlan) { p.MetaKey = nil }, "meta key is 0 bytes"},
		{"key 5", func(p *nfc.SUNPlan) { p.FileKeyNo = 5 }, "an NTAG 424 DNA has keys 0–4"},
		{"one slot, two keys", func(p *nfc.SUNPlan) { p.MetaKeyNo, p.FileKeyNo = 2, 2 }, "key 2 is asked to hold two different values"},
		{"no MAC placeholder", func(p *nfc.SUNPlan) { p.URL = "https://x.example/?e={picc}" }, "no {mac}"},
		{"too long", func(p *nfc.SUNPlan) { p.URL = "https://x.example/" + strings.Repeat("a", 250) }, "does not fit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBench(t, emu.ACR122, fresh424(t, "04DE5F1EACC040"), emu.Faults{})
			tag, cc := b.open(t)
			before := cc.APDUs()
			p := plan424()
			c.edit(&p)
			_, err := nfc.ProvisionSUN(tag, p)
			if !errors.Is(err, nfc.ErrSUNPlan) && !errors.Is(err, nfc.ErrTooLarge) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want ErrSUNPlan containing %q", err, c.want)
			}
			if cc.APDUs() != before {
				t.Errorf("a refused plan sent %d APDUs", cc.APDUs()-before)
			}
		})
	}
}

// The tag leaves at every APDU of the set-up in turn: the error names exactly the
// keys the tag now holds, and a second run with the same plan finishes the set-up.
func TestProvisionSUNTornAtEveryAPDU(t *testing.T) {
	const uid = "04DE5F1EACC040"
	clean := newBench(t, emu.ACR122, fresh424(t, uid), emu.Faults{})
	tag, cc := clean.open(t)
	opening := cc.APDUs()
	if _, err := nfc.ProvisionSUN(tag, plan424()); err != nil {
		t.Fatal(err)
	}
	total := cc.APDUs() - opening
	t.Logf("the set-up takes %d APDUs", total)
	targets := map[byte][]byte{0: masterKey, 1: metaKey, 2: fileKey}
	for k := 1; k < total; k++ {
		b := newBench(t, emu.ACR122, fresh424(t, uid), emu.Faults{RemoveAfter: opening + k})
		tag, _ := b.open(t)
		_, err := nfc.ProvisionSUN(tag, plan424())
		var pe *nfc.ProvisionError
		if !errors.As(err, &pe) || !errors.Is(err, nfc.ErrTagRemoved) || !errors.Is(err, nfc.ErrDevice) {
			t.Fatalf("removed after APDU %d of %d: %v, want a ProvisionError for a removed tag", k, total, err)
		}
		// A command whose answer was lost leaves its key in doubt: either value is right.
		keys := keysOf(t, b.tag)
		for no, want := range targets {
			if slices.Contains(pe.KeysInDoubt, no) {
				if !bytes.Equal(keys[no], want) && !bytes.Equal(keys[no], zero16) {
					t.Fatalf("removed after APDU %d: key %d in doubt holds %X", k, no, keys[no])
				}
				continue
			}
			changed := slices.Contains(pe.KeysChanged, no)
			if changed != bytes.Equal(keys[no], want) || (!changed && !bytes.Equal(keys[no], zero16)) {
				t.Fatalf("removed after APDU %d (%s): error says keys %v changed, tag holds %X", k, pe.Step, pe.KeysChanged, keys[:3])
			}
		}
		if len(pe.KeysInDoubt) > 1 || len(pe.KeysChanged)+len(pe.KeysInDoubt)+len(pe.KeysOld) != 3 {
			t.Fatalf("removed after APDU %d: changed %v, in doubt %v, old %v", k, pe.KeysChanged, pe.KeysInDoubt, pe.KeysOld)
		}
		var names []string
		for _, n := range pe.KeysChanged {
			names = append(names, fmt.Sprint(n))
		}
		if len(names) > 0 && !strings.Contains(err.Error(), "keys changed: "+strings.Join(names, ", ")) {
			t.Fatalf("message does not name the changed keys %v: %v", pe.KeysChanged, err)
		}
		b.reinsert()
		again, _ := b.open(t)
		res, err := nfc.ProvisionSUN(again, plan424())
		if err != nil {
			t.Fatalf("re-run after removal at APDU %d (%s): %v", k, pe.Step, err)
		}
		if !res.SUN.Valid {
			t.Fatalf("re-run after removal at APDU %d: %+v", k, res)
		}
		checkProvisioned(t, b, plan424(), uid)
	}
}

// Read_Sig under a session comes encrypted; both ways give a signature that verifies
// against NXP's P-224 key.
func TestReadSigVerifiesOriginality(t *testing.T) {
	img := fresh424(t, "0463474AA26A80")
	img.Signature = unhex(t, "27E9A50E6CA4BA9037C02F7D20A80D0284D0C1D83C67F5A5AC1D8A4EF86C9508417E4E9C6F85AA7920F0ABDED984CAF20467D66EA54BBF08")
	b := newBench(t, emu.Part3, img, emu.Faults{})
	tag, _ := b.open(t)
	plain, err := tag.ReadSig()
	if err != nil {
		t.Fatal(err)
	}
	if err := tag.AuthenticateEV2First(0, zero16); err != nil {
		t.Fatal(err)
	}
	full, err := tag.ReadSig()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain, img.Signature) || !bytes.Equal(full, img.Signature) {
		t.Fatalf("signature plain %X, full %X", plain, full)
	}
	if ok, err := nfc.VerifyOriginality(tag.Type, tag.UID, full); !ok || err != nil {
		t.Fatalf("VerifyOriginality = %v, %v", ok, err)
	}
}

// Every command of the secure channel against the emulator, one session.
func TestSecureChannelAgainstTheEmulator(t *testing.T) {
	b := newBench(t, emu.ACR122, fresh424(t, "04958CAA5C5E80"), emu.Faults{})
	tag, _ := b.open(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tag.SelectDNAApp())
	must(tag.AuthenticateEV2First(0, zero16))
	uid, err := tag.GetCardUID()
	must(err)
	if !bytes.Equal(uid, unhex(t, "04958CAA5C5E80")) {
		t.Fatalf("UID %X", uid)
	}
	fs, err := tag.GetFileSettings(3)
	must(err)
	if fs.CommMode != nfc.CommFull || fs.Access.Read != 2 || fs.Access.Write != 3 || fs.Size != 128 {
		t.Fatalf("file 3 settings %+v", fs)
	}
	// Let key 0 read and write file 3, then write and read it back in FULL mode.
	fs.Access = nfc.AccessRights{Read: 0, Write: 0, ReadWrite: 0, Change: 0}
	must(tag.ChangeFileSettings(3, fs))
	secret := []byte("the proprietary file, 128 bytes at most, encrypted on the way there and back.")
	must(tag.WriteData(3, 5, secret, nfc.CommFull))
	got, err := tag.ReadData(3, 5, len(secret), nfc.CommFull)
	must(err)
	if !bytes.Equal(got, secret) {
		t.Fatalf("read back %q", got)
	}
	// MAC mode on file 3.
	fs.CommMode = nfc.CommMAC
	must(tag.ChangeFileSettings(3, fs))
	must(tag.WriteData(3, 0, []byte("MAC"), nfc.CommMAC))
	got, err = tag.ReadData(3, 0, 3, nfc.CommMAC)
	must(err)
	if string(got) != "MAC" {
		t.Fatalf("MAC-mode read %q", got)
	}
	// Change key 4 and switch to it with NonFirst, keeping the counter.
	k4 := bytes.Repeat([]byte{0x44}, 16)
	must(tag.ChangeKey(4, zero16, k4, 7))
	v, err := tag.GetKeyVersion(4)
	must(err)
	if v != 7 {
		t.Fatalf("key 4 version %d, want 7", v)
	}
	must(tag.AuthenticateEV2NonFirst(4, k4))
	if n, ok := tag.Authenticated(); !ok || n != 4 {
		t.Fatalf("authenticated with %d %v, want 4", n, ok)
	}
	// Key 4 may not change keys: refused, and the session ends.
	err = tag.ChangeKey(1, zero16, k4, 1)
	if !errors.Is(err, nfc.ErrAuth) {
		t.Fatalf("ChangeKey under key 4: %v, want ErrAuth (permission denied)", err)
	}
	if _, ok := tag.Authenticated(); ok {
		t.Fatal("a refused command left the session open")
	}
	// A wrong old key is caught by the tag's CRC check.
	must(tag.AuthenticateEV2First(0, zero16))
	err = tag.ChangeKey(4, zero16, k4, 8)
	var se *nfc.DNAStatusError
	if !errors.As(err, &se) || se.Status != nfc.St424Integrity {
		t.Fatalf("ChangeKey with a wrong old key: %v, want 91 1E", err)
	}
	// Changing key 0 ends the session; the new key authenticates, the old does not.
	must(tag.AuthenticateEV2First(0, zero16))
	must(tag.ChangeKey(0, nil, masterKey, 1))
	if _, ok := tag.Authenticated(); ok {
		t.Fatal("session still open after changing its key")
	}
	if err := tag.AuthenticateEV2First(0, zero16); !errors.Is(err, nfc.ErrAuth) {
		t.Fatalf("old key 0: %v, want ErrAuth", err)
	}
	must(tag.AuthenticateEV2First(0, masterKey))
	img := b.tag.Image()
	if !bytes.Equal(img.DNA.Keys[0].Key, masterKey) || img.DNA.Keys[0].Version != 1 || !bytes.Equal(img.DNA.Keys[4].Key, k4) {
		t.Fatalf("saved keys %+v", img.DNA.Keys)
	}
}

// tag diagnose on a 424 DNA: SDM off on a fresh tag; on a provisioned one, what it
// mirrors and the SUN message checked with the keys.
func TestDiagnose424SDM(t *testing.T) {
	b := newBench(t, emu.ACR122, fresh424(t, "04DE5F1EACC040"), emu.Faults{})
	checks := nfc.Diagnose(context.Background(), b.bus, nfc.DiagnoseOptions{})
	if c := find(t, checks, nfc.CheckSDM); c.Status != nfc.StatusWarn || !strings.Contains(c.Detail, "SDM off") {
		t.Errorf("fresh tag: %s %s", c.Status, c.Detail)
	}
	tag, _ := b.open(t)
	if _, err := nfc.ProvisionSUN(tag, plan424()); err != nil {
		t.Fatal(err)
	}
	tag.Close()
	b.reinsert()
	checks = nfc.Diagnose(context.Background(), b.bus, nfc.DiagnoseOptions{MetaKey: metaKey, FileKey: fileKey})
	c := find(t, checks, nfc.CheckSDM)
	if c.Status != nfc.StatusPass || !strings.Contains(c.Detail, "PICC data (UID and read counter) encrypted with key 1") || !strings.Contains(c.Detail, "MAC with key 2") {
		t.Errorf("provisioned tag: %s %s", c.Status, c.Detail)
	}
	if c := find(t, checks, nfc.CheckSUN); c.Status != nfc.StatusPass {
		t.Errorf("SUN: %s %s", c.Status, c.Detail)
	}
	if c := find(t, checks, nfc.CheckSignature); c.Status != nfc.StatusFail {
		t.Errorf("an emulated tag's zero signature: %s %s", c.Status, c.Detail)
	}
}
