package store

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// JSONObject writes one JSON object field by field. The records every tap writes
// (accounts, transfers, events) are written with it rather than by reflection: encoding
// them was the largest part of a tap's time inside its transaction. The output decodes
// exactly as encoding/json's would; it only leaves <, > and & unescaped.
type JSONObject struct {
	b     []byte
	first bool
}

// NewJSONObject starts an object; size is a guess of its length.
func NewJSONObject(size int) *JSONObject {
	o := &JSONObject{b: make([]byte, 0, size), first: true}
	o.b = append(o.b, '{')
	return o
}

func (o *JSONObject) key(k string) {
	if !o.first {
		o.b = append(o.b, ',')
	}
	o.first = false
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

// Str writes a string field.
func (o *JSONObject) Str(k, v string) {
	o.key(k)
	o.b = appendJSONString(o.b, v)
}

// StrOmit writes a string field unless it is empty, as `json:",omitempty"` does.
func (o *JSONObject) StrOmit(k, v string) {
	if v != "" {
		o.Str(k, v)
	}
}

// Int writes an integer field.
func (o *JSONObject) Int(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

// Time writes a time as encoding/json does (RFC 3339 with nanoseconds).
func (o *JSONObject) Time(k string, t time.Time) error {
	o.key(k)
	raw, err := t.MarshalJSON()
	o.b = append(o.b, raw...)
	return err
}

// Money writes money as the API shows it.
func (o *JSONObject) Money(k string, m Money) error {
	o.key(k)
	raw, err := m.MarshalJSON()
	o.b = append(o.b, raw...)
	return err
}

// Raw writes v, already JSON, as the field's value.
func (o *JSONObject) Raw(k string, v []byte) {
	o.key(k)
	if len(v) == 0 {
		v = []byte("null")
	}
	o.b = append(o.b, v...)
}

// Strs writes a list of strings (null when vs is nil).
func (o *JSONObject) Strs(k string, vs []string) {
	o.key(k)
	if vs == nil {
		o.b = append(o.b, "null"...)
		return
	}
	o.b = append(o.b, '[')
	for i, v := range vs {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = appendJSONString(o.b, v)
	}
	o.b = append(o.b, ']')
}

// Bytes ends the object and returns it.
func (o *JSONObject) Bytes() []byte { return append(o.b, '}') }

// Bool writes a boolean field.
func (o *JSONObject) Bool(k string, v bool) {
	o.key(k)
	o.b = strconv.AppendBool(o.b, v)
}

// appendJSONString appends s as a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD, and U+2028 and U+2029 escaped,
// as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
