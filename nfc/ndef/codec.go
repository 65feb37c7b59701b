package ndef

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// rawRecord is one record as framed on the wire, before chunks are joined.
type rawRecord struct {
	header              byte
	typ, id, payload    []byte
	idFlag, chunk, last bool
}

func (r rawRecord) tnf() byte { return r.header & maskTNF }

// Decode parses an NDEF message and joins chunked records. It checks, in this order:
// every length stays inside b; each record follows its TNF's rules (which fields it
// may or must have); MB is set on the first record only and ME on the last only; the
// chunks of a chunked record follow each other. Errors name the record by its 0-based
// position in b.
func Decode(b []byte) (Message, error) {
	if len(b) == 0 {
		return nil, ErrEmpty
	}
	raws, err := frame(b)
	if err != nil {
		return nil, err
	}
	for i, raw := range raws {
		if err := raw.check(); err != nil {
			return nil, fmt.Errorf("ndef: record %d: %w", i, err)
		}
	}
	for i, raw := range raws {
		switch {
		case i == 0 && raw.header&flagMB == 0:
			return nil, errors.New("ndef: record 0: MB is not set on the first record")
		case i > 0 && raw.header&flagMB != 0:
			return nil, fmt.Errorf("ndef: record %d: MB is set on a record that is not the first", i)
		case i == len(raws)-1 && !raw.last:
			return nil, fmt.Errorf("ndef: record %d: ME is not set on the last record", i)
		}
	}
	return join(raws)
}

// check applies the rules of the record's TNF to one record as framed.
func (r rawRecord) check() error {
	switch tnf := r.tnf(); tnf {
	case TNFUnchanged:
		if len(r.typ) != 0 {
			return errors.New("TNF 6 (unchanged) must have no TYPE")
		}
		if r.idFlag {
			return errors.New("TNF 6 (unchanged) must have no ID")
		}
		return nil
	default:
		return Record{TNF: tnf, Type: r.typ, ID: r.id, Payload: r.payload}.check()
	}
}

// join turns chunk sequences into single records.
func join(raws []rawRecord) (Message, error) {
	msg := make(Message, 0, len(raws))
	var (
		chunked  *Record // the record whose chunks are being joined
		chunkIdx int
	)
	for i, raw := range raws {
		tnf := raw.tnf()
		if chunked != nil {
			if tnf != TNFUnchanged {
				return nil, fmt.Errorf("ndef: record %d: chunk of record %d must have TNF 6 (unchanged), has %d", i, chunkIdx, tnf)
			}
			chunked.Payload = append(chunked.Payload, raw.payload...)
			if !raw.chunk {
				msg = append(msg, *chunked)
				chunked = nil
			}
			continue
		}
		if tnf == TNFUnchanged {
			return nil, fmt.Errorf("ndef: record %d: TNF 6 (unchanged) outside a chunked record", i)
		}
		rec := Record{TNF: tnf, Type: raw.typ, ID: raw.id, Payload: raw.payload}
		if !raw.chunk {
			msg = append(msg, rec)
			continue
		}
		if tnf == TNFEmpty {
			return nil, fmt.Errorf("ndef: record %d: an empty record (TNF 0) cannot be chunked", i)
		}
		// Copy: the joined payload must not grow into the caller's buffer.
		rec.Payload = append([]byte(nil), raw.payload...)
		chunked, chunkIdx = &rec, i
	}
	// frame refused ME on a chunk, so the last record always closes any chunk series.
	return msg, nil
}

// frame splits b into records, checking only that every length stays inside b.
func frame(b []byte) ([]rawRecord, error) {
	var raws []rawRecord
	pos := 0
	for i := 0; pos < len(b); i++ {
		if i > 0 && raws[i-1].last {
			// Say what is wrong rather than failing to read trailing bytes as a record.
			return nil, fmt.Errorf("ndef: record %d: %d bytes follow the record marked ME", i-1, len(b)-pos)
		}
		h := b[pos]
		pos++
		field := func(name string, n uint64) ([]byte, error) {
			if n > uint64(len(b)-pos) {
				return nil, fmt.Errorf("ndef: record %d: %s field runs past the end of the message (%d bytes needed, %d left)", i, name, n, len(b)-pos)
			}
			v := b[pos : pos+int(n)]
			pos += int(n)
			return v, nil
		}
		typeLen, err := field("TYPE_LENGTH", 1)
		if err != nil {
			return nil, err
		}
		var payloadLen uint64
		if h&flagSR != 0 {
			v, err := field("PAYLOAD_LENGTH", 1)
			if err != nil {
				return nil, err
			}
			payloadLen = uint64(v[0])
		} else {
			v, err := field("PAYLOAD_LENGTH", 4)
			if err != nil {
				return nil, err
			}
			payloadLen = uint64(binary.BigEndian.Uint32(v))
		}
		var idLen uint64
		if h&flagIL != 0 {
			v, err := field("ID_LENGTH", 1)
			if err != nil {
				return nil, err
			}
			idLen = uint64(v[0])
		}
		raw := rawRecord{header: h, idFlag: h&flagIL != 0, chunk: h&flagCF != 0, last: h&flagME != 0}
		if raw.typ, err = field("TYPE", uint64(typeLen[0])); err != nil {
			return nil, err
		}
		if raw.id, err = field("ID", idLen); err != nil {
			return nil, err
		}
		if raw.payload, err = field("PAYLOAD", payloadLen); err != nil {
			return nil, err
		}
		if raw.last && raw.chunk {
			return nil, fmt.Errorf("ndef: record %d: ME is set on a chunk that is not the last one (CF set)", i)
		}
		raws = append(raws, raw)
	}
	return raws, nil
}

// Encode writes m in its shortest valid form: no chunks, SR whenever the payload is
// shorter than 256 bytes, IL only when a record has an ID.
func Encode(m Message) ([]byte, error) {
	if len(m) == 0 {
		return nil, errors.New("ndef: cannot encode a message with no records")
	}
	size := 0
	for i, r := range m {
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("ndef: record %d: %w", i, err)
		}
		size += 1 + 1 + 4 + 1 + len(r.Type) + len(r.ID) + len(r.Payload)
	}
	out := make([]byte, 0, size)
	for i, r := range m {
		h := r.TNF
		if i == 0 {
			h |= flagMB
		}
		if i == len(m)-1 {
			h |= flagME
		}
		short := len(r.Payload) < 256
		if short {
			h |= flagSR
		}
		if len(r.ID) > 0 {
			h |= flagIL
		}
		out = append(out, h, byte(len(r.Type)))
		if short {
			out = append(out, byte(len(r.Payload)))
		} else {
			out = binary.BigEndian.AppendUint32(out, uint32(len(r.Payload)))
		}
		if len(r.ID) > 0 {
			out = append(out, byte(len(r.ID)))
		}
		out = append(out, r.Type...)
		out = append(out, r.ID...)
		out = append(out, r.Payload...)
	}
	return out, nil
}
