package nfc

import (
	"encoding/hex"
	"slices"
	"strings"
	"testing"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseATR(t *testing.T) {
	cases := []struct {
		name     string
		atr      string
		storage  bool
		std      byte
		cardName uint16
		iso4     bool
		hist     string
		err      string
	}{
		{name: "NTAG / Ultralight (PC/SC Part 3)", atr: "3B8F8001804F0CA0000003060300030000000068",
			storage: true, std: 0x03, cardName: 0x0003, hist: "804F0CA00000030603000300000000"},
		{name: "Ultralight EV1", atr: "3B8F8001804F0CA0000003060300" + "3D" + "0000000056",
			storage: true, std: 0x03, cardName: 0x003D, hist: "804F0CA00000030603003D00000000"},
		{name: "MIFARE Classic 1K", atr: "3B8F8001804F0CA000000306030001000000006A",
			storage: true, std: 0x03, cardName: 0x0001, hist: "804F0CA00000030603000100000000"},
		{name: "FeliCa", atr: "3B8F8001804F0CA000000306110003000000007A",
			storage: true, std: 0x11, cardName: 0x0003, hist: "804F0CA00000030611000300000000"},
		{name: "NTAG 424 DNA (ISO 14443-4)", atr: "3B8180018080", iso4: true, hist: "80"},
		{name: "T=0 only, no TCK", atr: "3B0211 22", iso4: true, hist: "1122"},
		{name: "empty", atr: "", err: "too short"},
		{name: "bad TS", atr: "3C8F8001", err: "want 3B or 3F"},
		{name: "wrong check byte", atr: "3B8F8001804F0CA0000003060300030000000069", err: "check byte"},
		{name: "truncated historical bytes", atr: "3B8F8001804F0CA000", err: "historical bytes"},
		{name: "truncated interface bytes", atr: "3B80", err: "interface bytes"},
		{name: "stray bytes", atr: "3B021122FF", err: "stray"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := ParseATR(mustHex(t, c.atr))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Storage != c.storage || a.Standard != c.std || a.CardName != c.cardName || a.ISO14443_4 != c.iso4 {
				t.Errorf("parsed %+v", a)
			}
			if got := strings.ToUpper(hex.EncodeToString(a.Historical)); got != c.hist {
				t.Errorf("historical bytes %s, want %s", got, c.hist)
			}
		})
	}
}

func TestATRNames(t *testing.T) {
	cases := map[uint16]string{
		0x0001: "MIFARE Classic 1K",
		0x0003: "MIFARE Ultralight / NTAG",
		0x003A: "MIFARE Ultralight C",
		0x00F0: "storage card 00F0",
	}
	for name, want := range cases {
		if got := (ATRInfo{Storage: true, CardName: name}).Name(); got != want {
			t.Errorf("card name %04X: %q, want %q", name, got, want)
		}
	}
}

func TestLayoutByVersion(t *testing.T) {
	cases := []struct {
		version string
		want    string
	}{
		{"0004040201000F03", "NTAG213"},
		{"0004040201001103", "NTAG215"},
		{"0004040201001303", "NTAG216"},
		{"0004040202001103", "NTAG215"}, // another production variant: subtype differs
		{"0004030101000B03", "MIFARE Ultralight EV1 (MF0UL11)"},
		{"0004030101000E03", "MIFARE Ultralight EV1 (MF0UL21)"},
		{"0005040201001103", ""}, // not NXP
		{"00040402010011", ""},   // short
	}
	for _, c := range cases {
		l, ok := layoutByVersion(mustHex(t, c.version))
		if ok != (c.want != "") || l.Name != c.want {
			t.Errorf("GET_VERSION %s: %q %v, want %q", c.version, l.Name, ok, c.want)
		}
	}
}

func TestLayoutsByCCListsWhatAProbeMustTellApart(t *testing.T) {
	ultralight := ATRInfo{Storage: true, CardName: 0x0003}
	var got []TagType
	for _, l := range layoutsByCC(ultralight, mustHex(t, "E1101200"), true) {
		got = append(got, l.Type)
	}
	if !slices.Equal(got, []TagType{TypeNTAG203, TypeUltralightC}) {
		t.Errorf("silent GET_VERSION, CC 12: %v, want ntag203 then ultralight_c", got)
	}
	got = nil
	for _, l := range layoutsByCC(ultralight, mustHex(t, "E1101200"), false) {
		got = append(got, l.Type)
	}
	if !slices.Equal(got, []TagType{TypeNTAG203, TypeNTAG213, TypeUltralightC}) {
		t.Errorf("no native channel, CC 12: %v", got)
	}
}

func TestLayoutByCC(t *testing.T) {
	ultralight := ATRInfo{Storage: true, CardName: 0x0003}
	cases := []struct {
		atr   ATRInfo
		cc    string
		asked bool // GET_VERSION went unanswered
		want  TagType
	}{
		{ultralight, "E1100600", true, TypeUltralight},
		{ultralight, "E1101200", true, TypeNTAG203}, // or an Ultralight C: probed
		{ATRInfo{Storage: true, CardName: 0x003A}, "E1101200", true, TypeUltralightC},
		{ultralight, "E1101200", false, TypeNTAG213},
		{ultralight, "E1103E00", false, TypeNTAG215},
		{ultralight, "E1106D00", false, TypeNTAG216},
		{ultralight, "E1100600", false, TypeUltralight},
		{ultralight, "E1103E00", true, ""}, // an NTAG215 would have answered
		{ATRInfo{Storage: true, CardName: 0x003A}, "00000000", false, TypeUltralightC},
		{ultralight, "00000000", true, ""},
		{ultralight, "E1107700", false, ""},
	}
	for _, c := range cases {
		l, ok := layoutByCC(c.atr, mustHex(t, c.cc), c.asked)
		if ok != (c.want != "") || l.Type != c.want {
			t.Errorf("CC %s, asked %v: %q %v, want %q", c.cc, c.asked, l.Type, ok, c.want)
		}
	}
}
