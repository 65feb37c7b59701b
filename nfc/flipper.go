package nfc

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Flipper Zero .nfc files, as field staff carry them. Version 4 files name the
// family in "Device type: NTAG/Ultralight" and the IC in "NTAG/Ultralight type:";
// versions 2 and 3 put the IC in "Device type:" itself. Both are read; version 4 is
// written.
const (
	flipperFiletype  = "Flipper NFC device"
	flipperFamily    = "NTAG/Ultralight"
	flipperVersion   = 4
	flipperUIDLength = 7
)

// flipperLine is one "key: value" line and where it was.
type flipperLine struct {
	n          int
	key, value string
}

// ParseFlipper reads a Flipper .nfc file of an NTAG21x or MIFARE Ultralight tag.
// Errors name the line. A file with fewer pages read than the IC has is refused: the
// missing pages (often the configuration) cannot be guessed.
func ParseFlipper(b []byte) (*Image, error) {
	fields := map[string]flipperLine{}
	pages := map[int]flipperLine{}
	for i, raw := range strings.Split(string(b), "\n") {
		n := i + 1
		line := strings.TrimRight(raw, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("flipper file line %d: %q is not a \"key: value\" line", n, line)
		}
		l := flipperLine{n: n, key: key, value: strings.TrimSpace(value)}
		if num, isPage := strings.CutPrefix(key, "Page "); isPage {
			p, err := strconv.Atoi(num)
			if err != nil || p < 0 {
				return nil, fmt.Errorf("flipper file line %d: %q is not a page number", n, num)
			}
			if prev, dup := pages[p]; dup {
				return nil, fmt.Errorf("flipper file line %d: page %d given again (first on line %d)", n, p, prev.n)
			}
			pages[p] = l
			continue
		}
		if prev, dup := fields[key]; dup {
			return nil, fmt.Errorf("flipper file line %d: %s given again (first on line %d)", n, key, prev.n)
		}
		fields[key] = l
	}

	ft, ok := fields["Filetype"]
	if !ok {
		return nil, fmt.Errorf("flipper file: no Filetype line; not a Flipper NFC file")
	}
	if ft.value != flipperFiletype {
		return nil, fmt.Errorf("flipper file line %d: Filetype is %q, want %q", ft.n, ft.value, flipperFiletype)
	}
	if v, ok := fields["Version"]; ok {
		ver, err := strconv.Atoi(v.value)
		if err != nil || ver < 1 || ver > flipperVersion {
			return nil, fmt.Errorf("flipper file line %d: version %q is not one tagpay reads (1 to %d)", v.n, v.value, flipperVersion)
		}
	}
	lay, err := flipperLayout(fields)
	if err != nil {
		return nil, err
	}
	img := &Image{Type: lay.Type}
	if img.UID, err = flipperHex(fields, "UID", flipperUIDLength, true); err != nil {
		return nil, err
	}
	for _, k := range []string{"ATQA", "SAK"} {
		size := map[string]int{"ATQA": 2, "SAK": 1}[k]
		if _, err := flipperHex(fields, k, size, false); err != nil {
			return nil, err
		}
	}
	sig, err := flipperHex(fields, "Signature", 32, false)
	if err != nil {
		return nil, err
	}
	if !allZeroBytes(sig) {
		img.Signature = sig // Flipper writes zeros when the tag gave none
	}
	version, err := flipperHex(fields, "Mifare version", 8, false)
	if err != nil {
		return nil, err
	}
	if !allZeroBytes(version) {
		img.Version = version
	}
	if c, ok := fields[counterKey(lay)]; ok {
		v, err := strconv.ParseUint(c.value, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("flipper file line %d: %s %q is not a number", c.n, c.key, c.value)
		}
		img.Counter = uint32(v)
	}
	if f, ok := fields["Failed authentication attempts"]; ok {
		n, err := strconv.Atoi(f.value)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("flipper file line %d: Failed authentication attempts %q is not a count", f.n, f.value)
		}
		if lay.CFG0 >= 0 {
			img.AuthFailures = n
		}
	}
	total := lay.Pages
	if t, ok := fields["Pages total"]; ok {
		if total, err = strconv.Atoi(t.value); err != nil || total != lay.Pages {
			return nil, fmt.Errorf("flipper file line %d: Pages total is %q, %s %s has %d", t.n, t.value, article(lay.Name), lay.Name, lay.Pages)
		}
	}
	if r, ok := fields["Pages read"]; ok {
		read, err := strconv.Atoi(r.value)
		if err != nil {
			return nil, fmt.Errorf("flipper file line %d: Pages read %q is not a number", r.n, r.value)
		}
		if read < total {
			return nil, fmt.Errorf("flipper file line %d: only %d of %d pages were read (a protected or interrupted read); tagpay needs every page", r.n, read, total)
		}
	}
	for p := 0; p < total; p++ {
		l, ok := pages[p]
		if !ok {
			return nil, fmt.Errorf("flipper file: no \"Page %d\" line (%s %s has %d pages)", p, article(lay.Name), lay.Name, total)
		}
		b, err := parseHexList(l.value, 4)
		if err != nil {
			return nil, fmt.Errorf("flipper file line %d: page %d: %w", l.n, p, err)
		}
		img.Pages = append(img.Pages, b)
	}
	for p, l := range pages {
		if p >= total {
			return nil, fmt.Errorf("flipper file line %d: page %d is past the last page (%d) of %s %s", l.n, p, total-1, article(lay.Name), lay.Name)
		}
	}
	if err := img.Validate(); err != nil {
		return nil, fmt.Errorf("flipper file: %w", err)
	}
	return img, nil
}

