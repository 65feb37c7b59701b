package nfc

import "bytes"

// Layout is the memory map of one NFC Forum Type 2 IC, from its data sheet. Pages are
// 4 bytes. A page number of -1 means the IC has no such page.
//
// Pages 0–2 hold the 7-byte UID and its check bytes (UID0 UID1 UID2 BCC0, UID3..UID6,
// BCC1 internal LOCK0 LOCK1) and page 3 the capability container, on every IC here.
// On NTAG21x and Ultralight EV1, CFG0 byte 3 is AUTH0 (first page that needs the
// password; past the last page = none) and CFG1 byte 0 bit 7 is PROT (the password
// guards reads too, not only writes). PWD and PACK read back as zeros.
type Layout struct {
	Type    TagType
	Name    string // data sheet name, e.g. "NTAG215", "MIFARE Ultralight EV1 (MF0UL21)"
	Flipper string // Flipper Zero's name for the IC ("NTAG/Ultralight type")

	Pages     int // total pages, including configuration
	UserStart int // first page of user memory (always 4)
	UserPages int // pages of user memory; UserPages*4 bytes hold the NDEF TLV
	CC        [4]byte

	DynLock int // dynamic lock bytes
	CFG0    int // MIRROR/MOD, AUTH0 in byte 3
	CFG1    int // ACCESS (PROT in bit 7 of byte 0)
	PWD     int // 32-bit password, write-only
	PACK    int // password acknowledge in bytes 0–1, write-only

	// Where AUTH0 lives: CFG0 byte 3 on NTAG21x and Ultralight EV1, page 42 byte 0 on
	// Ultralight C (3DES authentication). Auth0Page is -1 on ICs without protection.
	Auth0Page, Auth0Byte int

	Version []byte // GET_VERSION reply; nil when the IC does not answer it

	// TotalUserBytes is the user memory of every sector, when some of it lies past
	// sector 0 (NTAG I2C 2K), which READ and WRITE without SECTOR_SELECT cannot
	// reach: tagpay uses sector 0 only. 0 means all of it is in UserPages.
	TotalUserBytes int
}

// UserBytes is the size of the user memory tagpay reaches, in bytes.
func (l Layout) UserBytes() int { return l.UserPages * 4 }

// AllUserBytes is the IC's whole user memory, in every sector.
func (l Layout) AllUserBytes() int { return max(l.TotalUserBytes, l.UserBytes()) }

