package nfc

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/tagpay/tagpay/nfc/ndef"
)

// SUN URL placeholders: where the tag writes its mirrored values.
const (
	PlaceholderPICC = "{picc}" // encrypted PICC data, 32 hex digits
	PlaceholderUID  = "{uid}"  // plain UID, 14 hex digits
	PlaceholderCtr  = "{ctr}"  // plain read counter, 6 hex digits
	PlaceholderENC  = "{enc}"  // encrypted file data, twice the length of FileData
	PlaceholderMAC  = "{mac}"  // the MAC, 16 hex digits
)

var placeholderLen = map[string]int{PlaceholderPICC: 32, PlaceholderUID: 14, PlaceholderCtr: 6, PlaceholderMAC: 16}

// SUNTemplateOptions choose the keys and what a SUN URL carries.
type SUNTemplateOptions struct {
	MetaKeyNo byte // key encrypting the PICC data (unused when Plain)
	FileKeyNo byte // key making the MAC and encrypting file data
	Plain     bool // UID and counter in clear instead of encrypted PICC data
	// FileData, when set, is mirrored encrypted at {enc}: printable ASCII, a multiple
	// of 16 bytes, stored in the URL's first half of the placeholder.
	FileData []byte
}

// SUNTemplate is an NDEF file laid out for Secure Dynamic Messaging: a URI record
// whose placeholders are zeros, and the SDM settings pointing at them.
type SUNTemplate struct {
	URL  string // the URL as stored, placeholders zeroed
	File []byte // NLEN, then the NDEF message
	SDM  SDMSettings
}

// NewSUNTemplate lays out rawURL, which may name its placeholders ({picc}, {uid},
// {ctr}, {enc}, {mac}); a URL without any gets "?e={picc}&c={mac}" (with Plain
// "?uid={uid}&ctr={ctr}&c={mac}", with FileData "&enc={enc}" before the MAC)
// appended. The MAC input is empty, or starts at the encrypted file data when there is
// some, as VerifySUN expects.
func NewSUNTemplate(rawURL string, o SUNTemplateOptions) (*SUNTemplate, error) {
	if o.MetaKeyNo > 4 || o.FileKeyNo > 4 {
		return nil, fmt.Errorf("SUN template: keys %d and %d; an NTAG 424 DNA has keys 0–4", o.MetaKeyNo, o.FileKeyNo)
	}
	if len(o.FileData)%16 != 0 {
		return nil, fmt.Errorf("SUN template: file data of %d bytes, want a multiple of 16", len(o.FileData))
	}
	for _, c := range o.FileData {
		if c < 0x21 || c > 0x7E || c == '&' || c == '#' {
			return nil, errors.New("SUN template: file data must be printable ASCII without &, # or spaces")
		}
	}
	if !strings.Contains(rawURL, "{") {
		sep := "?"
		if strings.Contains(rawURL, "?") {
			sep = "&"
		}
		if o.Plain {
			rawURL += sep + "uid=" + PlaceholderUID + "&ctr=" + PlaceholderCtr
		} else {
			rawURL += sep + "e=" + PlaceholderPICC
		}
		if len(o.FileData) > 0 {
			rawURL += "&enc=" + PlaceholderENC
		}
		rawURL += "&c=" + PlaceholderMAC
	}
	lens := map[string]int{}
	for k, v := range placeholderLen {
		lens[k] = v
	}
	lens[PlaceholderENC] = 2 * len(o.FileData)
	// Replace placeholders left to right, remembering where each lands in the URL.
	pos := map[string]int{}
	var url strings.Builder
	for rest := rawURL; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			url.WriteString(rest)
			break
		}
		url.WriteString(rest[:i])
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("SUN template: unclosed placeholder in %q", rawURL)
		}
		name := rest[i : i+j+1]
		n, ok := lens[name]
		if !ok {
			return nil, fmt.Errorf("SUN template: unknown placeholder %s (want {picc}, {uid}, {ctr}, {enc} or {mac})", name)
		}
		if _, dup := pos[name]; dup {
			return nil, fmt.Errorf("SUN template: placeholder %s given twice", name)
		}
		pos[name] = url.Len()
		if name == PlaceholderENC {
			url.Write(o.FileData)
			n -= len(o.FileData)
		}
		url.WriteString(strings.Repeat("0", n))
		rest = rest[i+j+1:]
	}
	_, hasPICC := pos[PlaceholderPICC]
	_, hasUID := pos[PlaceholderUID]
	_, hasCtr := pos[PlaceholderCtr]
	_, hasENC := pos[PlaceholderENC]
	macAt, hasMAC := pos[PlaceholderMAC]
	switch {
	case !hasMAC:
		return nil, errors.New("SUN template: no {mac} placeholder")
	case o.Plain && hasPICC, !o.Plain && (hasUID || hasCtr):
		return nil, errors.New("SUN template: {picc} goes with encrypted PICC data, {uid} and {ctr} with plain mirroring")
	case !o.Plain && !hasPICC, o.Plain && !hasUID && !hasCtr:
		return nil, errors.New("SUN template: nothing mirrored besides the MAC (add {picc}, or {uid} and {ctr})")
	case hasENC != (len(o.FileData) > 0):
		return nil, errors.New("SUN template: {enc} and file data go together")
	case hasENC && o.Plain && (!hasUID || !hasCtr):
		return nil, errors.New("SUN template: encrypted file data needs both UID and counter mirrored")
	case hasENC && pos[PlaceholderENC] > macAt:
		return nil, errors.New("SUN template: {enc} must come before {mac}")
	}
	u := url.String()
	rec := ndef.NewURI(u)
	msg, err := ndef.Encode(ndef.Message{rec})
	if err != nil {
		return nil, fmt.Errorf("SUN template: %w", err)
	}
	if 2+len(msg) > file424Size[File424NDEF] {
		return nil, &TooLargeError{Size: len(msg), Max: max424NDEF, Tag: "NTAG 424 DNA"}
	}
	// The URL after its abbreviated prefix ends the message.
	prefix := len(u) - (len(rec.Payload) - 1)
	at := func(name string) int { return 2 + len(msg) - (len(u) - prefix) + pos[name] - prefix }
	tpl := &SUNTemplate{URL: u, File: append([]byte{byte(len(msg) >> 8), byte(len(msg))}, msg...)}
	s := &tpl.SDM
	s.CtrRetKey = AccessNever
	s.FileReadKey = o.FileKeyNo
	s.MACOffset = at(PlaceholderMAC)
	s.MACInputOffset = s.MACOffset
	if o.Plain {
		s.MetaReadKey = AccessFree
		s.MirrorUID, s.MirrorReadCounter = hasUID, hasCtr
		s.UIDOffset, s.ReadCtrOffset = at(PlaceholderUID), at(PlaceholderCtr)
	} else {
		s.MetaReadKey = o.MetaKeyNo
		s.MirrorUID, s.MirrorReadCounter = true, true
		s.PICCDataOffset = at(PlaceholderPICC)
	}
	if hasENC {
		s.EncFileData = true
		s.ENCOffset, s.ENCLength = at(PlaceholderENC), lens[PlaceholderENC]
		s.MACInputOffset = s.ENCOffset
	}
	if !bytes.Equal(tpl.File[s.MACOffset:s.MACOffset+16], bytes.Repeat([]byte("0"), 16)) {
		return nil, errors.New("SUN template: internal layout error") // the offsets must land on the zeros
	}
	return tpl, nil
}
