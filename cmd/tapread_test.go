package cmd

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/ndef"
)

func TestReadTapFromImage(t *testing.T) {
	const url = "https://tagpay.example/t/ABCDEFGHJK?s=0123456789abcdef"
	uid, _ := hex.DecodeString("04A1B2C3D4E5F6")
	uriMsg, err := ndef.Encode(ndef.Message{ndef.NewURI(url)})
	if err != nil {
		t.Fatal(err)
	}
	text, err := ndef.NewText("hello", "en")
	if err != nil {
		t.Fatal(err)
	}
	textMsg, err := ndef.Encode(ndef.Message{text})
	if err != nil {
		t.Fatal(err)
	}
	image := func(typ nfc.TagType, msg []byte, flipper bool) string {
		img, err := nfc.NewImage(typ, uid, msg)
		if err != nil {
			t.Fatal(err)
		}
		format, name := nfc.FormatImageJSON, "tag.json"
		if flipper {
			format, name = nfc.FormatFlipper, "tag.nfc"
		}
		raw, err := format(img)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Run("NTAG213 JSON image", func(t *testing.T) {
		tap, err := readTapFromImage(image(nfc.TypeNTAG213, uriMsg, false))
		if err != nil {
			t.Fatal(err)
		}
		if tap.UID != "04A1B2C3D4E5F6" || tap.Content != url {
			t.Errorf("tap = %+v, want UID 04A1B2C3D4E5F6 and %s", tap, url)
		}
	})
	t.Run("Flipper file", func(t *testing.T) {
		tap, err := readTapFromImage(image(nfc.TypeNTAG215, uriMsg, true))
		if err != nil {
			t.Fatal(err)
		}
		if tap.Content != url {
			t.Errorf("content = %q, want %q", tap.Content, url)
		}
	})
	t.Run("NTAG 424 DNA image with a static NDEF file", func(t *testing.T) {
		tap, err := readTapFromImage(image(nfc.TypeNTAG424DNA, uriMsg, false))
		if err != nil {
			t.Fatal(err)
		}
		if tap.Content != url {
			t.Errorf("content = %q, want %q", tap.Content, url)
		}
	})
	t.Run("a tag without a URI is a tag problem", func(t *testing.T) {
		_, err := readTapFromImage(image(nfc.TypeNTAG213, textMsg, false))
		if !errors.Is(err, nfc.ErrDevice) || ExitCode(err) != ExitDevice {
			t.Errorf("err = %v (exit %d), want a tag problem (exit %d)", err, ExitCode(err), ExitDevice)
		}
	})
	t.Run("a missing or malformed file is a usage error", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.json")
		os.WriteFile(bad, []byte(`{"type": "ntag213", "uid": "zz"}`), 0o600)
		for _, path := range []string{filepath.Join(t.TempDir(), "missing.json"), bad} {
			if _, err := readTapFromImage(path); ExitCode(err) != ExitUsage {
				t.Errorf("%s: err = %v (exit %d), want a usage error", filepath.Base(path), err, ExitCode(err))
			}
		}
	})
}