// flipperLayout finds the IC from the type lines and the page count.
func flipperLayout(fields map[string]flipperLine) (Layout, error) {
	dt, ok := fields["Device type"]
	if !ok {
		return Layout{}, fmt.Errorf("flipper file: no Device type line")
	}
	name := dt
	if dt.value == flipperFamily {
		if name, ok = fields["NTAG/Ultralight type"]; !ok {
			return Layout{}, fmt.Errorf("flipper file line %d: Device type is %s but there is no NTAG/Ultralight type line", dt.n, flipperFamily)
		}
	}
	var pages int
	if t, ok := fields["Pages total"]; ok {
		pages, _ = strconv.Atoi(t.value)
	}
	// Older firmware wrote plain "Mifare Ultralight" for the EV1 too; the size tells.
	if name.value == "Mifare Ultralight" && (pages == 20 || pages == 41) {
		if l, ok := LayoutByPages(TypeUltralightEV1, pages); ok {
			return l, nil
		}
	}
	for _, l := range layouts {
		if l.Flipper == name.value {
			return l.clone(), nil
		}
	}
	return Layout{}, fmt.Errorf("flipper file line %d: %s %q is not a tag tagpay reads (NTAG213/215/216, MIFARE Ultralight, EV1 or C)", name.n, name.key, name.value)
}

// counterKey is the counter an Image keeps: the NFC read counter (counter 2) on
// NTAG21x, counter 0 elsewhere.
func counterKey(l Layout) string {
	switch l.Type {
	case TypeNTAG213, TypeNTAG215, TypeNTAG216:
		return "Counter 2"
	}
	return "Counter 0"
}

func flipperHex(fields map[string]flipperLine, key string, size int, required bool) ([]byte, error) {
	l, ok := fields[key]
	if !ok {
		if required {
			return nil, fmt.Errorf("flipper file: no %s line", key)
		}
		return nil, nil
	}
	b, err := parseHexList(l.value, size)
	if err != nil {
		return nil, fmt.Errorf("flipper file line %d: %s: %w", l.n, key, err)
	}
	return b, nil
}

