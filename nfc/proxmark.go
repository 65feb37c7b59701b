package nfc

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Proxmark3 JSON dumps of Ultralight and NTAG tags (`hf mfu dump`): "FileType": "mfu",
// a "Card" object of hex strings (UID, Version, Signature, Counter0-2 as READ_CNT
// gives them, least significant byte first, Tearing0-2, TBO_0, TBO_1) and "blocks",
// the pages by decimal number, 4 bytes each. Card keys vary between client versions;
// those tagpay does not use are ignored.
const proxmarkFileType = "mfu"

// ParseProxmark reads a Proxmark3 JSON dump of an Ultralight or NTAG tag. The IC comes
// from the Version (GET_VERSION) when the dump has one, else from the page count.
func ParseProxmark(b []byte) (*Image, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, fmt.Errorf("proxmark3 dump: %w", err)
	}
	var ft string
	if raw, ok := top["FileType"]; !ok {
		return nil, errors.New(`proxmark3 dump: no "FileType"; not a Proxmark3 JSON dump`)
	} else if err := json.Unmarshal(raw, &ft); err != nil {
		return nil, fmt.Errorf("proxmark3 dump: FileType: %w", err)
	}
	if ft != proxmarkFileType {
		return nil, fmt.Errorf("proxmark3 dump: FileType %q is not an Ultralight/NTAG dump (%q); tagpay reads those only", ft, proxmarkFileType)
	}
	var card map[string]json.RawMessage
	if err := decodeField(top, "Card", &card, true); err != nil {
		return nil, err
	}
	var blocks map[string]string
	if err := decodeField(top, "blocks", &blocks, true); err != nil {
		return nil, err
	}

	img := &Image{}
	var err error
	if img.UID, err = proxmarkHex(card, "UID", 7, true); err != nil {
		return nil, err
	}
	version, err := proxmarkHex(card, "Version", 8, false)
	if err != nil {
		return nil, err
	}
	if !allZeroBytes(version) {
		img.Version = version
	}
	sig, err := proxmarkHex(card, "Signature", 32, false)
	if err != nil {
		return nil, err
	}
	if !allZeroBytes(sig) {
		img.Signature = sig
	}

	pages := make([]HexBytes, len(blocks))
	for k, v := range blocks {
		n, err := strconv.Atoi(k)
		if err != nil || n < 0 || strconv.Itoa(n) != k {
			return nil, fmt.Errorf("proxmark3 dump: block %q is not a page number", k)
		}
		if n >= len(blocks) {
			return nil, fmt.Errorf("proxmark3 dump: block %d, but only %d blocks: pages must run from 0 without gaps", n, len(blocks))
		}
		p, err := hex.DecodeString(v)
		if err != nil || len(p) != 4 {
			return nil, fmt.Errorf("proxmark3 dump: block %d is %q, want 4 bytes of hex", n, v)
		}
		pages[n] = p
	}
	img.Pages = pages

	lay, err := proxmarkLayout(img.Version, len(pages))
	if err != nil {
		return nil, err
	}
	img.Type = lay.Type
	counter, err := proxmarkHex(card, "Counter"+counterKey(lay)[len("Counter "):], 3, false)
	if err != nil {
		return nil, err
	}
	if counter != nil {
		img.Counter = uint32(counter[0]) | uint32(counter[1])<<8 | uint32(counter[2])<<16
	}
	if err := img.Validate(); err != nil {
		return nil, fmt.Errorf("proxmark3 dump: %w", err)
	}
	return img, nil
}

func decodeField(top map[string]json.RawMessage, key string, dst any, required bool) error {
	raw, ok := top[key]
	if !ok {
		if required {
			return fmt.Errorf("proxmark3 dump: no %q", key)
		}
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("proxmark3 dump: %s: %w", key, err)
	}
	return nil
}

