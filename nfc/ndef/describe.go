package ndef

import (
	"encoding/hex"
	"strings"
)

// RecordInfo is one record as `tagpay ndef decode -o json` shows it. The field names
// are a contract with scripts: add fields, never rename them.
type RecordInfo struct {
	Index int    `json:"index"`
	TNF   string `json:"tnf"` // TNFName, e.g. "well_known"
	// Type and ID are shown as text when they are printable ASCII, else as upper-case hex.
	Type       string `json:"type"`
	ID         string `json:"id"`
	PayloadHex string `json:"payload_hex"`
	// Text and Lang: a Text record's content, or a Smart Poster's first title.
	Text string `json:"text,omitempty"`
	Lang string `json:"lang,omitempty"`
	// URI: a URI record's URI, a Smart Poster's URI, or an absolute-URI record's type.
	URI string `json:"uri,omitempty"`
	// Error says why a well-known payload could not be read; the record itself is
	// still well formed.
	Error string `json:"error,omitempty"`
}

// Describe summarises each record of m for people and scripts.
func Describe(m Message) []RecordInfo {
	infos := make([]RecordInfo, 0, len(m))
	for i, r := range m {
		info := RecordInfo{
			Index:      i,
			TNF:        TNFName(r.TNF),
			Type:       printable(r.Type),
			ID:         printable(r.ID),
			PayloadHex: strings.ToUpper(hex.EncodeToString(r.Payload)),
		}
		switch {
		case r.IsWellKnown(TypeText):
			if t, err := ParseText(r); err != nil {
				info.Error = err.Error()
			} else {
				info.Text, info.Lang = t.Text, t.Lang
			}
		case r.IsWellKnown(TypeURI):
			if u, err := ParseURI(r); err != nil {
				info.Error = err.Error()
			} else {
				info.URI = u
			}
		case r.IsWellKnown(TypeSmartPoster):
			if sp, err := ParseSmartPoster(r); err != nil {
				info.Error = err.Error()
			} else {
				info.URI = sp.URI
				if len(sp.Titles) > 0 {
					info.Text, info.Lang = sp.Titles[0].Text, sp.Titles[0].Lang
				}
			}
		case r.TNF == TNFAbsoluteURI && info.Type == string(r.Type):
			info.URI = info.Type
		}
		infos = append(infos, info)
	}
	return infos
}

func printable(b []byte) string {
	for _, c := range b {
		if c < 0x20 || c > 0x7E {
			return strings.ToUpper(hex.EncodeToString(b))
		}
	}
	return string(b)
}