// layouts holds every Type 2 IC tagpay knows. The first entry of a TagType is what
// LayoutOf returns for it.
var layouts = []Layout{
	{
		Type: TypeNTAG213, Name: "NTAG213", Flipper: "NTAG213",
		Pages: 45, UserStart: 4, UserPages: 36, CC: [4]byte{0xE1, 0x10, 0x12, 0x00},
		DynLock: 40, CFG0: 41, CFG1: 42, PWD: 43, PACK: 44, Auth0Page: 41, Auth0Byte: 3,
		Version: []byte{0x00, 0x04, 0x04, 0x02, 0x01, 0x00, 0x0F, 0x03},
	},
	{
		Type: TypeNTAG215, Name: "NTAG215", Flipper: "NTAG215",
		Pages: 135, UserStart: 4, UserPages: 126, CC: [4]byte{0xE1, 0x10, 0x3E, 0x00},
		DynLock: 130, CFG0: 131, CFG1: 132, PWD: 133, PACK: 134, Auth0Page: 131, Auth0Byte: 3,
		Version: []byte{0x00, 0x04, 0x04, 0x02, 0x01, 0x00, 0x11, 0x03},
	},
	{
		Type: TypeNTAG216, Name: "NTAG216", Flipper: "NTAG216",
		Pages: 231, UserStart: 4, UserPages: 222, CC: [4]byte{0xE1, 0x10, 0x6D, 0x00},
		DynLock: 226, CFG0: 227, CFG1: 228, PWD: 229, PACK: 230, Auth0Page: 227, Auth0Byte: 3,
		Version: []byte{0x00, 0x04, 0x04, 0x02, 0x01, 0x00, 0x13, 0x03},
	},
	{
		// MF0ICU1: no GET_VERSION, no configuration pages, no protection.
		Type: TypeUltralight, Name: "MIFARE Ultralight", Flipper: "Mifare Ultralight",
		Pages: 16, UserStart: 4, UserPages: 12, CC: [4]byte{0xE1, 0x10, 0x06, 0x00},
		DynLock: -1, CFG0: -1, CFG1: -1, PWD: -1, PACK: -1, Auth0Page: -1,
	},
	{
		Type: TypeUltralightEV1, Name: "MIFARE Ultralight EV1 (MF0UL11)", Flipper: "Mifare Ultralight 11",
		Pages: 20, UserStart: 4, UserPages: 12, CC: [4]byte{0xE1, 0x10, 0x06, 0x00},
		DynLock: -1, CFG0: 16, CFG1: 17, PWD: 18, PACK: 19, Auth0Page: 16, Auth0Byte: 3,
		Version: []byte{0x00, 0x04, 0x03, 0x01, 0x01, 0x00, 0x0B, 0x03},
	},
	{
		Type: TypeUltralightEV1, Name: "MIFARE Ultralight EV1 (MF0UL21)", Flipper: "Mifare Ultralight 21",
		Pages: 41, UserStart: 4, UserPages: 32, CC: [4]byte{0xE1, 0x10, 0x10, 0x00},
		DynLock: 36, CFG0: 37, CFG1: 38, PWD: 39, PACK: 40, Auth0Page: 37, Auth0Byte: 3,
		Version: []byte{0x00, 0x04, 0x03, 0x01, 0x01, 0x00, 0x0E, 0x03},
	},
	{
		// MF0ICU2: dynamic lock page 40, 16-bit counter page 41, AUTH0 page 42 byte 0,
		// AUTH1 page 43 byte 0, 3DES key pages 44–47 (never readable).
		Type: TypeUltralightC, Name: "MIFARE Ultralight C", Flipper: "Mifare Ultralight C",
		Pages: 48, UserStart: 4, UserPages: 36, CC: [4]byte{0xE1, 0x10, 0x12, 0x00},
		DynLock: 40, CFG0: -1, CFG1: -1, PWD: -1, PACK: -1, Auth0Page: 42, Auth0Byte: 0,
	},
	{
		// NTAG203: no GET_VERSION, no protection; dynamic lock page 40, a 16-bit
		// one-way counter on page 41, the last.
		Type: TypeNTAG203, Name: "NTAG203", Flipper: "NTAG203",
		Pages: 42, UserStart: 4, UserPages: 36, CC: [4]byte{0xE1, 0x10, 0x12, 0x00},
		DynLock: 40, CFG0: -1, CFG1: -1, PWD: -1, PACK: -1, Auth0Page: -1,
	},
	{
		// NTAG210: the MF0UL11 map under an NTAG product type; no dynamic lock.
		Type: TypeNTAG210, Name: "NTAG210", Flipper: "NTAG210",
		Pages: 20, UserStart: 4, UserPages: 12, CC: [4]byte{0xE1, 0x10, 0x06, 0x00},
		DynLock: -1, CFG0: 16, CFG1: 17, PWD: 18, PACK: 19, Auth0Page: 16, Auth0Byte: 3,
		Version: []byte{0x00, 0x04, 0x04, 0x01, 0x01, 0x00, 0x0B, 0x03},
	},
	{
		Type: TypeNTAG212, Name: "NTAG212", Flipper: "NTAG212",
		Pages: 41, UserStart: 4, UserPages: 32, CC: [4]byte{0xE1, 0x10, 0x10, 0x00},
		DynLock: 36, CFG0: 37, CFG1: 38, PWD: 39, PACK: 40, Auth0Page: 37, Auth0Byte: 3,
		Version: []byte{0x00, 0x04, 0x04, 0x01, 0x01, 0x00, 0x0E, 0x03},
	},
	{
		// NT3H1101, sector 0: user memory 04h-E1h, dynamic lock E2h, E3h-E7h
		// reserved, the configuration registers at E8h-E9h, nothing after.
		Type: TypeNTAGI2C1K, Name: "NTAG I2C 1K (NT3H1101)", Flipper: "NTAG I2C 1K",
		Pages: 234, UserStart: 4, UserPages: 222, CC: [4]byte{0xE1, 0x10, 0x6D, 0x00},
		DynLock: 226, CFG0: -1, CFG1: -1, PWD: -1, PACK: -1, Auth0Page: -1,
		Version: []byte{0x00, 0x04, 0x04, 0x05, 0x02, 0x01, 0x13, 0x03},
	},
	{
		// NT3H1201: sector 0 is header and user memory to page FFh; the rest of its
		// 1904 bytes, and its lock and configuration pages, lie in sector 1.
		Type: TypeNTAGI2C2K, Name: "NTAG I2C 2K (NT3H1201)", Flipper: "NTAG I2C 2K",
		Pages: 256, UserStart: 4, UserPages: 252, CC: [4]byte{0xE1, 0x10, 0xEA, 0x00},
		DynLock: -1, CFG0: -1, CFG1: -1, PWD: -1, PACK: -1, Auth0Page: -1,
		Version:        []byte{0x00, 0x04, 0x04, 0x05, 0x02, 0x01, 0x15, 0x03},
		TotalUserBytes: 1904,
	},
	{
		// NT3H2111: as the NT3H1101, with AUTH0 (E3h byte 3), ACCESS (E4h), PWD (E5h)
		// and PACK (E6h) in the reserved pages, and PT_I2C at E7h.
		Type: TypeNTAGI2CPlus1K, Name: "NTAG I2C plus 1K (NT3H2111)", Flipper: "NTAG I2C Plus 1K",
		Pages: 234, UserStart: 4, UserPages: 222, CC: [4]byte{0xE1, 0x10, 0x6D, 0x00},
		DynLock: 226, CFG0: 227, CFG1: 228, PWD: 229, PACK: 230, Auth0Page: 227, Auth0Byte: 3,
		Version: []byte{0x00, 0x04, 0x04, 0x05, 0x02, 0x02, 0x13, 0x03},
	},
	{
		// NT3H2211: sector 0 as the NT3H1201's; its password configuration lies in
		// sector 1, out of reach.
		Type: TypeNTAGI2CPlus2K, Name: "NTAG I2C plus 2K (NT3H2211)", Flipper: "NTAG I2C Plus 2K",
		Pages: 256, UserStart: 4, UserPages: 252, CC: [4]byte{0xE1, 0x10, 0xEA, 0x00},
		DynLock: -1, CFG0: -1, CFG1: -1, PWD: -1, PACK: -1, Auth0Page: -1,
		Version:        []byte{0x00, 0x04, 0x04, 0x05, 0x02, 0x02, 0x15, 0x03},
		TotalUserBytes: 1904,
	},
}

