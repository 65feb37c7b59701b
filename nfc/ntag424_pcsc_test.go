//go:build cgo && !nopcsc

package nfc_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/emu"
)

// ProvisionSUN through the real pcscd: a clean run, then one the tag leaves in the
// middle of (after ChangeKey of key 1), finished by a second run.
func TestPCSCProvisionSUN(t *testing.T) {
	for _, removeAt := range []int{0, 9} {
		t.Run(fmt.Sprintf("removed after %d", removeAt), func(t *testing.T) { pcscProvision(t, removeAt) })
	}
}

func pcscProvision(t *testing.T, removeAt int) {
	{
		// Opening a Type 4 tag costs the same APDUs in memory as through pcscd.
		_, cc := newBench(t, emu.Part3, fresh424(t, "04DE5F1EACC040"), emu.Faults{}).open(t)
		f := emu.Faults{}
		if removeAt > 0 {
			f.RemoveAfter = cc.APDUs() + removeAt
		}
		b := newVPCDBench(t, emu.Part3, fresh424(t, "04DE5F1EACC040"), f)
		tag, _ := b.open(t)
		_, err := nfc.ProvisionSUN(tag, plan424())
		tag.Close()
		if removeAt > 0 {
			var pe *nfc.ProvisionError
			if !errors.As(err, &pe) || !errors.Is(err, nfc.ErrDevice) || !bytes.Equal(pe.KeysChanged, []byte{1}) {
				t.Fatalf("removed after APDU %d: %v, want a ProvisionError", removeAt, err)
			}
			t.Logf("removed after APDU %d: %v", removeAt, err)
			b.waitAbsent(t)
			b.insert(t, emu.Faults{})
			tag, _ = b.open(t)
			_, err = nfc.ProvisionSUN(tag, plan424())
			tag.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		keys := keysOf(t, b.tag)
		if !bytes.Equal(keys[0], masterKey) || !bytes.Equal(keys[1], metaKey) || !bytes.Equal(keys[2], fileKey) {
			t.Fatalf("keys %X", keys[:3])
		}
		tag, _ = b.open(t)
		u, err := tag.ReadSUNURL()
		tag.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res, err := nfc.VerifySUN(u, metaKey, fileKey); err != nil || !res.Valid {
			t.Fatalf("%s: %+v, %v", u, res, err)
		}
	}
}
