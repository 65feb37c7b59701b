package ndef

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Well-known record types (NFC Forum RTDs).
const (
	TypeText        = "T"
	TypeURI         = "U"
	TypeSmartPoster = "Sp"
)

// uriPrefixes is the URI identifier code table of the NFC Forum URI RTD: code i
// abbreviates uriPrefixes[i]. Codes 0x24 and above are reserved.
var uriPrefixes = [...]string{
	"", "http://www.", "https://www.", "http://", "https://", "tel:", "mailto:",
	"ftp://anonymous:anonymous@", "ftp://ftp.", "ftps://", "sftp://", "smb://", "nfs://",
	"ftp://", "dav://", "news:", "telnet://", "imap:", "rtsp://", "urn:", "pop:", "sip:",
	"sips:", "tftp:", "btspp://", "btl2cap://", "btgoep://", "tcpobex://", "irdaobex://",
	"file://", "urn:epc:id:", "urn:epc:tag:", "urn:epc:pat:", "urn:epc:raw:", "urn:epc:",
	"urn:nfc:",
}

// NewURI builds a URI record, abbreviating uri with the longest matching identifier
// code so the tag spends as few bytes as possible.
func NewURI(uri string) Record {
	code := 0
	for i, p := range uriPrefixes {
		if len(p) > len(uriPrefixes[code]) && strings.HasPrefix(uri, p) {
			code = i
		}
	}
	payload := append([]byte{byte(code)}, uri[len(uriPrefixes[code]):]...)
	return Record{TNF: TNFWellKnown, Type: []byte(TypeURI), Payload: payload}
}

// ParseURI reads a URI record back into the full URI.
func ParseURI(r Record) (string, error) {
	if !r.IsWellKnown(TypeURI) {
		return "", fmt.Errorf("ndef: not a URI record (TNF %s, type %q)", TNFName(r.TNF), r.Type)
	}
	return decodeURIPayload(r.Payload)
}

func decodeURIPayload(p []byte) (string, error) {
	if len(p) == 0 {
		return "", errors.New("ndef: URI payload is empty (no identifier code)")
	}
	if int(p[0]) >= len(uriPrefixes) {
		return "", fmt.Errorf("ndef: URI identifier code 0x%02X is not defined (0x00 to 0x%02X are)", p[0], len(uriPrefixes)-1)
	}
	if !utf8.Valid(p[1:]) {
		return "", errors.New("ndef: URI field is not valid UTF-8")
	}
	return uriPrefixes[p[0]] + string(p[1:]), nil
}

// Text is the content of a Text record.
type Text struct {
	Lang  string `json:"lang"`
	Text  string `json:"text"`
	UTF16 bool   `json:"utf16,omitempty"` // the record stored the text as UTF-16
}

// NewText builds a UTF-8 Text record. lang is an IANA language code such as "en"; it
// must be 1 to 63 ASCII characters, the room the status byte leaves for its length.
func NewText(text, lang string) (Record, error) {
	if err := checkLang(lang); err != nil {
		return Record{}, err
	}
	if !utf8.ValidString(text) {
		return Record{}, errors.New("ndef: text is not valid UTF-8")
	}
	payload := make([]byte, 0, 1+len(lang)+len(text))
	payload = append(payload, byte(len(lang)))
	payload = append(payload, lang...)
	payload = append(payload, text...)
	return Record{TNF: TNFWellKnown, Type: []byte(TypeText), Payload: payload}, nil
}

func checkLang(lang string) error {
	if len(lang) == 0 || len(lang) > 63 {
		return fmt.Errorf("ndef: language code %q must be 1 to 63 characters", lang)
	}
	for i := 0; i < len(lang); i++ {
		if lang[i] < 0x21 || lang[i] > 0x7E {
			return fmt.Errorf("ndef: language code %q must be printable ASCII", lang)
		}
	}
	return nil
}