// LayoutOf returns the memory map of a Type 2 IC. For TypeUltralightEV1, which comes
// in two sizes, it returns the smaller MF0UL11; use LayoutByVersion or LayoutByPages
// to tell them apart. It reports false for ICs that are not Type 2 tags.
func LayoutOf(t TagType) (Layout, bool) {
	for _, l := range layouts {
		if l.Type == t {
			return l.clone(), true
		}
	}
	return Layout{}, false
}

// LayoutByVersion returns the memory map of the IC whose GET_VERSION reply is v.
func LayoutByVersion(v []byte) (Layout, bool) {
	for _, l := range layouts {
		if l.Version != nil && bytes.Equal(l.Version, v) {
			return l.clone(), true
		}
	}
	return Layout{}, false
}

// LayoutByPages returns the memory map of the IC of type t with the given number of
// pages: how an image or a dump tells MF0UL11 from MF0UL21.
func LayoutByPages(t TagType, pages int) (Layout, bool) {
	for _, l := range layouts {
		if l.Type == t && l.Pages == pages {
			return l.clone(), true
		}
	}
	return Layout{}, false
}

// Layouts lists every known Type 2 IC, smallest first within a type.
func Layouts() []Layout {
	out := make([]Layout, len(layouts))
	for i, l := range layouts {
		out[i] = l.clone()
	}
	return out
}

// clone keeps callers from changing the table through the Version slice.
func (l Layout) clone() Layout {
	l.Version = bytes.Clone(l.Version)
	return l
}
