package nfc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// max424NDEF is the largest NDEF message an NTAG 424 DNA NDEF file (256 bytes, of
// which 2 hold NLEN) can carry.
const max424NDEF = 254

// ParseImageJSON reads a tag image as `tag dump` writes it, rejecting unknown fields
// (a misspelt "pages" must not silently give a blank tag), and validates it.
func ParseImageJSON(b []byte) (*Image, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var img Image
	if err := dec.Decode(&img); err != nil {
		return nil, fmt.Errorf("tag image: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("tag image: unexpected data after the JSON object")
	}
	if err := img.Validate(); err != nil {
		return nil, err
	}
	return &img, nil
}

// imageJSON has Image's fields without its methods, so MarshalJSON can use the
// default encoding.
type imageJSON Image

// MarshalJSON writes the image in a fixed field order, hex in upper case, empty fields
// left out; the same image always gives the same bytes.
func (img Image) MarshalJSON() ([]byte, error) {
	return json.Marshal(imageJSON(img))
}

// FormatImageJSON is the file form of an image: validated, indented, one page a line,
// ending in a newline.
func FormatImageJSON(img *Image) ([]byte, error) {
	if err := img.Validate(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(img, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("tag image: %w", err)
	}
	return append(b, '\n'), nil
}

// Validate checks that the image describes a tag tagpay can write or emulate: a known
// type, a 7-byte UID, and for Type 2 every page of the IC, 4 bytes each, with the UID
// and its check bytes in pages 0–2; for NTAG 424 DNA an NDEF message that fits and
// usable SUN settings.
func (img *Image) Validate() error {
	if img == nil {
		return errors.New("tag image: no image")
	}
	if len(img.UID) != 7 {
		return fmt.Errorf("tag image: UID is %d bytes, want 7", len(img.UID))
	}
	if img.Version != nil && len(img.Version) != 8 {
		return fmt.Errorf("tag image: version is %d bytes, GET_VERSION gives 8", len(img.Version))
	}
	if img.Type == TypeNTAG424DNA {
		return img.validate424()
	}
	if _, ok := LayoutOf(img.Type); !ok {
		return fmt.Errorf("tag image: unknown tag type %q (want one of %s)", img.Type, strings.Join(TypeNames(), ", "))
	}
	lay, ok := LayoutByPages(img.Type, len(img.Pages))
	if !ok {
		return fmt.Errorf("tag image: image has %d pages, %s", len(img.Pages), pagesWanted(img.Type))
	}
	for i, p := range img.Pages {
		if len(p) != 4 {
			return fmt.Errorf("tag image: page %d has %d bytes, want 4", i, len(p))
		}
	}
	for i, p := range img.Unreadable {
		switch {
		case p < pageUserStart || p >= len(img.Pages):
			return fmt.Errorf("tag image: unreadable page %d is not a page a password can guard (4-%d)", p, len(img.Pages)-1)
		case i > 0 && p <= img.Unreadable[i-1]:
			return fmt.Errorf("tag image: unreadable pages must be listed once each, in order (%d after %d)", p, img.Unreadable[i-1])
		}
	}
	if img.AuthFailures < 0 || img.AuthFailures > MaxAuthLimit {
		return fmt.Errorf("tag image: auth_failures %d: the count of failed password attempts runs from 0 to %d", img.AuthFailures, MaxAuthLimit)
	}
	if img.AuthFailures > 0 && lay.CFG0 < 0 {
		return fmt.Errorf("tag image: auth_failures %d, but %s %s has no password", img.AuthFailures, article(lay.Name), lay.Name)
	}
	if img.Signature != nil && len(img.Signature) != 32 {
		return fmt.Errorf("tag image: signature is %d bytes, %s %s signs with 32", len(img.Signature), article(lay.Name), lay.Name)
	}
	if img.NDEF != nil || img.SUN != nil || img.DNA != nil {
		return fmt.Errorf("tag image: ndef, sun and dna are for NTAG 424 DNA images; %s %s keeps its NDEF message in its pages", article(lay.Name), lay.Name)
	}
	return checkUIDPages(img.UID, img.Pages)
}

// TypeNames lists the image types tagpay knows: every Type 2 IC, then ntag424dna.
func TypeNames() []string {
	var names []string
	for _, l := range layouts {
		if !slices.Contains(names, string(l.Type)) {
			names = append(names, string(l.Type))
		}
	}
	return append(names, string(TypeNTAG424DNA))
}

// pagesWanted says how many pages an IC type has, for error messages.
func pagesWanted(t TagType) string {
	var sizes []Layout
	for _, l := range layouts {
		if l.Type == t {
			sizes = append(sizes, l)
		}
	}
	if len(sizes) == 1 {
		return fmt.Sprintf("%s %s has %d", article(sizes[0].Name), sizes[0].Name, sizes[0].Pages)
	}
	s := article(string(t)) + " " + string(t) + " has"
	for i, l := range sizes {
		if i > 0 {
			s += " or"
		}
		s += fmt.Sprintf(" %d (%s)", l.Pages, l.Name)
	}
	return s
}

// checkUIDPages checks pages 0–2 against the UID: UID0 UID1 UID2 BCC0 / UID3..UID6 /
// BCC1, with BCC0 = 0x88^UID0^UID1^UID2 (0x88 is the cascade tag) and
// BCC1 = UID3^UID4^UID5^UID6.
func checkUIDPages(uid []byte, pages []HexBytes) error {
	if !bytes.Equal(pages[0][:3], uid[:3]) || !bytes.Equal(pages[1], uid[3:7]) {
		return fmt.Errorf("tag image: pages 0–1 (% X, % X) do not hold the UID % X", []byte(pages[0]), []byte(pages[1]), []byte(uid))
	}
	bcc0, bcc1 := uidBCC(uid)
	if pages[0][3] != bcc0 {
		return fmt.Errorf("tag image: BCC0 (page 0 byte 3) is %02X, the UID gives %02X", pages[0][3], bcc0)
	}
	if pages[2][0] != bcc1 {
		return fmt.Errorf("tag image: BCC1 (page 2 byte 0) is %02X, the UID gives %02X", pages[2][0], bcc1)
	}
	return nil
}

// article is "an" before names read out with a leading vowel sound ("an NTAG213").
func article(name string) string {
	if name != "" && strings.ContainsRune("AEIONaeinou", rune(name[0])) {
		return "an"
	}
	return "a"
}

func uidBCC(uid []byte) (bcc0, bcc1 byte) {
	return 0x88 ^ uid[0] ^ uid[1] ^ uid[2], uid[3] ^ uid[4] ^ uid[5] ^ uid[6]
}

func (img *Image) validate424() error {
	if len(img.Pages) != 0 {
		return fmt.Errorf("tag image: an NTAG 424 DNA has no pages (it is a Type 4 tag); put its NDEF message in ndef")
	}
	if len(img.NDEF) > max424NDEF {
		return fmt.Errorf("tag image: NDEF message is %d bytes, an NTAG 424 DNA holds %d", len(img.NDEF), max424NDEF)
	}
	if img.Signature != nil && len(img.Signature) != 56 {
		return fmt.Errorf("tag image: signature is %d bytes, an NTAG 424 DNA signs with 56", len(img.Signature))
	}
	if img.DNA != nil {
		if err := img.DNA.validate(img.NDEF); err != nil {
			return err
		}
	}
	if img.Counter > 0xFFFFFF {
		return fmt.Errorf("tag image: SUN counter %d does not fit in 3 bytes", img.Counter)
	}
	if s := img.SUN; s != nil {
		switch {
		case s.BaseURL == "":
			return errors.New("tag image: sun.base_url is empty")
		case len(s.FileKey) != 16:
			return fmt.Errorf("tag image: sun.file_key is %d bytes, want 16 (AES-128)", len(s.FileKey))
		case !s.Plain && len(s.MetaKey) != 16:
			return fmt.Errorf("tag image: sun.meta_key is %d bytes, want 16 (AES-128)", len(s.MetaKey))
		case img.Counter > 0xFFFFFF:
			return fmt.Errorf("tag image: SUN counter %d does not fit in 3 bytes", img.Counter)
		}
	}
	return nil
}