// parseHexList reads "04 51 5C" style hex, exactly size bytes.
func parseHexList(s string, size int) ([]byte, error) {
	parts := strings.Fields(s)
	if len(parts) != size {
		return nil, fmt.Errorf("%d bytes given, want %d", len(parts), size)
	}
	out := make([]byte, size)
	for i, p := range parts {
		v, err := hex.DecodeString(p)
		if err != nil || len(v) != 1 {
			return nil, fmt.Errorf("%q is not a hex byte", p)
		}
		out[i] = v[0]
	}
	return out, nil
}

func allZeroBytes(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// ErrFlipperNo424 is FormatFlipper's answer for an NTAG 424 DNA: Flipper .nfc files
// of the NTAG/Ultralight kind hold pages, and a Type 4 tag has files instead.
var ErrFlipperNo424 = errors.New("the Flipper format does not hold an NTAG 424 DNA (its .nfc files hold Type 2 tags only)")

// FormatFlipper writes img as a version 4 Flipper .nfc file, which a Flipper Zero can
// emulate. Only Type 2 images (NTAG21x, MIFARE Ultralight) have a Flipper form.
func FormatFlipper(img *Image) ([]byte, error) {
	if err := img.Validate(); err != nil {
		return nil, err
	}
	if img.Type == TypeNTAG424DNA {
		return nil, ErrFlipperNo424
	}
	lay, ok := LayoutByPages(img.Type, len(img.Pages))
	if !ok {
		return nil, fmt.Errorf("flipper file: %s %s image has no Flipper form (Type 2 tags only)", article(string(img.Type)), img.Type)
	}
	hexList := func(b []byte) string {
		parts := make([]string, len(b))
		for i, c := range b {
			parts[i] = fmt.Sprintf("%02X", c)
		}
		return strings.Join(parts, " ")
	}
	orZeros := func(b []byte, n int) []byte {
		if b == nil {
			return make([]byte, n)
		}
		return b
	}
	var w bytes.Buffer
	fmt.Fprintf(&w, "Filetype: %s\n", flipperFiletype)
	fmt.Fprintf(&w, "Version: %d\n", flipperVersion)
	fmt.Fprintf(&w, "# Written by tagpay\n")
	fmt.Fprintf(&w, "Device type: %s\n", flipperFamily)
	fmt.Fprintf(&w, "UID: %s\n", hexList(img.UID))
	fmt.Fprintf(&w, "ATQA: 00 44\n")
	fmt.Fprintf(&w, "SAK: 00\n")
	fmt.Fprintf(&w, "Data format version: 2\n")
	fmt.Fprintf(&w, "NTAG/Ultralight type: %s\n", lay.Flipper)
	fmt.Fprintf(&w, "Signature: %s\n", hexList(orZeros(img.Signature, 32)))
	fmt.Fprintf(&w, "Mifare version: %s\n", hexList(orZeros(img.Version, 8)))
	for i := 0; i < 3; i++ {
		counter := uint32(0)
		if fmt.Sprintf("Counter %d", i) == counterKey(lay) {
			counter = img.Counter
		}
		fmt.Fprintf(&w, "Counter %d: %d\n", i, counter)
		fmt.Fprintf(&w, "Tearing %d: 00\n", i)
	}
	fmt.Fprintf(&w, "Pages total: %d\n", lay.Pages)
	// Flipper counts the pages read from page 0; pages after the first unreadable
	// one are not in the file.
	read := len(img.Pages)
	if len(img.Unreadable) > 0 {
		read = img.Unreadable[0]
	}
	fmt.Fprintf(&w, "Pages read: %d\n", read)
	for i, p := range img.Pages[:read] {
		fmt.Fprintf(&w, "Page %d: %s\n", i, hexList(p))
	}
	fmt.Fprintf(&w, "Failed authentication attempts: %d\n", img.AuthFailures)
	return w.Bytes(), nil
}
