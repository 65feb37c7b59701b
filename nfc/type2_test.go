package nfc

import (
	"errors"
	"fmt"
	"testing"
)

// sliceSource serves a data area from memory and counts the bytes asked for.
func sliceSource(area []byte) byteSource {
	return func(off, n int) ([]byte, error) {
		if off < 0 || off+n > len(area) {
			return nil, fmt.Errorf("read %d+%d outside %d bytes", off, n, len(area))
		}
		return area[off : off+n], nil
	}
}

func TestScanTLVs(t *testing.T) {
	cases := []struct {
		name    string
		area    string
		found   bool
		offset  int
		header  int
		length  int
		damaged bool
	}{
		{name: "NDEF first", area: "0303D00000FE0000", found: true, offset: 0, header: 2, length: 3},
		{name: "after NULL TLVs", area: "00000303D00000FE", found: true, offset: 2, header: 2, length: 3},
		{name: "after a lock control TLV", area: "0103A0100403 03D00000FE000000", found: true, offset: 5, header: 2, length: 3},
		{name: "three-byte length", area: "03FF0004 D0000000 FE000000", found: true, offset: 0, header: 4, length: 4},
		{name: "empty NDEF", area: "0300FE00", found: true, offset: 0, header: 2, length: 0},
		{name: "terminator only", area: "FE000000"},
		{name: "all zero", area: "00000000"},
		{name: "length past the area", area: "0310D000", damaged: true},
		{name: "three-byte length past the area", area: "03FF0100D0000000", damaged: true},
		{name: "length cut by the end", area: "000003", damaged: true},
		{name: "not a TLV", area: "42000000", damaged: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			area := mustHex(t, c.area)
			s, err := scanTLVs(sliceSource(area), len(area))
			if c.damaged {
				if !errors.Is(err, ErrTagDamaged) {
					t.Errorf("err = %v, want ErrTagDamaged", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tlvScan{found: c.found, offset: c.offset, header: c.header, length: c.length}
			if s != want {
				t.Errorf("scan %+v, want %+v", s, want)
			}
		})
	}
}

func TestMaxMessage(t *testing.T) {
	cases := []struct{ area, want int }{
		{48, 45},   // Ultralight: 03 L msg FE
		{144, 141}, // NTAG213
		{257, 254}, // the largest one-byte length
		{258, 254},
		{260, 255}, // three-byte length from 255 bytes on
		{496, 491}, // NTAG215
		{872, 867}, // NTAG216
		{2, 0},
	}
	for _, c := range cases {
		got := maxMessage(c.area)
		if got != c.want {
			t.Errorf("maxMessage(%d) = %d, want %d", c.area, got, c.want)
		}
		// The bound is tight: a message of that size fits, one byte more does not.
		if c.area >= 3 && len(NDEFTLV(make([]byte, got))) > c.area {
			t.Errorf("area %d: a %d-byte message needs %d bytes", c.area, got, len(NDEFTLV(make([]byte, got))))
		}
		if c.area >= 3 && len(NDEFTLV(make([]byte, got+1))) <= c.area {
			t.Errorf("area %d: a %d-byte message would still fit", c.area, got+1)
		}
	}
}

func TestPageList(t *testing.T) {
	cases := []struct {
		pages []int
		want  string
	}{
		{nil, ""},
		{[]int{4}, "4"},
		{[]int{4, 5, 6}, "4-6"},
		{[]int{3, 4, 5, 4}, "3-5, 4"},
		{[]int{4, 6}, "4, 6"},
	}
	for _, c := range cases {
		if got := pageList(c.pages); got != c.want {
			t.Errorf("pageList(%v) = %q, want %q", c.pages, got, c.want)
		}
	}
}

func TestPageCacheIgnoresRollover(t *testing.T) {
	var c pageCache
	c.limit(16)
	// A 16-byte READ of page 14 on a 16-page IC returns pages 14, 15, 0, 1.
	c.put(14, mustHex(t, "0E0E0E0E 0F0F0F0F 00000000 01010101"))
	if _, ok := c.get(14, 2); !ok {
		t.Error("pages 14-15 not cached")
	}
	if _, ok := c.get(0, 1); ok {
		t.Error("rolled-over page 0 was cached as page 0's content from page 16")
	}
	c.forget(15, -1, 99)
	if _, ok := c.get(15, 1); ok {
		t.Error("page 15 still cached after forget")
	}
}
