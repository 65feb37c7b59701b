// Package ndef encodes and decodes NFC Forum NDEF messages (NDEF 1.0) and the
// well-known record types a payment tag carries: Text, URI and Smart Poster.
//
// Decoding is strict: a message that breaks a rule of the specification is an error
// naming the record and the field, never a guess. Chunked records are joined into one
// record, so callers never see a chunk.
package ndef

import (
	"errors"
	"fmt"
)

// Type Name Format values (NDEF 1.0, 3.2.6): how the TYPE field is to be read.
const (
	TNFEmpty       byte = 0x00 // no type, no id, no payload
	TNFWellKnown   byte = 0x01 // NFC Forum RTD type, e.g. "T", "U", "Sp"
	TNFMedia       byte = 0x02 // RFC 2046 media type, e.g. "text/plain"
	TNFAbsoluteURI byte = 0x03 // the type is an absolute URI
	TNFExternal    byte = 0x04 // NFC Forum external type, e.g. "example.com:pay"
	TNFUnknown     byte = 0x05 // payload of unknown type, no TYPE field
	TNFUnchanged   byte = 0x06 // middle and last chunks of a chunked record
	TNFReserved    byte = 0x07
)

// Record header flags.
const (
	flagMB  = 0x80 // message begin
	flagME  = 0x40 // message end
	flagCF  = 0x20 // chunk flag
	flagSR  = 0x10 // short record: 1-byte payload length
	flagIL  = 0x08 // ID_LENGTH present
	maskTNF = 0x07
)

// Record is one NDEF record. A decoded Record is never a chunk: chunked payloads are
// reassembled and carry the TNF, type and ID of their first chunk.
type Record struct {
	TNF     byte
	Type    []byte
	ID      []byte
	Payload []byte
}

// Message is an NDEF message: one or more records, in order.
type Message []Record

// ErrEmpty reports a zero-length NDEF message, which is what a freshly formatted tag
// holds (an NDEF TLV of length 0). It is not a valid message, but callers usually want
// to tell it apart from a corrupt one.
var ErrEmpty = errors.New("ndef: the message is empty")

var tnfNames = [8]string{"empty", "well_known", "media", "absolute_uri", "external", "unknown", "unchanged", "reserved"}

// TNFName is the snake_case name of a TNF value, as used in JSON output.
func TNFName(tnf byte) string {
	return tnfNames[tnf&maskTNF]
}

// IsWellKnown reports whether r is an NFC Forum well-known record of type t.
func (r Record) IsWellKnown(t string) bool {
	return r.TNF == TNFWellKnown && string(r.Type) == t
}

// check applies the TNF rules to a whole (non-chunk) record; Encode and Decode share it
// so that everything Decode returns, Encode accepts.
func (r Record) check() error {
	switch r.TNF {
	case TNFEmpty:
		if len(r.Type) != 0 || len(r.ID) != 0 || len(r.Payload) != 0 {
			return errors.New("an empty record (TNF 0) must have no type, id or payload")
		}
	case TNFWellKnown, TNFMedia, TNFAbsoluteURI, TNFExternal:
		if len(r.Type) == 0 {
			return fmt.Errorf("TNF %d (%s) needs a TYPE", r.TNF, TNFName(r.TNF))
		}
	case TNFUnknown:
		if len(r.Type) != 0 {
			return errors.New("TNF 5 (unknown) must have no TYPE")
		}
	case TNFUnchanged:
		return errors.New("TNF 6 (unchanged) is only valid on the middle and last chunks of a chunked record")
	default:
		return fmt.Errorf("TNF %d is reserved", r.TNF)
	}
	if len(r.Type) > 255 {
		return fmt.Errorf("TYPE is %d bytes, at most 255 fit", len(r.Type))
	}
	if len(r.ID) > 255 {
		return fmt.Errorf("ID is %d bytes, at most 255 fit", len(r.ID))
	}
	if uint64(len(r.Payload)) > 0xFFFFFFFF {
		return fmt.Errorf("PAYLOAD is %d bytes, at most 4 GiB fit", len(r.Payload))
	}
	return nil
}
