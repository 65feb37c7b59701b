package nfc

import (
	"bytes"
	"testing"
)

func TestLayoutFacts(t *testing.T) {
	tests := []struct {
		name                          string
		lay                           func() (Layout, bool)
		pages, userPages              int
		cc                            string
		dynLock, cfg0, cfg1, pwd, pak int
		version                       string
	}{
		{"NTAG213", func() (Layout, bool) { return LayoutOf(TypeNTAG213) }, 45, 36, "E1101200", 40, 41, 42, 43, 44, "0004040201000F03"},
		{"NTAG215", func() (Layout, bool) { return LayoutOf(TypeNTAG215) }, 135, 126, "E1103E00", 130, 131, 132, 133, 134, "0004040201001103"},
		{"NTAG216", func() (Layout, bool) { return LayoutOf(TypeNTAG216) }, 231, 222, "E1106D00", 226, 227, 228, 229, 230, "0004040201001303"},
		{"Ultralight", func() (Layout, bool) { return LayoutOf(TypeUltralight) }, 16, 12, "E1100600", -1, -1, -1, -1, -1, ""},
		{"Ultralight EV1 default is MF0UL11", func() (Layout, bool) { return LayoutOf(TypeUltralightEV1) }, 20, 12, "E1100600", -1, 16, 17, 18, 19, "0004030101000B03"},
		{"MF0UL21 by pages", func() (Layout, bool) { return LayoutByPages(TypeUltralightEV1, 41) }, 41, 32, "E1101000", 36, 37, 38, 39, 40, "0004030101000E03"},
		{"Ultralight C", func() (Layout, bool) { return LayoutOf(TypeUltralightC) }, 48, 36, "E1101200", 40, -1, -1, -1, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, ok := tt.lay()
			if !ok {
				t.Fatal("no layout")
			}
			got := []int{l.Pages, l.UserStart, l.UserPages, l.DynLock, l.CFG0, l.CFG1, l.PWD, l.PACK}
			want := []int{tt.pages, 4, tt.userPages, tt.dynLock, tt.cfg0, tt.cfg1, tt.pwd, tt.pak}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("pages/user start/user pages/dynlock/cfg0/cfg1/pwd/pack = %v, want %v", got, want)
				}
			}
			if !bytes.Equal(l.CC[:], unhex(t, tt.cc)) {
				t.Errorf("CC = %X, want %s", l.CC, tt.cc)
			}
			if !bytes.Equal(l.Version, unhex(t, tt.version)) {
				t.Errorf("Version = %X, want %s", l.Version, tt.version)
			}
			// User memory ends before the first page that is not user memory.
			end := l.Pages
			for _, p := range []int{l.DynLock, l.CFG0, l.Auth0Page} {
				if p >= 0 && p < end {
					end = p
				}
			}
			if l.UserStart+l.UserPages != end {
				t.Errorf("user memory %d..%d does not end where the configuration starts (%d)", l.UserStart, l.UserStart+l.UserPages-1, end)
			}
			// The CC announces no more data area than there is (8-byte units).
			if int(l.CC[2])*8 > l.UserBytes() {
				t.Errorf("CC announces %d bytes, user memory has %d", int(l.CC[2])*8, l.UserBytes())
			}
		})
	}
}

func TestLayoutAuth0(t *testing.T) {
	for _, l := range Layouts() {
		switch {
		case l.CFG0 >= 0 && (l.Auth0Page != l.CFG0 || l.Auth0Byte != 3):
			t.Errorf("%s: AUTH0 at page %d byte %d, want CFG0 (%d) byte 3", l.Name, l.Auth0Page, l.Auth0Byte, l.CFG0)
		case l.Type == TypeUltralightC && (l.Auth0Page != 42 || l.Auth0Byte != 0):
			t.Errorf("%s: AUTH0 at page %d byte %d, want 42 byte 0", l.Name, l.Auth0Page, l.Auth0Byte)
		case l.Type == TypeUltralight && l.Auth0Page != -1:
			t.Errorf("%s has no AUTH0, got page %d", l.Name, l.Auth0Page)
		}
	}
}

func TestLayoutLookups(t *testing.T) {
	if _, ok := LayoutOf(TypeNTAG424DNA); ok {
		t.Error("LayoutOf(ntag424dna) found a Type 2 layout")
	}
	if _, ok := LayoutOf(TypeMifareClassic); ok {
		t.Error("LayoutOf(mifare_classic) found a layout")
	}
	for _, want := range Layouts() {
		if want.Version == nil {
			continue
		}
		got, ok := LayoutByVersion(want.Version)
		if !ok || got.Name != want.Name {
			t.Errorf("LayoutByVersion(%X) = %q, %v; want %q", want.Version, got.Name, ok, want.Name)
		}
	}
	if _, ok := LayoutByVersion(unhex(t, "0004040201001503")); ok {
		t.Error("LayoutByVersion found an IC for an unknown storage size")
	}
	if _, ok := LayoutByPages(TypeUltralightEV1, 30); ok {
		t.Error("LayoutByPages found an EV1 with 30 pages")
	}
	l, _ := LayoutOf(TypeNTAG213)
	l.Version[0] = 0xEE
	if again, _ := LayoutOf(TypeNTAG213); again.Version[0] != 0x00 {
		t.Error("changing a returned layout changed the table")
	}
}