// ParseText reads a Text record, in UTF-8 or UTF-16 (status bit 7; a byte order mark
// picks the byte order, big-endian without one).
func ParseText(r Record) (Text, error) {
	if !r.IsWellKnown(TypeText) {
		return Text{}, fmt.Errorf("ndef: not a Text record (TNF %s, type %q)", TNFName(r.TNF), r.Type)
	}
	p := r.Payload
	if len(p) == 0 {
		return Text{}, errors.New("ndef: Text payload is empty (no status byte)")
	}
	status := p[0]
	langLen := int(status & 0x3F)
	if 1+langLen > len(p) {
		return Text{}, fmt.Errorf("ndef: Text language code of %d bytes runs past the payload (%d bytes)", langLen, len(p))
	}
	t := Text{Lang: string(p[1 : 1+langLen]), UTF16: status&0x80 != 0}
	body := p[1+langLen:]
	if !t.UTF16 {
		if !utf8.Valid(body) {
			return Text{}, errors.New("ndef: Text is marked UTF-8 but is not valid UTF-8")
		}
		t.Text = string(body)
		return t, nil
	}
	if len(body)%2 != 0 {
		return Text{}, fmt.Errorf("ndef: Text is marked UTF-16 but has an odd length (%d bytes)", len(body))
	}
	var order binary.ByteOrder = binary.BigEndian
	switch {
	case bytes.HasPrefix(body, []byte{0xFE, 0xFF}):
		body = body[2:]
	case bytes.HasPrefix(body, []byte{0xFF, 0xFE}):
		order, body = binary.LittleEndian, body[2:]
	}
	units := make([]uint16, len(body)/2)
	for i := range units {
		units[i] = order.Uint16(body[2*i:])
	}
	t.Text = string(utf16.Decode(units))
	return t, nil
}

// SmartPoster is the content of a Smart Poster record: a URI with optional titles.
type SmartPoster struct {
	URI    string
	Titles []Text
	// Records is the whole nested message, including action, size, type and icon
	// records this package does not interpret.
	Records Message
}

// NewSmartPoster builds a Smart Poster record for uri with the given titles.
func NewSmartPoster(uri string, titles ...Text) (Record, error) {
	nested := Message{NewURI(uri)}
	for _, t := range titles {
		r, err := NewText(t.Text, t.Lang)
		if err != nil {
			return Record{}, fmt.Errorf("ndef: smart poster title: %w", err)
		}
		nested = append(nested, r)
	}
	payload, err := Encode(nested)
	if err != nil {
		return Record{}, err
	}
	return Record{TNF: TNFWellKnown, Type: []byte(TypeSmartPoster), Payload: payload}, nil
}

// ParseSmartPoster reads a Smart Poster record. It must hold exactly one URI record.
func ParseSmartPoster(r Record) (SmartPoster, error) {
	if !r.IsWellKnown(TypeSmartPoster) {
		return SmartPoster{}, fmt.Errorf("ndef: not a Smart Poster record (TNF %s, type %q)", TNFName(r.TNF), r.Type)
	}
	nested, err := Decode(r.Payload)
	if err != nil {
		return SmartPoster{}, fmt.Errorf("ndef: smart poster content: %w", err)
	}
	sp := SmartPoster{Records: nested}
	uris := 0
	for i, n := range nested {
		switch {
		case n.IsWellKnown(TypeURI):
			uris++
			if sp.URI, err = ParseURI(n); err != nil {
				return SmartPoster{}, fmt.Errorf("ndef: smart poster record %d: %w", i, err)
			}
		case n.IsWellKnown(TypeText):
			t, err := ParseText(n)
			if err != nil {
				return SmartPoster{}, fmt.Errorf("ndef: smart poster record %d: %w", i, err)
			}
			sp.Titles = append(sp.Titles, t)
		}
	}
	if uris != 1 {
		return SmartPoster{}, fmt.Errorf("ndef: a smart poster needs exactly one URI record, this one has %d", uris)
	}
	return sp, nil
}

// NewMIME builds a record whose payload is of the RFC 2046 media type mimeType.
func NewMIME(mimeType string, data []byte) Record {
	return Record{TNF: TNFMedia, Type: []byte(mimeType), Payload: data}
}

// NewExternal builds an NFC Forum external type record; typ reads "domain:type".
func NewExternal(typ string, payload []byte) Record {
	return Record{TNF: TNFExternal, Type: []byte(typ), Payload: payload}
}

// NewAbsoluteURI builds a record whose type is the absolute URI uri.
func NewAbsoluteURI(uri string, payload []byte) Record {
	return Record{TNF: TNFAbsoluteURI, Type: []byte(uri), Payload: payload}
}

// NewUnknown builds a record of unknown type around payload.
func NewUnknown(payload []byte) Record {
	return Record{TNF: TNFUnknown, Payload: payload}
}

// FirstURI returns the URI of the first URI record or Smart Poster in m: the link a
// phone would open when it reads the tag.
func FirstURI(m Message) (string, bool) {
	for _, r := range m {
		switch {
		case r.IsWellKnown(TypeURI):
			if u, err := ParseURI(r); err == nil {
				return u, true
			}
		case r.IsWellKnown(TypeSmartPoster):
			if sp, err := ParseSmartPoster(r); err == nil {
				return sp.URI, true
			}
		}
	}
	return "", false
}
