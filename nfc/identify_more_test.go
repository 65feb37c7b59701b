package nfc_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/emu"
)

// The other ICs field staff meet, each identified from its own facts: GET_VERSION
// for NTAG210/212 and the NTAG I2C family (whose 1K reports an NTAG216's size), and
// for the NTAG203 and Ultralight C, which do not answer it, the CC and the page where
// reads stop.
func TestOpenIdentifiesMoreICs(t *testing.T) {
	cases := []struct {
		typ      nfc.TagType
		name     string
		versions bool
		capacity int
	}{
		{nfc.TypeNTAG203, "NTAG203", false, 144},
		{nfc.TypeNTAG210, "NTAG210", true, 48},
		{nfc.TypeNTAG212, "NTAG212", true, 128},
		{nfc.TypeNTAGI2C1K, "NTAG I2C 1K (NT3H1101)", true, 872},
		{nfc.TypeNTAGI2C2K, "NTAG I2C 2K (NT3H1201)", true, 1008},
		{nfc.TypeNTAGI2CPlus1K, "NTAG I2C plus 1K (NT3H2111)", true, 872},
		{nfc.TypeNTAGI2CPlus2K, "NTAG I2C plus 2K (NT3H2211)", true, 1008},
		{nfc.TypeUltralightC, "MIFARE Ultralight C", false, 144},
	}
	for _, p := range personalities {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/%s", p, c.typ), func(t *testing.T) {
				msg := uriMessage(t, shortURL)
				b := newBench(t, p, image(t, c.typ, msg), emu.Faults{})
				tag, _ := b.open(t)
				if tag.Type != c.typ || tag.Name != c.name {
					t.Fatalf("identified as %s %q, want %s %q", tag.Type, tag.Name, c.typ, c.name)
				}
				if (tag.Version != nil) != c.versions {
					t.Errorf("version % X, want one: %v", tag.Version, c.versions)
				}
				info, err := tag.Info()
				if err != nil || info.Capacity != c.capacity {
					t.Fatalf("Info: capacity %v, %v; want %d", info, err, c.capacity)
				}
				if got, err := tag.ReadNDEF(); err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("ReadNDEF = % X, %v", got, err)
				}
				newMsg := uriMessage(t, "https://pay.example.com/t/other")
				if err := tag.WriteNDEF(newMsg, nfc.WriteOptions{}); err != nil {
					t.Fatalf("WriteNDEF: %v", err)
				}
				img, err := tag.Dump()
				if err != nil || len(img.Pages) != layoutPages(t, c.typ) || len(img.Unreadable) != 0 {
					t.Fatalf("Dump: %v", err)
				}
				if err := img.Validate(); err != nil {
					t.Errorf("the dump does not validate: %v", err)
				}
			})
		}
	}
}

func layoutPages(t *testing.T, typ nfc.TagType) int {
	l, ok := nfc.LayoutOf(typ)
	if !ok {
		t.Fatalf("no layout for %s", typ)
	}
	return l.Pages
}

// An NTAG I2C 2K keeps half its memory in sector 1, which plain READ and WRITE cannot
// reach: a message is held to sector 0.
func TestNTAGI2C2KStaysInSector0(t *testing.T) {
	b := newBench(t, emu.Part3, image(t, nfc.TypeNTAGI2C2K, nil), emu.Faults{})
	tag, _ := b.open(t)
	big := uriMessage(t, "https://pay.example.com/"+strings.Repeat("x", 1100))
	var tooLarge *nfc.TooLargeError
	if err := tag.WriteNDEF(big, nfc.WriteOptions{}); !errors.As(err, &tooLarge) || tooLarge.Max != 1003 {
		t.Fatalf("a message past sector 0: %v, want TooLargeError with 1003 bytes", err)
	}
	fits := uriMessage(t, "https://pay.example.com/"+strings.Repeat("x", 900))
	if err := tag.WriteNDEF(fits, nfc.WriteOptions{}); err != nil {
		t.Fatalf("a message inside sector 0: %v", err)
	}
}

func TestUltralightCAuthenticationIsUnsupported(t *testing.T) {
	b := newBench(t, emu.ACR122, image(t, nfc.TypeUltralightC, nil), emu.Faults{})
	tag, _ := b.open(t)
	for what, err := range map[string]error{
		"Authenticate": tag.Authenticate(unhex(t, "11223344"), nil),
		"SetPassword":  tag.SetPassword(nfc.PasswordConfig{Password: unhex(t, "11223344"), PACK: unhex(t, "0000"), FromPage: 4}),
	} {
		if !errors.Is(err, nfc.ErrUnsupported) || !strings.Contains(err.Error(), "3DES") {
			t.Errorf("%s on an Ultralight C: %v, want ErrUnsupported naming 3DES", what, err)
		}
	}
}

func TestLayoutByVersionTellsNTAGI2CFromNTAG216(t *testing.T) {
	for v, want := range map[string]nfc.TagType{
		"0004040201001303": nfc.TypeNTAG216,
		"0004040502011303": nfc.TypeNTAGI2C1K,
		"0004040502021303": nfc.TypeNTAGI2CPlus1K,
		"0004040502011503": nfc.TypeNTAGI2C2K,
		"0004040502021503": nfc.TypeNTAGI2CPlus2K,
		"0004040101000B03": nfc.TypeNTAG210,
		"0004040101000E03": nfc.TypeNTAG212,
		"0004040401000F03": nfc.TypeNTAG213, // NTAG213F: another subtype, same IC map
	} {
		b := newBench(t, emu.ACR122, versioned(t, want, v), emu.Faults{})
		tag, _ := b.open(t)
		if tag.Type != want {
			t.Errorf("GET_VERSION %s: %s, want %s", v, tag.Type, want)
		}
	}
}

func versioned(t *testing.T, typ nfc.TagType, version string) *nfc.Image {
	img := image(t, typ, nil)
	img.Version = unhex(t, version)
	return img
}