// proxmarkHex reads a hex string of exactly size bytes from the Card object.
func proxmarkHex(card map[string]json.RawMessage, key string, size int, required bool) ([]byte, error) {
	raw, ok := card[key]
	if !ok {
		if required {
			return nil, fmt.Errorf("proxmark3 dump: no Card.%s", key)
		}
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("proxmark3 dump: Card.%s is not a string", key)
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != size {
		return nil, fmt.Errorf("proxmark3 dump: Card.%s is %q, want %d bytes of hex", key, s, size)
	}
	return b, nil
}

// proxmarkLayout names the IC: from GET_VERSION, checked against the page count, or
// from the page count alone (the first IC listed with that many pages).
func proxmarkLayout(version []byte, pages int) (Layout, error) {
	if version != nil {
		l, ok := layoutByVersion(version)
		if !ok {
			return Layout{}, fmt.Errorf("proxmark3 dump: Card.Version %X names no IC tagpay knows", version)
		}
		if l.Pages != pages {
			return Layout{}, fmt.Errorf("proxmark3 dump: %d blocks, but Card.Version %X names %s %s, which has %d pages", pages, version, article(l.Name), l.Name, l.Pages)
		}
		return l, nil
	}
	for _, l := range layouts {
		if l.Pages == pages {
			return l.clone(), nil
		}
	}
	return Layout{}, fmt.Errorf("proxmark3 dump: %d blocks match no Ultralight or NTAG IC tagpay knows (and the dump has no Version)", pages)
}

// FormatProxmark writes img as a Proxmark3 JSON dump (`hf mfu restore` and `hf mfu
// eload` take it). Only whole Type 2 images have one.
func FormatProxmark(img *Image) ([]byte, error) {
	if err := img.Validate(); err != nil {
		return nil, err
	}
	lay, ok := LayoutByPages(img.Type, len(img.Pages))
	if !ok {
		return nil, fmt.Errorf("proxmark3 dump: %s %s image has no Proxmark3 form (Type 2 tags only)", article(string(img.Type)), img.Type)
	}
	if len(img.Unreadable) > 0 {
		return nil, fmt.Errorf("proxmark3 dump: pages %s could not be read (password-protected); a Proxmark3 dump holds whole tags only", pageList(img.Unreadable))
	}
	hx := func(b []byte, n int) string {
		if b == nil {
			b = make([]byte, n)
		}
		return strings.ToUpper(hex.EncodeToString(b))
	}
	str := func(s string) string { q, _ := json.Marshal(s); return string(q) }
	var w bytes.Buffer
	w.WriteString("{\n")
	fmt.Fprintf(&w, "  \"Created\": %s,\n", str("tagpay"))
	fmt.Fprintf(&w, "  \"FileType\": %s,\n", str(proxmarkFileType))
	w.WriteString("  \"Card\": {\n")
	fmt.Fprintf(&w, "    \"UID\": %s,\n", str(hx(img.UID, 7)))
	fmt.Fprintf(&w, "    \"Version\": %s,\n", str(hx(img.Version, 8)))
	fmt.Fprintf(&w, "    \"TBO_0\": %s,\n", str("0000"))
	fmt.Fprintf(&w, "    \"TBO_1\": %s,\n", str("00"))
	fmt.Fprintf(&w, "    \"Signature\": %s,\n", str(hx(img.Signature, 32)))
	for i := range 3 {
		var c uint32
		if fmt.Sprintf("Counter %d", i) == counterKey(lay) {
			c = img.Counter
		}
		fmt.Fprintf(&w, "    \"Counter%d\": %s,\n", i, str(hx([]byte{byte(c), byte(c >> 8), byte(c >> 16)}, 3)))
		sep := ","
		if i == 2 {
			sep = ""
		}
		fmt.Fprintf(&w, "    \"Tearing%d\": %s%s\n", i, str("00"), sep)
	}
	w.WriteString("  },\n  \"blocks\": {\n")
	for i, p := range img.Pages {
		sep := ","
		if i == len(img.Pages)-1 {
			sep = ""
		}
		fmt.Fprintf(&w, "    \"%d\": %s%s\n", i, str(hx(p, 4)), sep)
	}
	w.WriteString("  }\n}\n")
	return w.Bytes(), nil
}

// Image file formats ParseImageFile tells apart.
const (
	ImageTagpay   = "json"
	ImageFlipper  = "flipper"
	ImageProxmark = "proxmark"
)

// ParseImageFile reads a tag image in any format tagpay knows, told apart by content:
// a Flipper .nfc file ("Filetype: ..."), a Proxmark3 JSON dump (a "FileType" key) or
// tagpay's JSON. It returns the format it found.
func ParseImageFile(b []byte) (*Image, string, error) {
	trimmed := bytes.TrimSpace(b)
	if bytes.HasPrefix(trimmed, []byte("Filetype:")) {
		img, err := ParseFlipper(b)
		return img, ImageFlipper, err
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(trimmed, &top) == nil {
		if _, ok := top["FileType"]; ok {
			img, err := ParseProxmark(b)
			return img, ImageProxmark, err
		}
	}
	img, err := ParseImageJSON(b)
	return img, ImageTagpay, err
}
